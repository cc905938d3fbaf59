/**
 * `xsupgrade run` between two hops (R1.4): what the terminal does with the next hop's record. It starts only the
 * plan the core made for that hop from the live pool; anything else is an error that says what to do.
 */
import { nextHopPlan } from '../../src/cli/run';
import type { NextHopRecord, Plan, Run } from '../../src/domain/types';
import type { Store } from '../../src/store';

const PLAN = { id: 'plan-hop-2', createdAt: 2_000 } as Plan;

function storeWith(records: Array<NextHopRecord | undefined>, latest: Plan | undefined = PLAN): Store {
  let reads = 0;
  return {
    getRun: async (id: string) => ({ id, pool: 'pool-legacy', nextHop: records[Math.min(reads++, records.length - 1)] }) as Run,
    getLatestPlan: async () => latest,
  } as unknown as Store;
}

const planned: NextHopRecord = { state: 'planned', finalTarget: '7.6', at: 1, planId: PLAN.id, planMadeAt: PLAN.createdAt };

it('waits while the core re-plans, then gives the plan it recorded', async () => {
  const replanning: NextHopRecord = { state: 'replanning', finalTarget: '7.6', at: 1 };
  await expect(nextHopPlan(storeWith([replanning, replanning, planned]), 'run-1')).resolves.toEqual({ plan: PLAN });
});

it('refuses a plan other than the one recorded for the hop (a newer plan of the pool replaced it)', async () => {
  const other = { id: 'made-by-hand', createdAt: 3_000 } as Plan;
  await expect(nextHopPlan(storeWith([planned], other), 'run-1')).resolves.toEqual({ error: expect.stringMatching(/replaced by a newer plan of pool-legacy; `xsupgrade run pool-legacy` plans it again/) });
});

it('says why when the pool could not be read to plan it', async () => {
  const failed: NextHopRecord = { state: 'failed', finalTarget: '7.6', at: 1, error: 'HOST_OFFLINE' };
  await expect(nextHopPlan(storeWith([failed]), 'run-1')).resolves.toEqual({ error: expect.stringMatching(/not planned: HOST_OFFLINE; `xsupgrade run pool-legacy` plans it again once the pool answers/) });
});

it('does not start a hop someone already started elsewhere, and names that run', async () => {
  const started: NextHopRecord = { state: 'started', finalTarget: '7.6', at: 1, runId: 'run-2' };
  await expect(nextHopPlan(storeWith([started]), 'run-1')).resolves.toEqual({ error: expect.stringMatching(/started elsewhere as run run-2/) });
});

it('says so when the run has no next hop on record', async () => {
  await expect(nextHopPlan(storeWith([undefined]), 'run-1')).resolves.toEqual({ error: expect.stringMatching(/run run-1 has no next hop on record/) });
});
