/** pool.* and pool_update.* messages. */
export {};
