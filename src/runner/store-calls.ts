/**
 * The run loop's calls to its store (engine.ts), and what the run's thread is told when the store stays unavailable.
 * A store error leaves a write's outcome unknown (PostgreSQL may have committed before the answer was lost), and a
 * step must not run (again) blindly: the call is tried again, never the step, a write only after reading whether the
 * store already shows it. A store that stays unavailable stops the loop (StoreUnavailable): the run stays as the store
 * shows it, and a restart, a Resume or a take-over goes on from there, reading the pool first. A step's own calls to
 * the store while it runs (its context's assertLive, saveData, audit) are tried again likewise: a store error is no
 * failure of the step on the pool; a store that stays unavailable stops the step (it sends nothing further) and the loop.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { AuditEvent, Run } from '../domain/types';
import { RunInterrupted } from './errors';
import { isFenced } from './fencing';
import type { RunStore } from './ports';

/** Clock ms between tries of a loop's write or read the store refused (about half a minute in all, within the lease). */
const WRITE_RETRY_MS = [1_000, 2_000, 4_000, 8_000, 15_000];

/**
 * The store stayed unavailable while the start or end of a step (or the baseline, or the run's end) was recorded, or
 * while the loop read the run (or, at its end, the pool's earlier runs): the run stays as the store last showed it,
 * and this loop stops; `said` is what the run's thread is told.
 */
export class StoreUnavailable extends Error {
  constructor(readonly said: string) {
    super(said);
    this.name = 'StoreUnavailable';
  }
}

export const storeFailed = (err: unknown, call: 'write' | 'read' = 'write') =>
  `the store ${call} failed ${WRITE_RETRY_MS.length + 1} times (last: ${(err as Error)?.message ?? String(err)})`;
const TAKEN_UP_AGAIN = 'Once the store answers again, a restart of the bot or a Resume of the run takes it up (`xsupgrade serve` does so by itself once this runner\'s pool lease lapses)';

/**
 * What the run's thread is told when the store stayed unavailable at the end of `stepId` (the run's end when
 * absent): `ended` is what the bot observed, `recorded` whether the state itself was written (only its audit missing).
 */
export function endNotRecordedText(ended: string, stepId: string | undefined, recorded: boolean, err: unknown): string {
  const cause = storeFailed(err);
  const again = TAKEN_UP_AGAIN;
  if (recorded) return `${ended}. That is recorded, but its audit record could not be written: ${cause}. This runner stops driving the run here. ${again}, from where the store shows it.`;
  const where = stepId ? `${stepId} as running` : 'the run as running';
  const rerun = stepId ? `${stepId} runs again and reads the pool first, so what it already did is found there, not sent blindly again` : "the run's end is checked against the pool again";
  return `${ended}, but the bot could not record it: ${cause}. This runner stops driving the run here; the store still shows ${where}${stepId ? ', so no recovery action is offered yet' : ''}. ${again}: ${rerun}.`;
}

/**
 * What the run's thread is told when the store stayed unavailable before anything was sent to the pool: `what` could
 * not be recorded (`recorded`: it was, only its audit record is missing); `before` says what was not sent yet.
 */
export function notStartedText(what: string, before: string, recorded: boolean, err: unknown): string {
  const written = recorded ? `${what} was recorded, but its audit record could not be written` : `The bot could not record ${what}`;
  return `${written}: ${storeFailed(err)}. ${before}. This runner stops driving the run here. ${TAKEN_UP_AGAIN}, from where the store shows it; the pool is read again first.`;
}

/**
 * What the run's thread is told when the store stayed unavailable for a read of the run loop (`when`): `sent` says
 * what was (or may have been) sent to the pool; `rerun` names the step the store still shows as running mid-way.
 */
export function readFailedText(when: string, sent: string, rerun: string | undefined, err: unknown): string {
  const next = rerun ? `: ${rerun} runs again and reads the pool first, so what it already did is found there, not sent blindly again` : ', from where the store shows it; the pool is read again first';
  return `The bot could not read the run from the store ${when}: ${storeFailed(err, 'read')}. ${sent}. This runner stops driving the run here. ${TAKEN_UP_AGAIN}${next}.`;
}

/**
 * What the run's thread is told when the store stayed unavailable for a call `stepId` made while it ran: the read of
 * the run and its pool lease before its next action on the pool (assertLive), or the write of what it found or did
 * (saveData, an audit record). The step stopped there, sending nothing further; what it sent before may have been done.
 */
export function midStepText(stepId: string, call: 'read' | 'write', err: unknown): string {
  const what = call === 'read' ? `read the run and its pool lease from the store while ${stepId} ran` : `record in the store what ${stepId} found or did on the pool`;
  return `The bot could not ${what}: ${storeFailed(err, call)}. ${stepId} stopped there and sends nothing further, but it may already have sent actions to the pool. This runner stops driving the run here. ${TAKEN_UP_AGAIN}, from where the store shows it: the pool is read first, so what was already done is found there, not sent blindly again.`;
}

/** What the thread is told when, every step done, the end audit's store read stayed unavailable. */
export const endAuditUnreadText = (err: unknown): string =>
  `Every step of the run is done, but the bot could not read the store to finish checking the pool against its state before the run: ${storeFailed(err, 'read')}. The store does not show the run as done yet. This runner stops driving the run here. ${TAKEN_UP_AGAIN}: the run's end is checked against the pool again.`;

/** The loop a call belongs to: its run, store, abort signal (shutdown, abort), clock and log. */
export interface StoreCallScope {
  runId: string;
  store: Pick<RunStore, 'getRun'>;
  signal: AbortSignal;
  clock: Clock;
  logger: Logger;
}

/**
 * How a write's retry finds that the store already shows it: a check of the run as the store shows it, or (`read`)
 * a read of its own (an audit record: auditShown). `undefined`: not shown, the write is made again.
 */
export type Recorded<T> = ((run: Run) => T | undefined) | { read: () => Promise<T | undefined> };

/**
 * The read-back of an audit record: an append whose answer was lost may have been committed, so before it is tried
 * again the run's audit is read for it — same kind, actor and message, the detail given (a writer may add to it),
 * stamped at or after `since`, taken before the first try (the auditor stamps each try with the clock's now). The run
 * loop writes its records one after the other, so a record like it in that time is the one that try wrote.
 */
function auditShown(store: Pick<RunStore, 'listAudit'>, runId: string, since: number, e: Pick<AuditEvent, 'kind' | 'actor' | 'message' | 'detail'>): Recorded<true> {
  const same = (x: AuditEvent) =>
    x.at >= since && x.kind === e.kind && x.actor === e.actor && x.message === e.message && Object.entries(e.detail ?? {}).every(([k, v]) => isDeepStrictEqual(x.detail?.[k], v));
  return { read: async () => ((await store.listAudit(runId)).some(same) ? true : undefined) };
}

/** The auditor's signature (audit.ts `auditor`). */
type AuditFn = (runId: string, kind: AuditEvent['kind'], actor: string, message: string, detail?: Record<string, unknown>) => Promise<void>;

/**
 * A runner's audit record as a write for retryStoreCall: `append` writes it, `recorded` its read-back (auditShown,
 * from now: before the first try), so an append committed before its answer was lost is never appended again.
 */
export function runnerAudit(
  audit: AuditFn,
  store: Pick<RunStore, 'listAudit'>,
  clock: Clock,
  runId: string,
  kind: AuditEvent['kind'],
  message: string,
  detail?: Record<string, unknown>,
): { append: () => Promise<true>; recorded: Recorded<true> } {
  const since = clock.now(); // the auditor stamps each try with the clock's now: at or after this
  return {
    append: () => audit(runId, kind, 'runner', message, detail).then(() => true as const),
    recorded: auditShown(store, runId, since, { kind, actor: 'runner', message, detail }),
  };
}

/**
 * `call` (a write at the start or end of a step, of the baseline or of the run's end, of a step's data or audit, or
 * a read), tried again after WRITE_RETRY_MS while the store refuses it; before each new try of a write, `recorded`
 * reads whether the store already shows it (then that is the result). A write's outcome stays unknown until such a
 * read-back is answered: a read-back the store refuses too is tried again after the next wait, and the write is made
 * again only once a read-back shows it absent — never blindly (it may have been committed before its answer was lost).
 * Every wait, after a refused write or a refused read-back, counts in the one budget of WRITE_RETRY_MS. Fenced: thrown
 * at once (the loop stops as ever). Still refused when the budget is spent: StoreUnavailable with `said(err)` (`err`:
 * the last refusal, of the call or of its read-back); the loop aborted meanwhile: RunInterrupted.
 */
export async function retryStoreCall<T>(scope: StoreCallScope, call: () => Promise<T>, recorded: Recorded<T> | undefined, said: (err: unknown) => string): Promise<T> {
  let waits = 0;
  for (;;) {
    let refused: unknown;
    try {
      return await call();
    } catch (err) {
      if (isFenced(err)) throw err;
      refused = err;
    }
    // wait, then (a write) read back whether the store shows it, until a read-back is answered or the budget is spent
    for (;;) {
      const delay = WRITE_RETRY_MS[waits];
      if (delay === undefined) throw new StoreUnavailable(said(refused));
      waits++;
      scope.logger.warn({ runId: scope.runId, err: (refused as Error)?.message ?? String(refused), tries: waits }, 'the store did not answer a call of the run loop: trying it again');
      await scope.clock.sleep(delay, scope.signal).catch(() => {
        throw new RunInterrupted('stopped while a call of the run loop waited for the store; it resumes from the pool state');
      });
      if (!recorded) break; // a read: simply made again
      let already: T | undefined;
      try {
        already =
          typeof recorded === 'function'
            ? await scope.store.getRun(scope.runId).then((now) => (now ? recorded(now) : undefined))
            : await recorded.read();
      } catch (err) {
        if (isFenced(err)) throw err;
        refused = err; // the write's outcome is still unknown: not made again, read back after the next wait
        continue;
      }
      if (already !== undefined) return already;
      break; // the store answered and does not show it: the write is made again
    }
  }
}
