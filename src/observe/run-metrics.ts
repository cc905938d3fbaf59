/**
 * Run and step metrics (issue 14) from what the bot already reports: a Notifier decorator counts each step that
 * ends (done, failed, skipped) with its duration, and a scrape-time collector reads runs by state and the gates
 * waiting from the store. Nothing here changes a run.
 */
import type { Clock } from '../clock';
import type { Notifier } from '../domain/ports';
import { TERMINAL_RUN_STATES, UNFINISHED_RUN_STATES, type Plan, type Run, type RunState, type StepRecord } from '../domain/types';
import type { Store } from '../store/types';
import { gatesWaiting, oldestGateAge, runsByState, stepDuration, stepsFinished } from './metrics';

const ENDED = new Set(['done', 'failed', 'skipped']);
const RUN_STATES: RunState[] = [...UNFINISHED_RUN_STATES, ...TERMINAL_RUN_STATES];

/** Wraps a notifier: every call is forwarded unchanged; step endings seen in the run are counted once. */
export function observingNotifier(inner: Notifier): Notifier {
  // per run: step id → the state+attempt last seen (a step retried and failing again is a second outcome)
  const seen = new Map<string, Map<string, string>>();
  const observe = (run: Run) => {
    let steps = seen.get(run.id);
    const first = !steps;
    if (!steps) seen.set(run.id, (steps = new Map()));
    for (const s of run.steps) {
      const key = `${s.state}#${s.attempts}`;
      const before = steps.get(s.id);
      steps.set(s.id, key);
      // the first sight of a run (a restart) records without counting: those steps ended in an earlier process
      if (first || before === key || !ENDED.has(s.state)) continue;
      countStep(s);
    }
    if (TERMINAL_RUN_STATES.includes(run.state)) seen.delete(run.id);
  };
  const wrap =
    <A extends unknown[]>(fn: (run: Run, ...rest: A) => Promise<void>) =>
    async (run: Run, ...rest: A) => {
      try {
        observe(run);
      } catch {
        /* metrics never stand in the way of a notification */
      }
      return fn(run, ...rest);
    };
  return {
    runStarted: wrap((r) => inner.runStarted(r)),
    runUpdated: wrap((r) => inner.runUpdated(r)),
    runEvent: wrap((r, text: string) => inner.runEvent(r, text)),
    approvalNeeded: wrap((r, step: StepRecord) => inner.approvalNeeded(r, step)),
    approvalDecided: wrap((r, step: StepRecord, d: 'approved' | 'held' | 'aborted', by: string) => inner.approvalDecided(r, step, d, by)),
    stepFailed: wrap((r, step: StepRecord, actions) => inner.stepFailed(r, step, actions)),
    runFinished: wrap((r) => inner.runFinished(r)),
    poolNotice: (pool, text) => inner.poolNotice(pool, text),
    ...(inner.hopPlanned ? { hopPlanned: (r: Run, plan: Plan) => inner.hopPlanned!(r, plan) } : {}),
  };
}

function countStep(s: StepRecord): void {
  stepsFinished.inc({ kind: s.kind, outcome: s.state });
  if (s.startedAt !== undefined && s.endedAt !== undefined && s.endedAt >= s.startedAt) {
    stepDuration.observe({ kind: s.kind, outcome: s.state }, (s.endedAt - s.startedAt) / 1000);
  }
}

/**
 * The scrape-time collector: runs by state, gates waiting and the oldest one's age. Every stored run is counted
 * from its head alone; only unfinished runs are read whole (their steps hold the gates), so a scrape does not
 * decode the plan of every run ever made (issue 13).
 */
export function runCollector(store: Pick<Store, 'listRunHeads' | 'listRuns'>, clock: Clock): () => Promise<void> {
  return async () => {
    const heads = await store.listRunHeads();
    for (const state of RUN_STATES) runsByState.set({ state }, heads.filter((r) => r.state === state).length);
    const unfinished = await store.listRuns({ states: UNFINISHED_RUN_STATES });
    const gates = unfinished.flatMap((r) => r.steps.filter((s) => s.state === 'awaiting-approval').map((s) => s.startedAt ?? r.updatedAt));
    gatesWaiting.set(gates.length);
    oldestGateAge.set(gates.length === 0 ? 0 : Math.max(0, (clock.now() - Math.min(...gates)) / 1000));
  };
}
