import { createTask, type ScheduledTask } from 'node-cron';
import { TERMINAL_RUN_STATES, UNFINISHED_RUN_STATES, type Actor, type Plan, type Run } from '../domain/types';
import type { Core, CoreResult, Notifier } from '../domain/ports';
import type { PoolConfig } from '../config/pools';
import type { Clock } from '../clock';
import { silentLogger, type Logger } from '../log';
import type { Schedule, Store } from '../store/types';
import { DEFAULT_SETTINGS, decide, type SchedulerAction, type SchedulerSettings } from './decide';
import { planDifferences, replanOptions } from './plan-diff';
import { formatDuration, formatInZone, isValidTimeZone } from './timezone';
import { parseWindow } from './window';
import { authorize, decisionGroups } from '../core/authorize';

export { decide, DEFAULT_SETTINGS } from './decide';
export type { DecideInput, SchedulerAction, SchedulerSettings, WindowOpening, PoolView } from './decide';
export { planDiffers, planDifferences, replanOptions } from './plan-diff';
export { parseWindow, windowEnd, nextTimeOfDay } from './window';
export { parseCron, occurrencesBetween, nextOccurrence } from './cron';
export { wallToUtc, zonedParts, formatInZone, isValidTimeZone } from './timezone';
export type { Schedule } from '../store/types';

/**
 * Maintenance windows, approval reminders and watchdogs (issue 6). Acts only through Core (plan/start/resume/hold)
 * and the Notifier (poolNotice/runEvent); reads runs through Core and keeps schedules in the store.
 *
 * One node-cron task (noOverlap) calls tick(clock.now()); the decisions are decide()'s, computed from instants,
 * not from node-cron firing at a wall-clock time: that is what keeps DST transitions from double-running or
 * skipping a window and lets a window missed while the bot was down be reported instead of run late.
 *
 * Several replicas tick on one store (issue 16): a window's opening, closing or miss is claimed with a
 * compare-and-set on the schedule (only the replica that saw it first acts), and each reminder is claimed in the
 * store (claimNotice) before it is sent, so it goes out once across replicas and across a failover.
 */

export interface SchedulerDeps {
  core: Core;
  store: Store;
  notifier: Notifier;
  pools: PoolConfig[];
  clock: Clock;
  logger?: Logger;
  settings?: Partial<SchedulerSettings>;
  /** node-cron expression for tick() in real time (default every 10 s; ticks read the injected clock) */
  tickCron?: string;
  /** overrides clock.now() for tick() when given */
  now?: () => number;
  /** follow-ups ticked after the scheduler's own decisions, at the same instant (the R5.1 Tools checklist, src/tools) */
  followUps?: Array<{ tick(now: number): Promise<unknown> }>;
  /**
   * The pool's decision groups the window's creator belongs to now (serve: Slack's usergroups.users.list), so that a
   * window stops acting once its creator lost the right to schedule (core/authorize.ts). Without it (the CLI, tests)
   * the creator's rights are not looked at again.
   */
  groupsOf?: (userId: string, groups: string[]) => Promise<string[]>;
}

export interface Scheduler {
  schedule(pool: string, whenText: string, untilText: string | undefined, actor: Actor): Promise<CoreResult<Schedule>>;
  list(pool?: string): Promise<Schedule[]>;
  unschedule(id: string, actor: Actor): Promise<CoreResult<Schedule>>;
  /** starts the node-cron task and runs a first tick (reports windows missed while down) */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** one decision round at `now` (default: the clock); returns what it did */
  tick(now?: number): Promise<SchedulerAction[]>;
}

const LIVE_SCHEDULE = ['scheduled', 'active'];

/** the schedule moved on since it was observed: another replica handled this window */
class ScheduleMoved extends Error {}

function approverMentions(pool: PoolConfig | undefined): string {
  if (!pool) return 'approvers';
  const users = pool.slack.approvers.users.map((u) => `<@${u}>`);
  const groups = pool.slack.approvers.groups.map((g) => `<!subteam^${g}>`);
  return [...users, ...groups].join(' ') || 'approvers';
}

function blockerSummary(plan: Plan): string {
  return plan.prechecks
    .filter((c) => c.severity === 'blocker')
    .map((c) => `${c.rule} ${c.message}`)
    .join('; ');
}

/** A finished run whose end audit found some hosts behind the target and some on it. */
function endedBehind(run: Run | undefined): boolean {
  const a = run?.endAudit;
  return !!a && a.behind.length > 0 && a.behind.length < run!.plan.hosts.length;
}

function hostsMixed(plan: Plan | undefined): boolean {
  if (!plan || plan.hosts.length < 2) return false;
  const done = plan.hosts.filter((h) => h.alreadyDone).length;
  return done > 0 && done < plan.hosts.length;
}

/** The pool an action is about, and what it acts on (a window, a run, the pool). */
function subjectOf(a: SchedulerAction): { pool: string; subject: string } {
  switch (a.kind) {
    case 'window-missed':
    case 'window-open':
    case 'window-close':
    case 'schedule-finished':
      return { pool: a.schedule.pool, subject: a.schedule.id };
    case 'approval-reminder':
    case 'step-overdue':
      return { pool: a.run.pool, subject: a.run.id };
    case 'mixed-mode':
    case 'digest':
      return { pool: a.pool, subject: a.pool };
  }
}

/** An action that keeps failing is said in its pool's channel at most this often. */
const FAILURE_NOTICE_EVERY_MS = 3_600_000;

export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { core, store, notifier, clock } = deps;
  const logger = deps.logger ?? silentLogger;
  // a scaled clock (demo, rehearsal) moves many clock-minutes between two real 10 s ticks: widen the grace to match
  const settings: SchedulerSettings = {
    ...DEFAULT_SETTINGS,
    missedGraceMs: Math.max(DEFAULT_SETTINGS.missedGraceMs, 30_000 * clock.scale),
    ...deps.settings,
  };
  const poolsByName = new Map(deps.pools.map((p) => [p.name, p]));
  const nowFn = deps.now ?? (() => clock.now());
  const sent: Record<string, number | undefined> = {};
  const mixedSince: Record<string, number | undefined> = {};
  /** per pool: the live pool's versions when it was last read for the mixed-mode watchdog (issue 11.5) */
  const liveMixed: Record<string, { mixed: boolean; detail: string } | undefined> = {};
  let previousTick: number | undefined;
  /** schedules whose unrecorded run was found by its start audit (said once in the log) */
  const foundByAudit = new Set<string>();
  let task: ScheduledTask | undefined;
  let ticking: Promise<unknown> = Promise.resolve();

  const tzOf = (s: Schedule) => s.timezone;
  const at = (t: number, tz: string) => formatInZone(t, tz);
  /** a window acts on behalf of the approver who created it, and the audit says so (pausing at its end needs no more) */
  const windowActor = (s: Schedule): Actor => ({ userId: s.createdBy, source: 'scheduler', window: s.id });
  /**
   * To start or resume, with the creator's user groups as they are now: Core checks they may still schedule the pool.
   * Looked up only where there is a resolver (serve) and not for a window created from the CLI; a lookup that fails
   * gives no group, so a group-only creator fails closed.
   */
  const openingActor = async (s: Schedule): Promise<Actor> => {
    const pool = poolsByName.get(s.pool);
    if (!deps.groupsOf || !pool || s.createdBy.startsWith('cli:')) return windowActor(s);
    return { ...windowActor(s), groups: await deps.groupsOf(s.createdBy, decisionGroups(pool)) };
  };

  /** Scheduling needs the same rights as the decisions a window takes later (../core/authorize.ts); refusals audited. */
  async function mayTouchWindows(pool: PoolConfig, actor: Actor, what: string): Promise<CoreResult<void>> {
    const auth = authorize(pool, actor, 'schedule');
    if (auth.ok) return { ok: true, value: undefined };
    return refuseWindowChange(pool.name, actor, `${what} refused: ${auth.reason}`);
  }

  /** A refused schedule or unschedule: logged, audited on the pool, and said back. */
  async function refuseWindowChange<T>(pool: string, actor: Actor, error: string): Promise<CoreResult<T>> {
    logger.warn({ pool, by: actor.userId, source: actor.source }, error);
    await store
      .appendAudit({ at: clock.now(), runId: `pool:${pool}`, kind: 'refused', actor: actor.userId, message: error, detail: { source: actor.source, code: 'forbidden' } })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'audit of a scheduling refusal failed'));
    return { ok: false, code: 'forbidden', error };
  }

  async function say(pool: string, text: string): Promise<void> {
    try {
      await notifier.poolNotice(pool, text);
    } catch (err) {
      logger.warn({ err, pool }, 'scheduler: pool notice failed');
    }
  }
  async function sayInRun(run: Run, text: string): Promise<void> {
    try {
      await notifier.runEvent(run, text);
    } catch (err) {
      logger.warn({ err, runId: run.id }, 'scheduler: run event failed');
    }
  }
  /**
   * The patch of a decision about `observed`, only if the schedule is still as observed (another replica did not
   * handle the same window meanwhile); undefined = not ours to act on.
   */
  async function claimSchedule(observed: Schedule, patch: Partial<Schedule>): Promise<Schedule | undefined> {
    const windowState = (x: Schedule) => JSON.stringify([x.state, x.nextStartAt ?? null, x.current ?? null]);
    try {
      return await store.updateSchedule(observed.id, (s) => {
        if (windowState(s) !== windowState(observed)) throw new ScheduleMoved();
        Object.assign(s, patch);
      });
    } catch (err) {
      if (err instanceof ScheduleMoved) logger.info({ schedule: observed.id }, 'scheduler: window already handled (another replica)');
      else logger.warn({ err, schedule: observed.id }, 'scheduler: schedule update failed (unscheduled meanwhile?)');
      return undefined;
    }
  }

  /** true when this replica may send the notice now (nobody sent it since `previous`) */
  async function claimNotice(key: string, previous: number | undefined, now: number): Promise<boolean> {
    try {
      if (await store.claimNotice(key, previous, now)) return true;
      logger.info({ notice: key }, 'scheduler: notice already sent (another replica)');
    } catch (err) {
      logger.warn({ err, notice: key }, 'scheduler: could not record a notice; not sent');
    }
    sent[key] = (await store.listNotices().catch(() => ({}) as Record<string, number>))[key] ?? sent[key];
    return false;
  }

  async function patchSchedule(id: string, patch: Partial<Schedule>): Promise<Schedule | undefined> {
    try {
      return await store.updateSchedule(id, (s) => Object.assign(s, patch));
    } catch (err) {
      logger.warn({ err, schedule: id }, 'scheduler: schedule update failed (unscheduled meanwhile?)');
      return undefined;
    }
  }

  async function schedule(poolName: string, whenText: string, untilText: string | undefined, actor: Actor): Promise<CoreResult<Schedule>> {
    const pool = poolsByName.get(poolName);
    if (!pool) return { ok: false, code: 'not-found', error: `unknown pool "${poolName}" (known: ${[...poolsByName.keys()].join(', ')})` };
    if (!isValidTimeZone(pool.timezone)) {
      return { ok: false, code: 'invalid', error: `pool ${poolName}: unknown timezone "${pool.timezone}" in the pools file` };
    }
    const allowed = await mayTouchWindows(pool, actor, `schedule ${poolName}`);
    if (!allowed.ok) return allowed;
    const now = nowFn();
    const parsed = parseWindow(whenText, untilText, { timezone: pool.timezone, now });
    if (!parsed.ok) return { ok: false, code: 'invalid', error: parsed.error };
    const plan = await store.getLatestPlan(poolName);
    if (!plan) return { ok: false, code: 'invalid', error: `pool ${poolName} has no plan yet: plan it first, then schedule the window` };
    if (!plan.executable) return { ok: false, code: 'blocked', error: `the plan for ${poolName} has blockers, fix them before scheduling: ${blockerSummary(plan)}` };
    const isLive = (o: Schedule) => LIVE_SCHEDULE.includes(o.state);
    const holds = (o: Schedule): CoreResult<Schedule> => ({ ok: false, code: 'conflict', error: `pool ${poolName} already has window ${o.id} (${o.whenText}); unschedule it first` });
    // before a window id is taken; checked again in the write itself (addSchedule)
    const existing = (await store.listSchedules({ pool: poolName })).find(isLive);
    if (existing) return holds(existing);
    const s: Schedule = {
      id: await store.nextScheduleId(poolName),
      pool: poolName,
      whenText,
      untilText,
      timezone: parsed.timezone,
      window: parsed.window,
      approvedPlan: plan,
      createdBy: actor.userId,
      createdAt: now,
      updatedAt: now,
      state: 'scheduled',
      nextStartAt: parsed.firstStart,
    };
    // another process (the CLI, a replica) may have scheduled the pool meanwhile
    const other = await store.addSchedule(s, isLive);
    if (other) return holds(other);
    logger.info({ schedule: s.id, pool: poolName, by: actor.userId, firstStart: s.nextStartAt }, 'window scheduled');
    return { ok: true, value: s };
  }

  async function unschedule(id: string, actor: Actor): Promise<CoreResult<Schedule>> {
    const s = await store.getSchedule(id);
    if (!s) return { ok: false, code: 'not-found', error: `no schedule ${id}` };
    const pool = poolsByName.get(s.pool);
    if (pool) {
      const allowed = await mayTouchWindows(pool, actor, `unschedule ${id}`);
      if (!allowed.ok) return allowed;
    } else if (actor.source !== 'cli') {
      // the window stays in the store and acts again if its pool comes back to the pools file; who may delete it
      // cannot be checked without the pool's schedulers, so only a local operator may (authorize.ts: CLI actors)
      return refuseWindowChange(s.pool, actor, `unschedule ${id} refused: pool ${s.pool} is not in the pools file, so who may unschedule its windows cannot be checked; a local operator can, from the bot's host: xsupgrade unschedule ${id}`);
    }
    await store.deleteSchedule(id);
    logger.info({ schedule: id, by: actor.userId }, 'window unscheduled');
    const runNote = s.state === 'active' && s.current?.runId ? ` Run ${s.current.runId} keeps going; pause it with hold if needed.` : '';
    await say(s.pool, `Window ${id} (${s.whenText}) was unscheduled by <@${actor.userId}>.${runNote}`);
    return { ok: true, value: s };
  }

  // ---- reading the world ---------------------------------------------------------------------

  async function observe(now: number) {
    const schedules = await store.listSchedules();
    const runsById: Record<string, Run | undefined> = {};
    for (const s of schedules) {
      for (const id of [s.runId, s.current?.runId]) if (id && !(id in runsById)) runsById[id] = await core.getRun(id);
    }
    const poolRuns: Record<string, Run | undefined> = {};
    for (const p of deps.pools) {
      const runs = await core.status(p.name);
      poolRuns[p.name] = runs.find((r) => r.pool === p.name && !TERMINAL_RUN_STATES.includes(r.state)) ?? runs.find((r) => r.pool === p.name);
      const active = poolRuns[p.name] && UNFINISHED_RUN_STATES.includes(poolRuns[p.name]!.state);
      const run = poolRuns[p.name];
      // a stale plan or an old run only hints at mixed mode: the live pool decides (issue 11.5)
      const hinted = active
        ? (run!.state === 'paused' || run!.state === 'failed') && now - run!.updatedAt >= settings.mixedModeAfterMs
        : mixedSince[p.name] !== undefined || hostsMixed(await store.getLatestPlan(p.name)) || endedBehind(run);
      liveMixed[p.name] = hinted ? await readMixed(p.name) : undefined;
      const mixedNow = liveMixed[p.name]?.mixed;
      if (!active && mixedNow) mixedSince[p.name] ??= now;
      else if (active || mixedNow === false || !hinted) mixedSince[p.name] = undefined;
    }
    const windowRuns: Record<string, string | undefined> = {};
    for (const s of schedules) {
      const run = await runStartedBy(s, poolRuns[s.pool]);
      if (run) {
        windowRuns[s.id] = run.id;
        runsById[run.id] = run;
      }
    }
    return { schedules, runsById, poolRuns, windowRuns };
  }

  /**
   * The pool's unfinished run that an open window started, when the schedule does not name it: the run id is written
   * to the schedule after core.start returned, and that write can fail or the process die before it. The run's start
   * audit (detail.window) is written in the same transaction as the run itself (store.createRun), so it is there
   * whenever the run is: the window's end finds and pauses the run it started (R3.1) without a second durable write.
   */
  async function runStartedBy(s: Schedule, poolRun: Run | undefined): Promise<Run | undefined> {
    if (s.state !== 'active' || !s.current || s.current.runId || !poolRun || !UNFINISHED_RUN_STATES.includes(poolRun.state)) return undefined;
    const audit = await store.listAudit(poolRun.id);
    const started = audit.some((e) => e.kind === 'state' && e.detail?.window === s.id);
    if (started && !foundByAudit.has(s.id)) logger.warn({ schedule: s.id, runId: poolRun.id }, 'scheduler: the window\'s run was not recorded in its schedule; found by its start audit');
    if (started) foundByAudit.add(s.id);
    return started ? poolRun : undefined;
  }

  /** Mixed versions as the live pool shows them; undefined when the pool does not answer (nothing is claimed then). */
  async function readMixed(pool: string): Promise<{ mixed: boolean; detail: string } | undefined> {
    const res = await core.liveHosts(pool).catch(() => undefined);
    if (!res?.ok) return undefined;
    const byVersion = new Map<string, string[]>();
    for (const h of res.value) byVersion.set(h.product, [...(byVersion.get(h.product) ?? []), h.name]);
    const detail = [...byVersion.entries()].map(([v, names]) => `${names.join(', ')} on ${v}`).join('; ');
    return { mixed: byVersion.size > 1, detail };
  }

  // ---- acting --------------------------------------------------------------------------------

  async function openWindow(a: Extract<SchedulerAction, { kind: 'window-open' }>): Promise<void> {
    const s = a.schedule;
    const tz = tzOf(s);
    const until = a.endAt !== undefined ? ` until ${at(a.endAt, tz)}` : '';
    // record the opening first: a crash after this point can miss a window (and says so) but never runs it twice
    if (!(await claimSchedule(s, a.patch))) return;
    const actor = await openingActor(s);
    switch (a.opening) {
      case 'finished':
        await say(s.pool, `Window ${s.id} opened, but run ${a.run?.id} already finished: the schedule is complete.`);
        return;
      case 'stopped':
        await say(s.pool, `Window ${s.id} opened, but run ${a.run?.id} is ${a.run?.state}: nothing started, the schedule is closed.`);
        return;
      case 'failed':
        await say(s.pool, `Window ${s.id} opened, but run ${a.run?.id} is failed and needs a recovery decision in its thread; nothing was started.`);
        return;
      case 'already-running':
        await say(s.pool, `Window ${s.id} opened${until}; run ${a.run?.id} is already ${a.run?.state}.`);
        return;
      case 'pool-busy': {
        const r = a.run!;
        const why = r.state === 'paused' ? (r.pausedBy ? ` (paused by <@${r.pausedBy.userId}>)` : '') : r.state === 'failed' ? ' (it needs a recovery decision in its thread)' : '';
        const next = a.patch.nextStartAt !== undefined ? ` Next window: ${at(a.patch.nextStartAt, tz)}.` : ' Resume or abort that run, then schedule again.';
        await say(s.pool, `Window ${s.id} opened, but run ${r.id} of ${s.pool} is ${r.state}${why}: a window starts no second run while one is unfinished (R3.1), and resumes only a run a window paused; nothing was started.${next}`);
        return;
      }
      case 'resume': {
        const r = await core.resume(a.run!.id, actor);
        // a run this schedule did not start: the pool's run an earlier window paused (decide.ts continuedRun)
        const whose = s.runId === a.run!.id ? '' : ` (paused at the end of an earlier window)`;
        await say(s.pool, r.ok ? `Window ${s.id} opened${until}: resumed run ${r.value.id}${whose} on behalf of <@${s.createdBy}>.` : `Window ${s.id} opened but run ${a.run!.id}${whose} stays paused: ${r.error}`);
        return;
      }
      case 'start':
        break;
    }
    const fresh = await core.plan(s.pool, replanOptions(s.approvedPlan), actor);
    const giveUp = async (note: string) => {
      await patchSchedule(s.id, s.window.kind === 'once' ? { state: 'failed', current: undefined, note } : { state: 'scheduled', current: undefined, note });
    };
    if (!fresh.ok) {
      await giveUp(`re-plan failed: ${fresh.error}`);
      await say(s.pool, `Window ${s.id} opened but the pool could not be re-planned (${fresh.error}); nothing was started.`);
      return;
    }
    const diffs = planDifferences(s.approvedPlan, fresh.value);
    if (diffs.length > 0) {
      const note = `plan changed since it was approved: ${diffs.join('; ')}`;
      await patchSchedule(s.id, s.window.kind === 'once' ? { state: 'blocked', current: undefined, note } : { state: 'scheduled', current: undefined, note });
      await say(
        s.pool,
        `Window ${s.id} opened but the plan changed since it was approved (${diffs.join('; ')}). Nothing was started. ` +
          `Review the new plan ${fresh.value.id.slice(0, 12)} and approve it by scheduling again.`,
      );
      return;
    }
    const started = await core.start(s.pool, { planHash: fresh.value.id }, actor);
    if (!started.ok) {
      await giveUp(`start refused: ${started.error}`);
      await say(s.pool, `Window ${s.id} opened but the run could not start: ${started.error}`);
      return;
    }
    await patchSchedule(s.id, { runId: started.value.id, current: { startAt: a.startAt, endAt: a.endAt, runId: started.value.id } });
    await say(s.pool, `Window ${s.id} opened${until}: started run ${started.value.id} from plan ${fresh.value.id.slice(0, 12)}.`);
  }

  async function closeWindow(a: Extract<SchedulerAction, { kind: 'window-close' }>): Promise<void> {
    const s = a.schedule;
    if (!(await claimSchedule(s, a.patch))) return;
    const next = a.patch.state === 'scheduled' && s.nextStartAt !== undefined ? ` Next window: ${at(s.nextStartAt, tzOf(s))}.` : '';
    if (!a.hold || !a.run) {
      await say(s.pool, `Window ${s.id} closed${a.run ? ` (run ${a.run.id} is ${a.run.state})` : ''}.${next}`);
      return;
    }
    const r = await core.hold(a.run.id, undefined, windowActor(s));
    await say(
      s.pool,
      r.ok
        ? `Window ${s.id} closed: run ${a.run.id} pauses after the host in progress finishes; no new host is shut down (R3.1).${next}`
        : `Window ${s.id} closed but run ${a.run.id} could not be paused: ${r.error}`,
    );
  }

  async function act(a: SchedulerAction, now: number): Promise<void> {
    switch (a.kind) {
      case 'window-missed': {
        const s = a.schedule;
        if (!(await claimSchedule(s, { ...a.patch, note: `missed ${a.missed.length} window(s)` }))) return;
        const which = a.missed.length === 1 ? `the window at ${at(a.missed[0], s.timezone)}` : `${a.missed.length} windows from ${at(a.missed[0], s.timezone)} to ${at(a.missed[a.missed.length - 1], s.timezone)}`;
        const next = a.patch.nextStartAt !== undefined ? ` Next window: ${at(a.patch.nextStartAt, s.timezone)}.` : a.patch.state === 'missed' ? ' Schedule a new window to upgrade.' : '';
        await say(s.pool, `Window ${s.id}: ${which} passed while the bot was not running. Nothing was started late.${next}`);
        return;
      }
      case 'window-open':
        return openWindow(a);
      case 'window-close':
        return closeWindow(a);
      case 'schedule-finished':
        if (!(await claimSchedule(a.schedule, a.patch))) return;
        await say(a.schedule.pool, `Window ${a.schedule.id}: run ${a.run.id} is ${a.run.state}; the schedule is complete.`);
        return;
      case 'approval-reminder': {
        if (!(await claimNotice(a.key, sent[a.key], now))) return;
        sent[a.key] = now;
        const step = a.run.steps.find((x) => x.id === a.stepId);
        await sayInRun(
          a.run,
          `Reminder: ${approverMentions(poolsByName.get(a.run.pool))} gate ${a.stepId}${step?.hostName ? ` (host ${step.hostName})` : ''} has been waiting for approval ` +
            `for ${formatDuration(now - a.waitingSince)}. The run does not continue until an approver approves, holds or aborts.`,
        );
        return;
      }
      case 'mixed-mode': {
        if (!(await claimNotice(a.key, sent[a.key], now))) return;
        sent[a.key] = now;
        const tz = poolsByName.get(a.pool)?.timezone ?? 'UTC';
        const live = liveMixed[a.pool];
        const runText = a.run && ['paused', 'failed'].includes(a.run.state)
          ? describeStuckRun(a.run, tz)
          : `no run is active`;
        await say(
          a.pool,
          `Pool ${a.pool} has been in mixed mode for ${formatDuration(now - a.since)} (since ${at(a.since, tz)}; the pool shows ${live?.detail ?? 'hosts on different versions'}): ${runText}. ` +
            `A pool left half-upgraded runs degraded (R3.5).`,
        );
        return;
      }
      case 'step-overdue': {
        if (!(await claimNotice(a.key, sent[a.key], now))) return;
        sent[a.key] = now;
        const step = a.run.steps.find((x) => x.id === a.stepId);
        const tz = poolsByName.get(a.run.pool)?.timezone ?? 'UTC';
        const observed = step?.error?.observed?.length ? ` Observed: ${step.error.observed.join('; ')}.` : '';
        await sayInRun(
          a.run,
          `Step ${a.stepId}${step?.hostName ? ` on host ${step.hostName}` : ''} has been running since ${at(a.since, tz)} ` +
            `(${formatDuration(now - a.since)}; expected about ${formatDuration(a.expectedSeconds * 1000)}, attempt ${step?.attempts ?? '?'}).${observed} ` +
            `Check the host console.`,
        );
        return;
      }
      case 'digest':
        if (!(await claimNotice(a.key, sent[a.key], now))) return;
        sent[a.key] = now;
        await say(a.pool, await digestText(a.pool, now));
        return;
    }
  }

  function describeStuckRun(run: Run, tz: string): string {
    const step = run.steps.find((x) => x.state === 'failed' || x.state === 'awaiting-approval' || x.state === 'running') ?? run.steps.find((x) => x.state === 'pending');
    const where = step ? ` at step ${step.id}${step.hostName ? ` (host ${step.hostName})` : ''}` : '';
    const actions = run.state === 'paused' ? `resume with \`resume ${run.id}\` or \`abort ${run.id}\`` : `choose a recovery action in the run's thread (retry, skip, forget and rejoin, roll back, abort)`;
    return `run ${run.id} is ${run.state}${where} since ${at(run.updatedAt, tz)}; ${actions}`;
  }

  async function digestText(pool: string, now: number): Promise<string> {
    const dayAgo = now - 86_400_000;
    const runs = (await core.history(pool, 20)).filter((r) => r.updatedAt >= dayAgo || r.createdAt >= dayAgo);
    const plan = await store.getLatestPlan(pool);
    const versions = plan ? plan.hosts.map((h) => `${h.name} ${h.alreadyDone ? h.to.product : h.from.product}`).join(', ') : 'no plan yet';
    const runText = runs.length ? runs.map((r) => `${r.id} ${r.state}`).join(', ') : 'none';
    return `Daily digest for ${pool}: hosts ${versions}; runs in the last day: ${runText}.`;
  }

  /**
   * An action that threw is tried again at the next tick, and would fail there again: logged only, a window that
   * never opens is noticed by nobody. Its pool's channel is told, once an hour at most for the same action.
   */
  async function tellFailure(a: SchedulerAction, err: unknown, now: number): Promise<void> {
    const { pool, subject } = subjectOf(a);
    const key = `failed:${a.kind}:${subject}`;
    if (sent[key] !== undefined && now - sent[key] < FAILURE_NOTICE_EVERY_MS) return;
    if (!(await claimNotice(key, sent[key], now))) return;
    sent[key] = now;
    await say(pool, `:warning: The scheduler could not act on ${subject} (${a.kind}): ${(err as Error)?.message ?? String(err)}. It tries again at every tick; this is said again in an hour if it still fails.`);
  }

  async function tickOnce(now: number): Promise<SchedulerAction[]> {
    const world = await observe(now);
    // what every replica sent (also before a failover): decide() does not repeat it
    Object.assign(sent, await store.listNotices());
    const actions = decide({
      now,
      previousTick,
      schedules: world.schedules,
      runsById: world.runsById,
      windowRuns: world.windowRuns,
      poolRuns: world.poolRuns,
      mixedSince,
      liveMixed,
      pools: deps.pools.map((p) => ({ name: p.name, timezone: isValidTimeZone(p.timezone) ? p.timezone : 'UTC' })),
      sent,
      settings,
    });
    previousTick = now;
    for (const a of actions) {
      try {
        await act(a, now);
      } catch (err) {
        logger.error({ err, action: a.kind }, 'scheduler action failed');
        await tellFailure(a, err, now);
      }
    }
    for (const f of deps.followUps ?? []) await f.tick(now).catch((err: unknown) => logger.error({ err }, 'scheduler: follow-up tick failed'));
    return actions;
  }

  function tick(now?: number): Promise<SchedulerAction[]> {
    // one tick at a time, in call order
    const run = ticking.then(() => tickOnce(now ?? nowFn()));
    ticking = run.catch(() => undefined);
    return run;
  }

  return {
    schedule,
    list: (pool) => store.listSchedules(pool ? { pool } : {}),
    unschedule,
    tick,
    async start() {
      if (task) return;
      previousTick ??= nowFn();
      await tick();
      task = createTask(deps.tickCron ?? '*/10 * * * * *', async () => {
        await tick();
      }, { noOverlap: true, name: 'xsupgrade-scheduler' });
      await task.start();
    },
    async stop() {
      if (task) {
        await task.destroy();
        task = undefined;
      }
      await ticking;
    },
  };
}
