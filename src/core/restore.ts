/**
 * core.restore: the Restore action an aborted run offers (issue 10.7). Authorised like the other recovery actions,
 * re-validated when clicked (the run is aborted, Restore is not done yet, no other run is active on the pool and none
 * has started since, there is still something to put back), done under the pool's lease (so it never races a run), audited, and followed by
 * a fresh audit of the live pool that says what remains changed.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../clock';
import type { CoreErrorCode, CoreResult, Notifier } from '../domain/ports';
import { UNFINISHED_RUN_STATES, type Actor, type AuditEvent, type RestoreRecord, type Run } from '../domain/types';
import { auditEvent, auditor, type AuditKind } from '../runner/audit';
import { fencedStore, isFenced, renewLeaseWhileHeld } from '../runner/fencing';
import { StaleAction } from '../runner/recovery';
import { endAuditOf } from '../runner/report';
import { restoredOutcome } from '../runner/end-audit';
import { executeRestore, restoreOffer } from '../runner/restore';
import { retryStoreCall, storeFailed, StoreUnavailable, type StoreCallScope } from '../runner/store-calls';
import { silentLogger, type Logger } from '../log';
import { fail, ok } from './result';
import type { PoolClient, RunStore } from '../runner/ports';

export interface RestoreEnv {
  store: RunStore;
  clock: Clock;
  ownerId: string;
  leaseTtlMs: number;
  /** the run, after authorisation of `decision` for this actor */
  forRun(runId: string, actor: Actor, decision: 'recover'): Promise<CoreResult<{ run: Run }>>;
  client(pool: string): PoolClient | undefined;
  audit(runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>): Promise<void>;
  refuse<T>(runId: string, actor: Actor, code: CoreErrorCode, error: string): Promise<CoreResult<T>>;
  notify(run: Run, what: keyof Notifier, fn: (n: Notifier) => Promise<void>): void;
  /** where the closing write's store retries are logged (none when absent) */
  logger?: Logger;
}


/** Restores in progress in this process (the pool lease keeps other processes out; this keeps a double click out). */
const inFlight = new Set<string>();

export async function restoreRun(env: RestoreEnv, runId: string, actor: Actor): Promise<CoreResult<Run>> {
  const got = await env.forRun(runId, actor, 'recover');
  if (!got.ok) return got;
  const { run } = got.value;
  const refuse = (code: CoreErrorCode, why: string) => env.refuse<Run>(runId, actor, code, `restore refused: ${why}`);
  if (run.state !== 'aborted') return refuse('conflict', `run ${run.id} is ${run.state}: only an aborted run offers Restore`);
  if (run.restore?.state === 'done') return refuse('conflict', `Restore of ${run.id} was already done by ${run.restore.by}`);
  const offer = restoreOffer(run);
  if (!offer) return refuse('conflict', `run ${run.id} left nothing Restore can put back (no host it disabled, no VM it stopped, HA untouched)`);
  const other = await otherRunRefusal(env, run);
  if (other) return refuse('conflict', other);
  const client = env.client(run.pool);
  if (!client) return refuse('invalid', `pool ${run.pool} is not configured in this process`);
  const key = `${env.ownerId}:${run.id}`;
  if (inFlight.has(key)) return refuse('conflict', `Restore of ${run.id} is already in progress`);
  inFlight.add(key);
  try {
    return await restoreLeased(env, run, actor, client, offer, refuse);
  } finally {
    inFlight.delete(key);
  }
}

/** Why another run of the pool forbids Restore of `run`: one is unfinished, or one started after it. */
async function otherRunRefusal(env: RestoreEnv, run: Run): Promise<string | undefined> {
  const runs = await env.store.listRuns({ pool: run.pool }); // newest first
  const active = runs.find((r) => r.id !== run.id && UNFINISHED_RUN_STATES.includes(r.state));
  if (active) return `run ${active.id} is active on ${run.pool}: Restore of an older run would act behind its back`;
  // a run started since read the pool as it found it and decided from there (a host it skipped stays disabled):
  // this run's records no longer describe the pool, and putting them back would undo that run's decisions
  const newer = runs.findIndex((r) => r.id === run.id) > 0 ? runs[0] : undefined;
  if (newer) {
    return `run ${newer.id} of ${run.pool} started after ${run.id} (it is ${newer.state}): Restore of ${run.id} would undo what that run found and decided; put back by hand what you still need`;
  }
  return undefined;
}

async function restoreLeased(
  env: RestoreEnv,
  run: Run,
  actor: Actor,
  client: PoolClient,
  offer: NonNullable<ReturnType<typeof restoreOffer>>,
  refuse: (code: CoreErrorCode, why: string) => Promise<CoreResult<Run>>,
): Promise<CoreResult<Run>> {
  const lease = await env.store.acquireLease(run.pool, env.ownerId, run.id, env.leaseTtlMs, env.clock.now());
  if (!lease.ok) return refuse('conflict', `pool ${run.pool} is being driven by ${lease.holder} (run ${lease.runId}): try again when it is idle`);
  // again under the lease: a run started between the check above and the lease (it holds no lease at its gate)
  const startedMeanwhile = await otherRunRefusal(env, run);
  if (startedMeanwhile) {
    await env.store.releaseLease(run.pool, env.ownerId, lease.token).catch(() => undefined);
    return refuse('conflict', startedMeanwhile);
  }
  // Kept for as long as Restore works (VMs resumed one by one and HA enabled take minutes on a real pool): an expired
  // lease would let a new run start and plan while Restore still changes the pool. Every write of Restore (its
  // record, its progress, each side effect's audit) is fenced by it, so a Restore whose lease passed to another
  // replica sends nothing more and never overwrites what the replica holding it wrote (closeRecord).
  const fence = lease.token === undefined ? undefined : { pool: run.pool, owner: env.ownerId, token: lease.token };
  const store = fence ? fencedStore(env.store, fence) : env.store;
  const renewal = keepLease(env, run.pool, lease.token);
  // what Restore puts back belongs to the pool the run started on: another pool answering at the address now is
  // refused (EFOREIGNPOOL) before anything is sent to it. The next plan of the pool lets the binding go (forgetPool)
  if (run.poolUuid) client.expectPool?.(run.poolUuid);
  try {
    const started: RestoreRecord = { by: actor.userId, at: env.clock.now(), state: 'running', did: run.restore?.did ?? [], left: [] };
    // persisted before the first side effect; a Restore still "running" after a crash is simply done again
    let current: Run;
    const leaseLost = async (): Promise<string> => {
      const now = await env.store.getLease(run.pool);
      return now ? `the pool's lease passed to ${now.owner} (run ${now.runId})` : "the pool's lease was released by another replica";
    };
    try {
      // who started it is audited in the same transaction
      const audit = () =>
        auditEvent(env.clock, run.id, 'recovery', actor.userId, `Restore of ${run.id} started by ${actor.userId} (${actor.source})`, {
          host: offer.host?.name,
          vms: offer.vms.map((v) => v.name),
          ha: !!offer.ha,
        });
      current = await store.updateRun(
        run.id,
        (r) => {
          if (r.state !== 'aborted' || r.restore?.state === 'done') throw new StaleAction(`run ${r.id} changed: Restore refused`);
          r.restore = started;
        },
        { audit },
      );
    } catch (err) {
      if (err instanceof StaleAction) return refuse('conflict', err.message);
      if (isFenced(err)) return refuse('conflict', `${await leaseLost().catch(() => "the pool's lease was taken over")} before Restore of ${run.id} began: nothing was done`);
      throw err;
    }
    // its calls are followed to their end (enable_ha: minutes on a real pool): the thread is told it has begun
    const planned = [offer.enableHost && offer.host ? `enable ${offer.host.name}` : '', offer.vms.length ? `start or resume ${offer.vms.map((v) => v.name).join(', ')}` : '', offer.ha ? 're-enable HA' : '']
      .filter(Boolean)
      .join(', ');
    const begun = current;
    env.notify(begun, 'runEvent', (n) => n.runEvent(begun, `Restore started by ${actor.userId}: it reads the pool, then will ${planned} where still needed (re-enabling HA can take minutes)`));
    /** the record as this Restore last wrote it: the close overwrites only that (closeRecord) */
    let written: RestoreRecord = started;
    const save = async (rec: RestoreRecord) => {
      current = await store.updateRun(run.id, (r) => {
        r.restore = rec;
      });
      written = structuredClone(rec);
    };
    const audit = fence ? auditor(store, env.clock) : env.audit;
    // never throws: a pool that cannot be read, a progress record not written or a lease lost ends it with what was done
    const result = await executeRestore({ client, audit, save, leaseLost, clock: env.clock, signal: renewal.lost }, current, offer, started);
    const endAudit = await endAuditOf({ client, clock: env.clock, store: env.store }, current);
    const words = `Restore by ${actor.userId}: ${result.did.join('; ') || 'nothing needed doing'}${result.left.length ? `; not put back: ${result.left.join('; ')}` : ''}. ${endAudit.changed.length ? `Still changed: ${endAudit.changed.join('; ')}` : 'Hosts, running VMs and HA are as they were before the run.'}`;
    const close = (r: Run) => {
      r.restore = result;
      r.endAudit = endAudit;
      // the abort's "still changed" would stay in the header and in status: the first line now says the pool after it
      const [first = '', ...report] = (r.outcome ?? '').split('\n');
      r.outcome = [restoredOutcome(first.split(';')[0]!.trim() || `${r.state}`, actor.userId, endAudit), ...report].join('\n');
    };
    let final: Run;
    try {
      final = await closeRecord(env, store, run.id, written, result, close, () => auditEvent(env.clock, run.id, 'recovery', actor.userId, words, { state: result.state }));
    } catch (err) {
      if (!(err instanceof StoreUnavailable)) throw err;
      // what was done on the pool is told all the same, never as recorded (the store may still show Restore as last written)
      const said = `${words} But the bot could not record it: ${err.said}. The store may still show Restore as this Restore last recorded it (${written.state}${written.did.length ? `: ${written.did.join('; ')}` : ''}), so the run's header and status may be stale. Once the store answers again, Restore again reads the pool first: what is already put back is found there, not sent again.`;
      const shown = current;
      env.notify(shown, 'runEvent', (n) => n.runEvent(shown, said));
      return fail('store-unavailable', `Restore of ${run.id} acted on the pool (${result.did.join('; ') || 'nothing needed doing'}${result.left.length ? `; not put back: ${result.left.join('; ')}` : ''}), but the bot could not record it: ${err.said}. The run's thread says what was done; its header and status may be stale until the store answers again.`);
    }
    env.notify(final, 'runEvent', (n) => n.runEvent(final, words));
    env.notify(final, 'runUpdated', (n) => n.runUpdated(final));
    return ok(final);
  } finally {
    await renewal.stop();
    // with its token: a lease another replica took over meanwhile is not this Restore's to release
    await env.store.releaseLease(run.pool, env.ownerId, lease.token).catch(() => undefined);
  }
}

/**
 * Restore's closing write (its record, the end audit, and its audit, in one transaction), fenced by the lease. Refused
 * because the lease passed to another replica: written all the same only while the run's Restore record is still the
 * one this Restore last wrote (a compare-and-set in the same transaction), so the stopped Restore's record says why it
 * stopped, and a record written since by the lease's holder (its own Restore of the run) is never overwritten: then
 * nothing is written, and the run as stored is returned.
 *
 * A store error (PostgreSQL restarting, an answer lost) is tried again as the run loop does (store-calls.ts): before
 * each new try the run is read back, and a run whose Restore record already is `result` shows the write committed
 * (its audit with it, same transaction): it is not written again, so the audit is never appended twice. A store that
 * stays unavailable: StoreUnavailable (the caller tells the thread and the click what was done, unrecorded).
 */
async function closeRecord(
  env: RestoreEnv,
  store: RestoreEnv['store'],
  runId: string,
  written: RestoreRecord,
  result: RestoreRecord,
  close: (r: Run) => void,
  audit: () => AuditEvent,
): Promise<Run> {
  // no abort signal: a lease lost meanwhile shows at the next fenced try (FencedError, thrown at once by the retry)
  const scope: StoreCallScope = { runId, store: env.store, signal: new AbortController().signal, clock: env.clock, logger: env.logger ?? silentLogger };
  const shown = (r: Run) => (isDeepStrictEqual(r.restore, result) ? r : undefined);
  const said = (err: unknown) => storeFailed(err);
  try {
    return await retryStoreCall(scope, () => store.updateRun(runId, close, { audit }), shown, said);
  } catch (err) {
    if (!isFenced(err)) throw err;
  }
  // the compare-and-set's refusal is no store error: it ends the retry at once (it is not tried again)
  const stale = 'stale' as const;
  const compareAndSet = async (): Promise<Run | typeof stale> => {
    try {
      return await env.store.updateRun(
        runId,
        (r) => {
          if (!isDeepStrictEqual(r.restore, written)) throw new StaleAction(`run ${runId}: its Restore record was written by another replica since`);
          close(r);
        },
        { audit },
      );
    } catch (err) {
      if (err instanceof StaleAction) return stale;
      throw err;
    }
  };
  const closed = await retryStoreCall(scope, compareAndSet, shown, said);
  if (closed !== stale) return closed;
  return (await retryStoreCall(scope, () => env.store.getRun(runId), undefined, (e) => storeFailed(e, 'read')))!;
}

/**
 * Renews the pool's lease while Restore works (runner/fencing.ts), until stopped or refused (another replica holds
 * it). A refused renewal aborts `lost`: Restore stops at once, even while it follows a task (only reads meanwhile, so
 * its fenced writes alone would tell it late), and sends nothing more.
 */
function keepLease(env: RestoreEnv, pool: string, token: number | undefined): { lost: AbortSignal; stop(): Promise<void> } {
  const stopped = new AbortController();
  const lost = new AbortController();
  const renewing = renewLeaseWhileHeld({ store: env.store, clock: env.clock, pool, owner: env.ownerId, ttlMs: env.leaseTtlMs, token, signal: stopped.signal }).then((ended) => {
    if (ended === 'lost') lost.abort();
  });
  return {
    lost: lost.signal,
    async stop() {
      stopped.abort();
      await renewing;
    },
  };
}
