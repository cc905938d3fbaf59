/**
 * Fencing (issue 16): the writes of a run loop carry its lease's token; the store refuses them (FencedError) once
 * another replica took the lease over, in the same transaction as the write.
 */
import type { Clock } from '../clock';
import type { Fence, RunStore } from './ports';

/** A write refused because the pool's lease changed hands (the store's FencedError). */
export function isFenced(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'FencedError';
}

/** The store with every run write and audit append checked against `fence` in the same transaction. */
export function fencedStore(store: RunStore, fence: Fence): RunStore {
  return {
    nextRunId: (pool, now) => store.nextRunId(pool, now),
    createRun: (run, opts) => store.createRun(run, opts),
    getRun: (id) => store.getRun(id),
    updateRun: (id, mutate, opts) => store.updateRun(id, mutate, { ...opts, fence }),
    listRuns: (filter) => store.listRuns(filter),
    appendAudit: (e) => store.appendAudit(e, { fence }),
    listAudit: (runId) => store.listAudit(runId),
    savePlan: (pool, plan) => store.savePlan(pool, plan),
    getLatestPlan: (pool) => store.getLatestPlan(pool),
    acquireLease: (pool, owner, runId, ttlMs, now) => store.acquireLease(pool, owner, runId, ttlMs, now),
    renewLease: (pool, owner, ttlMs, now, token) => store.renewLease(pool, owner, ttlMs, now, token),
    releaseLease: (pool, owner, token) => store.releaseLease(pool, owner, token),
    getLease: (pool) => store.getLease(pool),
  };
}

/**
 * Renews a pool's lease every third of its life until `signal` aborts ('stopped'), or until the store refuses it:
 * another replica holds it ('lost'). A renewal that fails (store unreachable) is tried again at the next turn;
 * `afterRenewal` runs after each renewal, its errors treated like a failed renewal.
 */
export async function renewLeaseWhileHeld(o: {
  store: Pick<RunStore, 'renewLease'>;
  clock: Clock;
  pool: string;
  owner: string;
  ttlMs: number;
  token?: number;
  signal: AbortSignal;
  onError?: (err: unknown) => void;
  afterRenewal?: () => Promise<void>;
}): Promise<'lost' | 'stopped'> {
  while (!o.signal.aborted) {
    try {
      await o.clock.sleep(o.ttlMs / 3, o.signal);
    } catch {
      return 'stopped';
    }
    try {
      if (!(await o.store.renewLease(o.pool, o.owner, o.ttlMs, o.clock.now(), o.token))) return 'lost';
      await o.afterRenewal?.();
    } catch (err) {
      o.onError?.(err);
    }
  }
  return 'stopped';
}
