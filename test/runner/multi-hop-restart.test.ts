/**
 * Multi-hop (R1.4) between hops: hop 1's run is done and `nextHop: replanning` is stored with it, then the process
 * stops before the next hop is planned. The restarted bot re-plans from the live pool and posts the plan; restarted
 * again, it announces that same plan (not a new one). Only a human Start continues, and hop 1's buttons (its gates,
 * its Start) never act on hop 2.
 */
import { ScaledClock } from '../../src/clock';
import type { CoreHandle } from '../../src/core';
import type { Plan, Run } from '../../src/domain/types';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { scenarioHops } from '../../src/core/scenario-mode';
import { recordingNotifier } from './helpers';
import { APPROVER, REQUESTER, coreForSim, poolConfigFor, waitForRun } from './sim-harness';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(180_000);

describe('a restart between two hops', () => {
  let sim: SimPool;
  let store: Store;
  let dir: string;
  const cores: CoreHandle[] = [];
  afterAll(async () => {
    for (const c of cores) await c.shutdown().catch(() => undefined);
    await sim?.stop();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('re-plans the next hop from the live pool after the restart, announces it once more after another, and waits for a human Start', async () => {
    const clock = new ScaledClock(4000);
    const scenario = loadScenario('manifests/demo/pool-legacy.yaml');
    sim = await startSimulator(scenario, { clock });
    store = await openStore({ path: ':memory:', clock });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-hops-'));
    const pool = poolConfigFor(sim, 'manual', { target: '7.6', hops: scenarioHops(scenario) });
    const hopPlans: Array<{ run: string; plan: Plan }> = [];
    const start = (checkpoint?: (label: string) => Promise<void>) => {
      let core: CoreHandle | undefined;
      const notifier = recordingNotifier({
        approvalNeeded: async (run, step) => {
          if (run.plan.target.product === '7.1.1') await core!.approve(run.id, step.id, APPROVER);
        },
      });
      notifier.hopPlanned = async (run: Run, plan: Plan) => void hopPlans.push({ run: run.id, plan });
      return coreForSim(sim, { store, clock, dir, ownerId: `test-${cores.length}`, pool, notifier, leaseTtlMs: 60_000, checkpoint }).then((c) => {
        core = c;
        cores.push(c);
        return c;
      });
    };

    // first process: hop 1, then it "dies" between hops (after done + replanning are stored)
    const first = await start(async (label) => {
      if (label === 'between-hops') throw new Error('process killed between hops');
    });
    const plan1 = await first.plan(pool.name, {}, REQUESTER);
    if (!plan1.ok) throw new Error(plan1.error);
    expect(plan1.value.target.product).toBe('7.1.1');
    const hop1 = await first.start(pool.name, { planHash: plan1.value.id, planMadeAt: plan1.value.createdAt }, REQUESTER);
    if (!hop1.ok) throw new Error(hop1.error);
    const done1 = await waitForRun(store, hop1.value.id, ['done', 'failed', 'aborted'], 120_000);
    expect(done1.state).toBe('done');
    await first.whenIdle(done1.id);
    expect((await store.getRun(done1.id))!.nextHop).toMatchObject({ state: 'replanning', finalTarget: '7.6' });
    expect(hopPlans).toEqual([]);
    expect((await store.getLatestPlan(pool.name))!.id).toBe(plan1.value.id);
    await first.shutdown();

    // second process: finds the run between hops and plans hop 2 from the pool as it is now
    const second = await start();
    await second.recoverRuns();
    await second.whenIdle(done1.id);
    expect(hopPlans).toHaveLength(1);
    const plan2 = hopPlans[0]!.plan;
    expect(hopPlans[0]!.run).toBe(done1.id);
    expect(plan2.target.product).toBe('7.6.0');
    expect(plan2.hosts.map((h) => h.from.product)).toEqual(['7.1.1', '7.1.1', '7.1.1']);
    expect(plan2.hops!.map((h) => [h.index, h.status])).toEqual([
      [1, 'done'],
      [2, 'this'],
    ]);
    expect((await store.getRun(done1.id))!.nextHop).toMatchObject({ state: 'planned', planId: plan2.id, planMadeAt: plan2.createdAt });
    expect((await store.getLatestPlan(pool.name))!.id).toBe(plan2.id);
    // nothing starts by itself: no second run
    expect(await store.listRuns({ pool: pool.name })).toHaveLength(1);
    await second.shutdown();

    // third process: the plan still waits for a Start: announced again, the same plan (not re-made)
    const third = await start();
    await third.recoverRuns();
    await third.whenIdle(done1.id);
    expect(hopPlans).toHaveLength(2);
    expect(hopPlans[1]!.plan.id).toBe(plan2.id);
    expect(hopPlans[1]!.plan.createdAt).toBe(plan2.createdAt);

    // hop 1's buttons do nothing to hop 2: its Start (an older plan) and its gates (a finished run)
    const staleStart = await third.start(pool.name, { planHash: plan1.value.id, planMadeAt: plan1.value.createdAt }, REQUESTER);
    expect(staleStart).toMatchObject({ ok: false, code: 'conflict' });
    const staleGate = await third.approve(done1.id, 'xs-l2:approval', APPROVER);
    expect(staleGate.ok).toBe(false);

    // a human starts hop 2: a new run, recorded on hop 1's run
    const hop2 = await third.start(pool.name, { planHash: plan2.id, planMadeAt: plan2.createdAt }, REQUESTER);
    if (!hop2.ok) throw new Error(hop2.error);
    expect(hop2.value.id).not.toBe(done1.id);
    expect(hop2.value.plan.finalTarget).toBe('7.6');
    expect((await store.getRun(done1.id))!.nextHop).toMatchObject({ state: 'started', runId: hop2.value.id });
    // hop 2's first gate waits for a human (this notifier approves only hop 1's)
    const waiting = await waitForRun(store, hop2.value.id, ['awaiting-approval', 'failed'], 60_000);
    expect(waiting.state).toBe('awaiting-approval');
    const stillHop1 = await third.approve(done1.id, 'xs-l1:approval', APPROVER);
    expect(stillHop1.ok).toBe(false);
    expect((await store.getRun(hop2.value.id))!.steps.find((s) => s.id === 'xs-l1:approval')!.state).toBe('awaiting-approval');
    await third.abort(hop2.value.id, APPROVER);
  });
});
