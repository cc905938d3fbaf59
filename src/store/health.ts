import type { Store } from './types';

/**
 * Operability of the store (issue 16), for /readyz and /metrics (issue 14 wires them into its HTTP endpoints):
 * whether the database answers, and which replica drives which pool.
 */

export interface StoreReadiness {
  ok: boolean;
  /** "postgres postgres://bot:***@db/xsupgrade answered" or why not (never a password) */
  detail: string;
}

/** One round trip, bounded: a database that hangs is reported not ready instead of hanging the probe. */
export async function storeReadiness(store: Store, timeoutMs = 2000): Promise<StoreReadiness> {
  const { backend, location } = store.describe();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([store.ping(), timeout]);
    return { ok: true, detail: `${backend} ${location} answered` };
  } catch (e) {
    const message = (e as Error).message.split(location).join('(store)');
    return { ok: false, detail: `${backend} ${location}: ${message}` };
  } finally {
    clearTimeout(timer);
  }
}

export interface LeaseHolder {
  pool: string;
  replica: string;
  runId: string;
  token: number;
  /** false: expired, not renewed (its replica stopped; another takes over) */
  live: boolean;
}

/** Which replica holds which pool's lease (the /metrics gauge xsupgrade_pool_lease{pool,replica}). */
export async function leaseHolders(store: Store, now: number): Promise<LeaseHolder[]> {
  return (await store.listLeases()).map((l) => ({ pool: l.pool, replica: l.owner, runId: l.runId, token: l.token, live: now < l.expiresAt }));
}
