/**
 * A one-off window ends mid-upgrade and pauses its run. The operator schedules the next night's window to go on: that
 * window has no run of its own, and opens on the pool's run that the earlier window paused by resuming it (as a
 * recurring window resumes its own run), instead of trying to start a second run and reporting "the plan changed
 * since it was approved (new blockers: R3.1 run … is already active)". At its end it pauses that run again.
 */
import type { Actor } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { createScheduler } from '../../src/scheduler';
import { APPROVER, startHarness, waitForRun, type Harness } from '../runner/sim-harness';
import { setup } from './fake-core';
import { HOUR, MIN, OPERATOR, QUIET, WITH_SCHEDULERS, iso } from './sim-windows';

jest.setTimeout(60_000);


let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

test('the next night\'s window, scheduled while the previous window\'s run is paused, resumes that run and pauses it at its end', async () => {
  h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, autoApprove: false });
  let now = h.clock.now();
  const scheduler = createScheduler({ core: h.core, store: h.store, notifier: h.notifier, pools: [h.pool], clock: h.clock, logger: silentLogger, now: () => now, settings: QUIET });
  const notices = () => h!.notifier.calls.filter((c) => c.method === 'poolNotice').map((c) => c.text!);

  // night 1: a two-hour window starts the run; it ends at the first gate and the window pauses the run
  expect((await h.core.plan('pool-a', {}, OPERATOR)).ok).toBe(true);
  const start1 = Math.ceil((now + 24 * HOUR) / MIN) * MIN;
  expect((await scheduler.schedule('pool-a', iso(start1), iso(start1 + 2 * HOUR), OPERATOR)).ok).toBe(true);
  now = start1;
  await scheduler.tick(start1);
  const [run] = await h.store.listRuns({ pool: 'pool-a' });
  await waitForRun(h.store, run!.id, ['awaiting-approval']);
  now = start1 + 2 * HOUR;
  await scheduler.tick(now);
  await h.core.whenIdle(run!.id);
  expect((await h.store.getRun(run!.id))!).toMatchObject({ state: 'paused', pausedBy: { source: 'scheduler' } });

  // the operator schedules night 2 to go on: the window resumes the paused run, it does not start another
  const start2 = start1 + 24 * HOUR;
  const second = await scheduler.schedule('pool-a', iso(start2), iso(start2 + 2 * HOUR), OPERATOR);
  if (!second.ok) throw new Error(second.error);
  now = start2;
  await scheduler.tick(start2);
  expect(notices().at(-1)).not.toMatch(/plan changed since it was approved/);
  expect(notices().at(-1)).toContain(`resumed run ${run!.id} (paused at the end of an earlier window)`);
  expect((await h.store.getRun(run!.id))!.state).not.toBe('paused');
  expect(await h.store.listRuns({ pool: 'pool-a' })).toHaveLength(1);
  expect(await h.store.getSchedule(second.value.id)).toMatchObject({ state: 'active', runId: run!.id, current: { runId: run!.id } });

  // and night 2's end pauses it again (R3.1)
  now = start2 + 2 * HOUR;
  await scheduler.tick(now);
  await h.core.whenIdle(run!.id);
  expect((await h.store.getRun(run!.id))!).toMatchObject({ state: 'paused', pausedBy: { source: 'scheduler' } });
  await h.core.abort(run!.id, APPROVER);
});

test('a window never takes over a run a human paused: it does not resume it (a window resumes only what a window paused)', async () => {
  const T0 = Date.UTC(2026, 10, 25, 12);
  const START = Date.UTC(2026, 10, 28, 21);
  const t = await setup({ now: T0 });
  const human: Actor = { userId: 'U0APPROVER', source: 'slack', channel: '#ops' };
  const started = await t.core.start('pool-a', {}, human);
  if (!started.ok) throw new Error('start');
  await t.core.hold(started.value.id, undefined, human);
  expect(t.runs.get(started.value.id)).toMatchObject({ state: 'paused', pausedBy: { source: 'slack' } });

  expect((await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', { ...human, groups: ['S0ADMINS'] })).ok).toBe(true);
  await t.tickAt(START + 1_000);
  expect(t.core.resume).not.toHaveBeenCalled();
  expect(t.notices().join('\n')).not.toContain(`resumed run ${started.value.id}`);
  // said as it is: the pool's run is unfinished and not the window's, so nothing starts; not "the plan changed"
  const opened = t.notices().find((n) => n.startsWith('Window '));
  expect(opened).toMatch(new RegExp(`^Window \\S+ opened, but run ${started.value.id} of pool-a is paused \\(paused by <@U0APPROVER>\\)`));
  expect(opened).toMatch(/nothing was started/);
  expect(t.notices().join('\n')).not.toMatch(/plan changed/);
  expect([...t.runs.values()]).toHaveLength(1);
  const [schedule] = await t.store.listSchedules();
  expect(schedule).toMatchObject({ state: 'blocked', note: `run ${started.value.id} of pool-a was paused when the window opened` });
});
