/**
 * A maintenance window approves "the latest plan" of the pool (scheduler.schedule keeps it as approvedPlan). When that
 * plan was made with options of its own (`/xsupgrade plan pool-a 7.6 manual`: a mode other than the pools file's), the
 * window re-plans the pool at its opening towards the approved plan's target and mode (replanOptions), as core.start
 * does (src/core/index.ts plannedTarget / `mode: latest.mode`): on an unchanged pool the plans compare equal and the
 * run starts in the approved mode, instead of "the plan changed since it was approved" from a re-plan with the pools
 * file's defaults.
 */
import { silentLogger } from '../../src/log';
import { createScheduler } from '../../src/scheduler';
import { APPROVER, startHarness, type Harness } from '../runner/sim-harness';
import { HOUR, MIN, OPERATOR, QUIET, WITH_SCHEDULERS, iso } from './sim-windows';

jest.setTimeout(60_000);


let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

test('a window scheduled on a plan made in manual mode starts that plan on an unchanged pool, instead of saying the plan changed', async () => {
  h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: WITH_SCHEDULERS, autoApprove: false });
  const scheduledAt = h.clock.now();
  const start = Math.ceil((scheduledAt + 24 * HOUR) / MIN) * MIN;
  const scheduler = createScheduler({ core: h.core, store: h.store, notifier: h.notifier, pools: [h.pool], clock: h.clock, logger: silentLogger, now: () => scheduledAt, settings: QUIET });

  // the operator plans the pool in manual mode (someone will be at the consoles) and approves that plan with a window
  const plan = await h.core.plan('pool-a', { mode: 'manual' }, OPERATOR);
  if (!plan.ok) throw new Error(plan.error);
  expect(plan.value).toMatchObject({ mode: 'manual', executable: true });
  const s = await scheduler.schedule('pool-a', iso(start), iso(start + 4 * HOUR), OPERATOR);
  expect(s).toMatchObject({ ok: true, value: { approvedPlan: { id: plan.value.id, mode: 'manual' } } });

  // nothing changes in the pool; the window opens
  await scheduler.tick(start);
  const notices = h.notifier.calls.filter((c) => c.method === 'poolNotice').map((c) => c.text!);
  // the channel must not be told that the plan changed when the pool did not
  expect(notices.at(-1)).not.toMatch(/plan changed since it was approved/);
  const runs = await h.store.listRuns({ pool: 'pool-a' });
  expect(runs).toHaveLength(1);
  expect(runs[0]!.plan.mode).toBe('manual');
  await h.core.abort(runs[0]!.id, APPROVER);
});
