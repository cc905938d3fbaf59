/**
 * Maintenance windows end to end (issue 6): the real scheduler, the real core and runner, the store, and the
 * simulator's pool-a demo (real XML-RPC) on a fast ScaledClock. The scheduler is driven by tick(instant) with explicit
 * instants: its decisions never depend on the wall clock or the time of day. Real time is only waited for the run
 * to reach a state (bounded polls), never measured.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore } from '../../src/core';
import type { Run } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { createScheduler, type Scheduler } from '../../src/scheduler';
import { openStore, type Store } from '../../src/store';
import type { Core } from '../../src/domain/ports';
import { recordingNotifier } from '../runner/helpers';
import { APPROVER, startHarness, waitForRun, type Harness } from '../runner/sim-harness';
import { HOUR, MIN, OPERATOR, QUIET, WITH_SCHEDULERS, iso } from '../scheduler/sim-windows';

jest.setTimeout(60_000);


let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Window {
  scheduler: Scheduler;
  /** the window's start and end, whole minutes a day after the clock's now when the test began */
  start: number;
  end: number;
  notices: () => string[];
}

function schedulerFor(harness: Harness, core: Core, store: Store, now: () => number, groupsOf?: (userId: string, groups: string[]) => Promise<string[]>): Scheduler {
  return createScheduler({ core, store, notifier: harness.notifier, pools: [harness.pool], clock: harness.clock, logger: silentLogger, now, settings: QUIET, groupsOf });
}

/** Plans pool-a (the plan the operator approves) and schedules a window of `hours` a day from now. */
async function scheduleWindow(harness: Harness, hours: number, groupsOf?: (userId: string, groups: string[]) => Promise<string[]>): Promise<Window> {
  const scheduledAt = harness.clock.now();
  const start = Math.ceil((scheduledAt + 24 * HOUR) / MIN) * MIN;
  const end = start + hours * HOUR;
  const scheduler = schedulerFor(harness, harness.core, harness.store, () => scheduledAt, groupsOf);
  const plan = await harness.core.plan('pool-a', {}, OPERATOR);
  if (!plan.ok || !plan.value.executable) throw new Error(`pool-a plan: ${plan.ok ? 'blocked' : plan.error}`);
  const s = await scheduler.schedule('pool-a', iso(start), iso(end), OPERATOR);
  expect(s).toMatchObject({ ok: true, value: { id: 'pool-a-w1', state: 'scheduled', nextStartAt: start, window: { kind: 'once', startAt: start, endAt: end }, approvedPlan: { id: plan.value.id } } });
  const notices = () => harness.notifier.calls.filter((c) => c.method === 'poolNotice').map((c) => c.text!);
  return { scheduler, start, end, notices };
}

async function onlyRun(store: Store): Promise<Run> {
  const runs = await store.listRuns({ pool: 'pool-a' });
  expect(runs).toHaveLength(1);
  return runs[0]!;
}

const shutdowns = (harness: Harness) => ({ ...harness.sim.stats().shutdowns });

/** Real-time poll (bounded) for a condition on the simulator. */
async function until(what: string, cond: () => boolean, realMs = 30_000): Promise<void> {
  const deadline = Date.now() + realMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('a maintenance window on the simulator with the real core', () => {
  test('starts a real run at its start (re-planned, unchanged), and its end mid-host pauses the run: the host finishes, no other host goes down', async () => {
    // scale 1500: xs-a1's install lasts 1.6 s real, ample time for the tick below to land while it is down
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, scale: 1500 });
    const w = await scheduleWindow(h, 4);
    const approved = (await h.store.getLatestPlan('pool-a'))!;

    expect(await w.scheduler.tick(w.start - MIN)).toEqual([]);
    expect(await h.store.listRuns({ pool: 'pool-a' })).toEqual([]);

    const opened = await w.scheduler.tick(w.start);
    expect(opened.map((a) => a.kind)).toEqual(['window-open']);
    const run = await onlyRun(h.store);
    expect(run).toMatchObject({ pool: 'pool-a', planHash: approved.id, requestedBy: OPERATOR.userId });
    // re-planned at the window's start: a newer plan, identical in content (same id)
    const replanned = (await h.store.getLatestPlan('pool-a'))!;
    expect(replanned.id).toBe(approved.id);
    expect(replanned.createdAt).toBeGreaterThan(approved.createdAt);
    expect(w.notices()).toEqual([`Window pool-a-w1 opened until ${fmt(w.end)}: started run ${run.id} from plan ${approved.id.slice(0, 12)}.`]);
    expect(await h.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'active', runId: run.id, current: { startAt: w.start, endAt: w.end, runId: run.id } });
    expect((await w.scheduler.tick(w.start + MIN)).map((a) => a.kind)).toEqual([]); // started once

    // the first host (the master, R3.1) is shut down for its upgrade: the window ends now
    await until('xs-a1 to go down for its upgrade', () => (h!.sim.stats().shutdowns['xs-a1'] ?? 0) >= 1);
    const closed = await w.scheduler.tick(w.end);
    expect(closed).toMatchObject([{ kind: 'window-close', hold: true }]);
    expect(w.notices().at(-1)).toBe(`Window pool-a-w1 closed: run ${run.id} pauses after the host in progress finishes; no new host is shut down (R3.1).`);
    expect((await h.store.getRun(run.id))!.state).toBe('paused');

    await h.core.whenIdle(run.id);
    const paused = (await h.store.getRun(run.id))!;
    expect(paused.state).toBe('paused');
    const stateOf = (id: string) => paused.steps.find((s) => s.id === id)?.state;
    expect(stateOf('xs-a1:upgrade')).toBe('done');
    expect(stateOf('xs-a1:wait-host')).toBe('done');
    expect(stateOf('xs-a1:enable')).toBe('done');
    expect(paused.steps.filter((s) => s.hostName === 'xs-a2' || s.hostName === 'xs-a3').every((s) => s.state === 'pending')).toBe(true);
    expect(h.sim.hosts().find((x) => x.name === 'xs-a1')).toMatchObject({ power: 'on', productVersion: '7.6.0' });
    expect(shutdowns(h)).toEqual({ 'xs-a1': 1 });

    // it stays paused: later ticks do not resume it, and simulated time passing shuts nothing else down
    expect(await w.scheduler.tick(w.end + HOUR)).toEqual([]);
    const later = h.clock.now() + 30 * MIN;
    await until('30 simulated minutes', () => h!.clock.now() >= later);
    expect((await h.store.getRun(run.id))!.state).toBe('paused');
    expect(shutdowns(h)).toEqual({ 'xs-a1': 1 });
    expect(await h.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'done' });
  });

  test('a window whose creator left the schedulers group since does not start a run, and says why', async () => {
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, scale: 3000, autoApprove: false });
    // the operator's Slack groups when the window opens: they were taken out of S0NIGHTOPS after scheduling it
    let groups = ['S0NIGHTOPS'];
    const w = await scheduleWindow(h, 2, async (user) => (user === OPERATOR.userId ? groups : []));
    groups = [];
    await w.scheduler.tick(w.start);
    expect(await h.store.listRuns({ pool: 'pool-a' })).toEqual([]);
    expect(w.notices().at(-1)).toBe(
      'Window pool-a-w1 opened but the run could not start: start refused: <@U0OPERATOR>, who created window pool-a-w1, is no longer in the schedulers of pool pool-a: the window does not act. A scheduler may schedule it again',
    );
    expect(shutdowns(h)).toEqual({});
  });

  test('its end while the run waits at an approval gate pauses the run before any host is shut down', async () => {
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, scale: 3000, autoApprove: false });
    const w = await scheduleWindow(h, 2);
    await w.scheduler.tick(w.start);
    const run = await onlyRun(h.store);
    const waiting = await waitForRun(h.store, run.id, ['awaiting-approval']);
    expect(waiting.steps.find((s) => s.state === 'awaiting-approval')?.id).toBe('xs-a1:approval');

    expect(await w.scheduler.tick(w.end - MIN)).toEqual([]);
    const closed = await w.scheduler.tick(w.end);
    expect(closed).toMatchObject([{ kind: 'window-close', hold: true }]);
    expect(w.notices().at(-1)).toMatch(/^Window pool-a-w1 closed: run .* pauses after the host in progress finishes; no new host is shut down/);
    await h.core.whenIdle(run.id);
    expect((await h.store.getRun(run.id))!.state).toBe('paused');
    expect(await h.store.listAudit(run.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ actor: OPERATOR.userId, message: expect.stringMatching(/run paused by scheduler on behalf of <@U0OPERATOR>, window pool-a-w1/) })]),
    );

    expect(await w.scheduler.tick(w.end + 2 * HOUR)).toEqual([]);
    const later = h.clock.now() + 30 * MIN;
    await until('30 simulated minutes', () => h!.clock.now() >= later);
    expect((await h.store.getRun(run.id))!.state).toBe('paused');
    expect(shutdowns(h)).toEqual({});
  });

  test('a window never resumes a run an approver paused (issue 10.4): the next window says so and shuts nothing down', async () => {
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, scale: 3000, autoApprove: false });
    const scheduledAt = h.clock.now();
    const scheduler = schedulerFor(h, h.core, h.store, () => scheduledAt);
    expect((await h.core.plan('pool-a', {}, OPERATOR)).ok).toBe(true);
    const s = await scheduler.schedule('pool-a', '0 2 * * *', '2h', OPERATOR);
    if (!s.ok) throw new Error(s.error);
    const first = s.value.nextStartAt!;
    await scheduler.tick(first);
    const run = await onlyRun(h.store);
    await waitForRun(h.store, run.id, ['awaiting-approval']);
    // the approver pauses the run at its first gate; the window then ends
    expect((await h.core.hold(run.id, undefined, APPROVER)).ok).toBe(true);
    expect(await scheduler.tick(first + 2 * HOUR)).toMatchObject([{ kind: 'window-close', hold: false }]);

    const notices = () => h!.notifier.calls.filter((c) => c.method === 'poolNotice').map((c) => c.text!);
    const opened = await scheduler.tick(first + 24 * HOUR);
    expect(opened).toMatchObject([{ kind: 'window-open', opening: 'resume' }]);
    expect(notices().at(-1)).toBe(
      `Window pool-a-w1 opened but run ${run.id} stays paused: resume refused: run ${run.id} was paused by <@UAPPROVER1> and a window never resumes a run a human paused: resume it yourself`,
    );
    const after = (await h.store.getRun(run.id))!;
    expect(after).toMatchObject({ state: 'paused', pausedBy: { userId: 'UAPPROVER1', source: 'slack' } });
    expect(after.approvals.filter((a) => a.decision === 'approved')).toEqual([]); // and never passes a gate
    expect(await h.store.listAudit(run.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'refused', actor: 'U0OPERATOR', detail: expect.objectContaining({ source: 'scheduler' }), message: expect.stringMatching(/^resume refused: .*never resumes a run a human paused/) })]),
    );
    const later = h.clock.now() + 30 * MIN;
    await until('30 simulated minutes', () => h!.clock.now() >= later);
    expect((await h.store.getRun(run.id))!.state).toBe('paused');
    expect(shutdowns(h)).toEqual({});
  });

  test('a plan changed in something that matters (a host powered off) does not start and asks for a new approval', async () => {
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, scale: 3000 });
    const w = await scheduleWindow(h, 4);
    const approved = (await h.store.getLatestPlan('pool-a'))!;
    h.sim.control.powerOff('xs-a3');

    const opened = await w.scheduler.tick(w.start);
    expect(opened.map((a) => a.kind)).toEqual(['window-open']);
    expect(await h.store.listRuns({ pool: 'pool-a' })).toEqual([]);
    const fresh = (await h.store.getLatestPlan('pool-a'))!;
    expect(fresh.id).not.toBe(approved.id);
    expect(fresh.prechecks).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'host-not-live', severity: 'blocker' })]));
    const notice = w.notices().at(-1)!;
    expect(notice).toMatch(/^Window pool-a-w1 opened but the plan changed since it was approved \(new blockers: .*xs-a3 not live/);
    expect(notice).toContain('Nothing was started.');
    expect(notice).toContain(`Review the new plan ${fresh.id.slice(0, 12)} and approve it by scheduling again.`);
    expect(await h.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'blocked', note: expect.stringMatching(/plan changed since it was approved/) });

    // nothing starts later in the window either, and nothing was shut down by the bot
    expect(await w.scheduler.tick(w.start + 30 * MIN)).toEqual([]);
    expect(await h.store.listRuns({ pool: 'pool-a' })).toEqual([]);
    expect(shutdowns(h)).toEqual({});
  });

  test('a window missed while the bot was down is reported after the restart, never run late', async () => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-window-'));
    const statePath = join(dir, 'state.sqlite');
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, scale: 3000, storePath: statePath });
    const w = await scheduleWindow(h, 2);
    await w.scheduler.stop();

    // the restart: a new store handle, core and scheduler on the same state file; the first tick is after the window
    const store = await openStore({ path: statePath, clock: h.clock });
    const notifier = recordingNotifier();
    const core = await createCore({
      pools: [h.pool], store, notifier, clock: h.clock, logger: silentLogger,
      env: { XS_SIM_PASSWORD: h.sim.password, XSUPGRADE_BACKUPS: dir }, ownerId: 'test-restarted',
    });
    try {
      const after = createScheduler({ core, store, notifier, pools: [h.pool], clock: h.clock, logger: silentLogger, now: () => w.end + HOUR, settings: QUIET });
      const logins = h.sim.stats().calls['session.login_with_password'] ?? 0;
      const actions = await after.tick(w.end + HOUR);
      expect(actions).toMatchObject([{ kind: 'window-missed', missed: [w.start] }]);
      const notices = notifier.calls.filter((c) => c.method === 'poolNotice');
      expect(notices).toEqual([
        {
          method: 'poolNotice',
          runId: 'pool-a',
          text: `Window pool-a-w1: the window at ${fmt(w.start)} passed while the bot was not running. Nothing was started late. Schedule a new window to upgrade.`,
        },
      ]);
      expect(await store.getSchedule('pool-a-w1')).toMatchObject({ state: 'missed', note: 'missed 1 window(s)' });
      expect(await store.listRuns({ pool: 'pool-a' })).toEqual([]);
      expect(h.sim.stats().calls['session.login_with_password'] ?? 0).toBe(logins); // not even re-planned

      // reported once
      expect(await after.tick(w.end + 2 * HOUR)).toEqual([]);
      expect(notifier.calls.filter((c) => c.method === 'poolNotice')).toHaveLength(1);
      expect(shutdowns(h)).toEqual({});
    } finally {
      await core.shutdown();
      await store.close();
    }
  });
});

function fmt(t: number): string {
  const d = new Date(t).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)} UTC`;
}
