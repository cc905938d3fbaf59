/**
 * Fencing (issue 16): the writes of a run loop carry its lease's token; the store refuses them (FencedError) once
 * another replica took the lease over, in the same transaction as the write.
 */
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
