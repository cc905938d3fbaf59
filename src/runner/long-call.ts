/**
 * Slow XenAPI side effects (prepare_host_upgrade.py main, pool.enable_ha/disable_ha, pool_update.apply): minutes on a
 * real pool, far beyond a request timeout (reference top 1). They go through `Async.*` and the task is followed to its
 * end under a deadline. A call whose outcome is unknown is NEVER sent again blindly:
 *
 * - "issued" is written to the step's data BEFORE the call, and the task ref as soon as xapi returns it;
 * - on a re-run (timeout, lost connection, runner restart) the recorded task is followed again; when it is gone (a
 *   master restart loses tasks with no event, reference top 10) or was never returned, the task of the call is looked
 *   for among the pool's tasks (`taskCandidates`: same `Async.<method>` name_label, not created before it was issued);
 *   exactly one → followed; several → none is adopted at a guess (another client's call has the same name_label and
 *   the record does not say whose it is), the step fails with CALL_OUTCOME_UNKNOWN listing them unless the pool shows
 *   the effect; none → the live pool decides (`reconcile`): done → nothing to send; not done → sent again; unknown
 *   → the step fails with CALL_OUTCOME_UNKNOWN and says what to check. Only a Retry the operator chooses after that
 *   alert sends it again.
 */
import type { Ref } from '../domain/types';
import { isXenApiError, XenApiTaskLostError, XenApiTimeoutError } from '../xenapi';
import { parseXapiDatetime } from '../xenapi/records';
import { StepFailure, isPoolUnavailable, neverSent, xenErrorCode } from './errors';
import type { PoolClient, StepDeps } from './ports';
import type { StepContext } from './step';

export type Reconciled = 'done' | 'not-done' | 'unknown';

/** Durable record of one slow call, in the step's data under its key; null once it has ended. */
export interface IssuedCall {
  method: string;
  /** clock ms when it was (about to be) sent */
  issuedAt: number;
  task?: Ref;
  /** the operator was told the outcome is unknown: a Retry after that alert is their decision to send it again */
  unknownReported?: boolean;
}

export interface LongCall {
  /** key in the step's data */
  key: string;
  /** the wire name without `Async.` (e.g. pool.enable_ha) */
  method: string;
  params: unknown[];
  /** for the audit log and messages; never arguments (they may hold secrets) */
  target: string;
  /** clock ms the task is followed before the step fails; it is not sent again then (Retry follows it again) */
  budgetMs: number;
  /** what the live pool says when the task cannot: the call's effect is there, is not, or cannot be seen */
  reconcile(): Promise<Reconciled>;
  /** what the operator should check before choosing Retry when the outcome is unknown */
  checkBeforeRetry: string;
}

export type LongCallResult = { sent: true; result: unknown } | { sent: false; why: string };

const minutes = (ms: number): number => Math.round(ms / 60_000);

export async function longCall(deps: StepDeps, ctx: StepContext, c: LongCall): Promise<LongCallResult> {
  const client = deps.client;
  if (!client.waitForTask) throw new Error(`this client cannot follow tasks: ${c.method} is not sent`);
  const save = (v: IssuedCall | null) => ctx.saveData({ [c.key]: v });

  /** Follow a task to its end; its own failure ends the record (it says the call did not succeed). */
  const follow = async (task: Ref): Promise<unknown> => {
    try {
      // a replica taken over while it followed the task leaves it (and its destroy) to the new lease holder; an abort
      // stops following it at once (the record keeps the task: a re-run follows the same one)
      const result = await client.waitForTask!(task, { deadlineMs: deps.clock.now() + c.budgetMs, beforeDestroy: () => ctx.assertLive(), signal: ctx.signal });
      await save(null);
      return result;
    } catch (err) {
      if (err instanceof XenApiTimeoutError) {
        throw new StepFailure(
          `${c.method} on ${c.target} is still running after ${minutes(c.budgetMs)} min (task ${task}); it is not sent again. Retry follows the same task.`,
          { code: 'TASK_DEADLINE', observed: [`task ${task} still pending`] },
        );
      }
      if (xenErrorCode(err) !== undefined && !isPoolUnavailable(err)) await save(null);
      throw err;
    }
  };

  const prev = ctx.step.data?.[c.key] as IssuedCall | null | undefined;
  if (prev) {
    let verdict: Reconciled | undefined;
    let task = prev.task;
    /** tasks that could each be this call's when its ref was never returned: none of them is followed */
    let ambiguous: TaskCandidate[] = [];
    if (!task) {
      const candidates = await taskCandidates(deps.client, c.method, prev.issuedAt);
      if (candidates.length === 1) task = candidates[0]!.ref;
      else if (candidates.length > 1) ambiguous = candidates; // never a guess: a second main (reference top 1), or another client's answer taken for it
    }
    if (task) {
      try {
        if (!prev.task) await save({ ...prev, task });
        ctx.log.info({ task, method: c.method }, 'following the task of a call issued before');
        return { sent: true, result: await follow(task) };
      } catch (err) {
        if (!(err instanceof XenApiTaskLostError)) throw err;
        ctx.log.warn({ task, method: c.method }, 'the task of an issued call is gone: reading the pool');
      }
    }
    verdict = await c.reconcile();
    if (verdict === 'done') {
      await save(null);
      await ctx.audit(`${c.method} on ${c.target}: its effect is seen on the pool; not sent again`, { method: c.method });
      return { sent: false, why: 'its effect is already seen on the pool' };
    }
    const undecided = verdict === 'unknown' || ambiguous.length > 1;
    if (undecided && !prev.unknownReported) {
      await save({ ...prev, unknownReported: true });
      const issuedAt = `issued at ${new Date(prev.issuedAt).toISOString()}`;
      if (ambiguous.length > 1) {
        throw new StepFailure(
          `${c.method} on ${c.target} was sent but its answer was lost, and ${ambiguous.length} tasks of Async.${c.method} on the pool could each be it ` +
            `(other clients' calls have the same name); none is followed and it is not sent again automatically. ${c.checkBeforeRetry} Then Retry sends it again, or Abort.`,
          { code: 'CALL_OUTCOME_UNKNOWN', observed: [issuedAt, 'no task ref was returned', ...ambiguous.map(describeCandidate)] },
        );
      }
      throw new StepFailure(
        `${c.method} on ${c.target} was sent but its outcome is unknown (no answer, and its task is gone); it is not sent again automatically. ` +
          `${c.checkBeforeRetry} Then Retry sends it again, or Abort.`,
        { code: 'CALL_OUTCOME_UNKNOWN', observed: [issuedAt, prev.task ? `task ${prev.task} no longer exists` : 'no task ref was returned'] },
      );
    }
    await ctx.audit(
      undecided
        ? `${c.method} on ${c.target}: outcome unknown; sent again after the operator's Retry`
        : `${c.method} on ${c.target}: its task is gone and the pool shows no effect; sending it again`,
      { method: c.method },
    );
  }

  const issued: IssuedCall = { method: c.method, issuedAt: deps.clock.now() };
  await save(issued); // before the side effect: a crash after this point is reconciled, never blindly repeated
  let task: Ref;
  try {
    task = await ctx.act<Ref>(`Async.${c.method}`, c.params, c.target);
  } catch (err) {
    if (neverSent(err, `Async.${c.method}`)) await save(null); // refused before it was written: it did not run
    throw err;
  }
  await save({ ...issued, task });
  return { sent: true, result: await follow(task) };
}

/** tolerance between the runner's clock and the pool's for a task's `created` (clock ms) */
const CLOCK_SKEW_MS = 5 * 60_000;

type TaskRecord = { name_label?: string; status?: string; created?: unknown };

/** A task's `created`: a Date over XML-RPC, xapi's text form (20261203T05:30:00Z, which Date.parse cannot read) over JSON-RPC; NaN if unreadable. */
const createdAt = (t: TaskRecord): number =>
  t.created instanceof Date ? t.created.getTime() : typeof t.created === 'string' ? (parseXapiDatetime(t.created)?.getTime() ?? NaN) : NaN;

/** A task still running (pending, or being cancelled). */
export const isRunning = (t: Pick<TaskRecord, 'status'>): boolean => t.status === 'pending' || t.status === 'cancelling';

async function readTasks(client: Pick<PoolClient, 'call'>): Promise<Record<string, TaskRecord> | undefined> {
  try {
    return (await client.call<Record<string, TaskRecord>>('task.get_all_records')) ?? {};
  } catch (err) {
    if (isXenApiError(err) && !isPoolUnavailable(err)) return undefined;
    throw err;
  }
}

export interface TaskCandidate {
  ref: Ref;
  status: string;
  /** as the record gives it, for the operator */
  created: string;
}

export const describeCandidate = (t: TaskCandidate): string => `task ${t.ref}: ${t.status}, created ${t.created}`;

/**
 * The tasks that may be this call's (`Async.<method>`) when its ref was never returned (the reply was lost). A task
 * record (reference K6) tells only its name_label (the wire name: every client's call of the method has the same one,
 * whatever its host or arguments), its status and when it was created; none of its fields names the session or the
 * arguments. So the candidates are the tasks of that name_label that were not created before the call was issued
 * (within the clock skew): running ones (a `created` that cannot be read does not rule one out), and ended ones not
 * destroyed (this client destroys every task it followed). More than one: which is this call's cannot be told.
 */
export async function taskCandidates(client: Pick<PoolClient, 'call'>, method: string, issuedAt: number): Promise<TaskCandidate[]> {
  const tasks = await readTasks(client);
  if (!tasks) return [];
  const since = issuedAt - CLOCK_SKEW_MS;
  return Object.entries(tasks)
    .filter(([, t]) => t.name_label === `Async.${method}`)
    .filter(([, t]) => {
      const created = createdAt(t);
      return isRunning(t) ? !(created < since) : created >= since;
    })
    .map(([ref, t]) => ({
      ref,
      status: t.status ?? 'unknown',
      created: Number.isNaN(createdAt(t)) ? 'at an unreadable time' : new Date(createdAt(t)).toISOString(),
    }));
}
