/** host.* messages. */
export {};
