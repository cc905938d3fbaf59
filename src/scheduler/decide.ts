import { TERMINAL_RUN_STATES, UNFINISHED_RUN_STATES, type Run, type RunState } from '../domain/types';
import type { Schedule } from '../store/types';
import { nextOccurrence, occurrencesBetween, parseCron } from './cron';
import { nextTimeOfDay, windowEnd } from './window';

/**
 * The scheduler's decisions as a pure function of (schedules, runs, now, what was already said) → actions.
 * node-cron only makes tick() happen; everything here is testable with plain numbers.
 */

export interface SchedulerSettings {
  /** a window start noticed this late (tick lag) still opens; later it is reported as missed */
  missedGraceMs: number;
  approvalReminderAfterMs: number;
  approvalReminderEveryMs: number;
  /** paused/failed run, or mixed versions without a run, for this long → pool notice */
  mixedModeAfterMs: number;
  mixedModeEveryMs: number;
  /** a step is overdue after max(expected × factor, expected + minExtra) */
  overdueFactor: number;
  overdueMinExtraMs: number;
  overdueEveryMs: number;
  /** optional daily digest at a wall-clock time in each pool's zone */
  digest?: { hour: number; minute: number; pools?: string[] };
}

export const DEFAULT_SETTINGS: SchedulerSettings = {
  missedGraceMs: 5 * 60_000,
  approvalReminderAfterMs: 30 * 60_000,
  approvalReminderEveryMs: 60 * 60_000,
  mixedModeAfterMs: 12 * 3_600_000,
  mixedModeEveryMs: 12 * 3_600_000,
  overdueFactor: 3,
  overdueMinExtraMs: 15 * 60_000,
  overdueEveryMs: 60 * 60_000,
};

export interface PoolView {
  name: string;
  timezone: string;
}

export interface DecideInput {
  now: number;
  /** the previous tick's now (digest times are caught in (previousTick, now]) */
  previousTick?: number;
  schedules: Schedule[];
  /** runs referenced by schedules (runId / current.runId, and windowRuns) */
  runsById: Record<string, Run | undefined>;
  /**
   * per schedule id: the unfinished run its open window started (the run's start audit names the window) when the
   * schedule's `current.runId` was not written after the start (a failed write, or a crash right after core.start)
   */
  windowRuns?: Record<string, string | undefined>;
  /** per pool: its active run, else its latest */
  poolRuns: Record<string, Run | undefined>;
  /** per pool: since when its latest plan shows mixed versions while no run is active */
  mixedSince: Record<string, number | undefined>;
  /** per pool: whether the live pool showed mixed versions when read this tick (undefined: not read or no answer) */
  liveMixed?: Record<string, { mixed: boolean } | undefined>;
  pools: PoolView[];
  /** notice key → when it was last sent */
  sent: Record<string, number | undefined>;
  settings: SchedulerSettings;
}

/** How a window opening meets the schedule's run. */
export type WindowOpening = 'start' | 'resume' | 'already-running' | 'finished' | 'failed' | 'stopped' | 'pool-busy';

export type SchedulerAction =
  | { kind: 'window-missed'; schedule: Schedule; missed: number[]; patch: Partial<Schedule> }
  | { kind: 'window-open'; schedule: Schedule; startAt: number; endAt?: number; opening: WindowOpening; run?: Run; patch: Partial<Schedule> }
  | { kind: 'window-close'; schedule: Schedule; run?: Run; hold: boolean; patch: Partial<Schedule> }
  | { kind: 'schedule-finished'; schedule: Schedule; run: Run; patch: Partial<Schedule> }
  | { kind: 'approval-reminder'; run: Run; stepId: string; waitingSince: number; key: string }
  | { kind: 'mixed-mode'; pool: string; run?: Run; since: number; key: string }
  | { kind: 'step-overdue'; run: Run; stepId: string; since: number; expectedSeconds: number; key: string }
  | { kind: 'digest'; pool: string; at: number; key: string };

const ACTIVE: RunState[] = ['running', 'awaiting-approval'];

function openingFor(run: Run | undefined): WindowOpening {
  if (!run) return 'start';
  switch (run.state) {
    case 'paused':
      return 'resume';
    case 'running':
    case 'awaiting-approval':
      return 'already-running';
    case 'done':
      return 'finished';
    case 'failed':
      return 'failed';
    default:
      return 'stopped';
  }
}

function scheduleRun(s: Schedule, input: DecideInput): Run | undefined {
  const id = s.current?.runId ?? input.windowRuns?.[s.id] ?? s.runId;
  return id ? input.runsById[id] : undefined;
}

/**
 * A window with no run of its own opens on the pool's unfinished run when a window paused it (e.g. the previous
 * night's one-off window ended mid-upgrade): it resumes that run, as a recurring window resumes its own. Any other
 * unfinished run is not the window's (a human paused or drives it): the window tries to start, and says why not.
 */
function continuedRun(s: Schedule, input: DecideInput): Run | undefined {
  const run = input.poolRuns[s.pool];
  return run?.state === 'paused' && run.pausedBy?.source === 'scheduler' ? run : undefined;
}

/** the run id the schedule keeps (a recurring window resumes it at its next opening), when not kept already */
const recordRun = (s: Schedule, run: Run | undefined): Partial<Schedule> => (run && s.runId !== run.id ? { runId: run.id } : {});

function decideSchedule(s: Schedule, input: DecideInput): SchedulerAction[] {
  const { now, settings } = input;
  const run = scheduleRun(s, input);

  if (s.state === 'active' && s.current) {
    if (s.current.endAt !== undefined && now >= s.current.endAt) {
      const more = s.window.kind === 'cron' && s.nextStartAt !== undefined;
      return [
        {
          kind: 'window-close',
          schedule: s,
          run,
          hold: !!run && ACTIVE.includes(run.state),
          patch: { state: more ? 'scheduled' : 'done', current: undefined, ...recordRun(s, run) },
        },
      ];
    }
    if (run && TERMINAL_RUN_STATES.includes(run.state)) {
      return [{ kind: 'schedule-finished', schedule: s, run, patch: { state: 'done', current: undefined, nextStartAt: undefined, ...recordRun(s, run) } }];
    }
  }
  if (!(s.state === 'scheduled' || s.state === 'active') || s.nextStartAt === undefined || s.nextStartAt > now) return [];

  // a window start is due (or overdue): which occurrences passed, and is the latest still on time?
  let occurrences: number[];
  let next: (from: number) => number | undefined;
  if (s.window.kind === 'once') {
    occurrences = [s.window.startAt];
    next = () => undefined;
  } else {
    const cron = parseCron(s.window.cron);
    if (!cron.ok) return [];
    occurrences = [s.nextStartAt, ...occurrencesBetween(cron.spec, s.timezone, s.nextStartAt, now, 500)];
    const spec = cron.spec;
    next = (from) => nextOccurrence(spec, s.timezone, from);
  }
  const latest = occurrences[occurrences.length - 1];
  const end = windowEnd(s.window, s.timezone, latest);
  const onTime = now - latest <= settings.missedGraceMs && (end === undefined || now < end);
  const missed = onTime ? occurrences.slice(0, -1) : occurrences;
  const actions: SchedulerAction[] = [];

  if (missed.length > 0) {
    const nextStart = onTime ? undefined : next(now);
    actions.push({
      kind: 'window-missed',
      schedule: s,
      missed,
      patch: onTime
        ? {}
        : { state: s.window.kind === 'once' ? 'missed' : 'scheduled', nextStartAt: nextStart, current: undefined },
    });
  }
  if (onTime) {
    const openRun = run ?? continuedRun(s, input);
    // the pool's unfinished run that is not the window's (a person paused or drives it, or it failed): R3.1 allows no
    // second run, and a window resumes only what a window paused; said as such, not as a changed plan
    const busy = !openRun && input.poolRuns[s.pool] && UNFINISHED_RUN_STATES.includes(input.poolRuns[s.pool]!.state) ? input.poolRuns[s.pool] : undefined;
    const opening: WindowOpening = busy ? 'pool-busy' : openingFor(openRun);
    const nextStart = next(Math.max(now, end ?? latest));
    const keepsRunning = opening === 'start' || opening === 'resume' || opening === 'already-running';
    let patch: Partial<Schedule>;
    if (keepsRunning) {
      patch = { state: 'active', current: { startAt: latest, endAt: end, runId: openRun && opening !== 'start' ? openRun.id : undefined }, nextStartAt: nextStart, ...recordRun(s, openRun) };
    } else if (opening === 'failed' && s.window.kind === 'cron') patch = { state: 'scheduled', current: undefined, nextStartAt: nextStart };
    else if (opening === 'pool-busy') {
      const note = `run ${busy!.id} of ${s.pool} was ${busy!.state} when the window opened`;
      patch = s.window.kind === 'cron' ? { state: 'scheduled', current: undefined, nextStartAt: nextStart, note } : { state: 'blocked', current: undefined, nextStartAt: undefined, note };
    } else patch = { state: opening === 'failed' ? 'failed' : 'done', current: undefined, nextStartAt: undefined };
    actions.push({ kind: 'window-open', schedule: s, startAt: latest, endAt: end, opening, run: openRun ?? busy, patch });
  }
  return actions;
}

function due(input: DecideInput, key: string, everyMs: number): boolean {
  const last = input.sent[key];
  return last === undefined || input.now - last >= everyMs;
}

function decidePool(pool: PoolView, input: DecideInput): SchedulerAction[] {
  const { now, settings } = input;
  const out: SchedulerAction[] = [];
  const run = input.poolRuns[pool.name];

  if (run?.state === 'awaiting-approval') {
    for (const step of run.steps.filter((x) => x.state === 'awaiting-approval')) {
      const since = step.startedAt ?? run.updatedAt;
      const key = `approval:${run.id}:${step.id}:${since}`;
      if (now - since >= settings.approvalReminderAfterMs && due(input, key, settings.approvalReminderEveryMs)) {
        out.push({ kind: 'approval-reminder', run, stepId: step.id, waitingSince: since, key });
      }
    }
  }

  if (run && (run.state === 'paused' || run.state === 'failed')) {
    const key = `mixed:${pool.name}:${run.id}:${run.state}`;
    // a stuck run is not "mixed mode" when the live pool shows every host on one version (issue 11.5)
    const notMixed = input.liveMixed?.[pool.name]?.mixed === false;
    if (!notMixed && now - run.updatedAt >= settings.mixedModeAfterMs && due(input, key, settings.mixedModeEveryMs)) {
      out.push({ kind: 'mixed-mode', pool: pool.name, run, since: run.updatedAt, key });
    }
  } else if (!run || TERMINAL_RUN_STATES.includes(run.state)) {
    const since = input.mixedSince[pool.name];
    const key = `mixed:${pool.name}:versions`;
    if (since !== undefined && now - since >= settings.mixedModeAfterMs && due(input, key, settings.mixedModeEveryMs)) {
      out.push({ kind: 'mixed-mode', pool: pool.name, run, since, key });
    }
  }

  if (run?.state === 'running') {
    for (const step of run.steps.filter((x) => x.state === 'running' && x.startedAt !== undefined)) {
      const since = step.startedAt as number;
      const expectedSeconds = run.plan.steps.find((p) => p.id === step.id)?.expectedSeconds ?? 0;
      const expectedMs = expectedSeconds * 1000;
      const limit = Math.max(expectedMs * settings.overdueFactor, expectedMs + settings.overdueMinExtraMs);
      const key = `overdue:${run.id}:${step.id}:${since}`;
      if (now - since > limit && due(input, key, settings.overdueEveryMs)) {
        out.push({ kind: 'step-overdue', run, stepId: step.id, since, expectedSeconds, key });
      }
    }
  }

  const digest = settings.digest;
  if (digest && input.previousTick !== undefined && (!digest.pools || digest.pools.includes(pool.name))) {
    const at = nextTimeOfDay(digest, pool.timezone, input.previousTick);
    const key = `digest:${pool.name}:${at}`;
    if (at <= now && input.sent[key] === undefined) out.push({ kind: 'digest', pool: pool.name, at, key });
  }
  return out;
}

export function decide(input: DecideInput): SchedulerAction[] {
  return [...input.schedules.flatMap((s) => decideSchedule(s, input)), ...input.pools.flatMap((p) => decidePool(p, input))];
}
