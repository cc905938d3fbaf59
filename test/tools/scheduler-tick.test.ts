/** The scheduler ticks the Tools follow-up (src/cli/serve.ts wiring) at its own instant; a failing follow-up stops nothing. */
import { createScheduler } from '../../src/scheduler';
import { openStore } from '../../src/store';
import { fakeCore, fakeNotifier, poolConfig } from '../scheduler/fake-core';
import { samplePlan } from '../store/fixtures/sample';

test('scheduler.tick(now) ticks each follow-up with the same now, after its own decisions; a throwing one is logged, not fatal', async () => {
  const T0 = Date.UTC(2026, 11, 3, 2, 0);
  const clock = { now: () => T0, sleep: async () => undefined, scale: 1 };
  const store = await openStore({ path: ':memory:', clock });
  try {
    const { core } = fakeCore({ plan: () => samplePlan(), now: () => T0 });
    const seen: number[] = [];
    const scheduler = createScheduler({
      core,
      store,
      notifier: fakeNotifier(),
      pools: [poolConfig('pool-a', 'UTC')],
      clock,
      now: () => T0,
      followUps: [{ tick: async () => Promise.reject(new Error('pool unreachable')) }, { tick: async (now) => void seen.push(now) }],
    });
    await scheduler.tick(T0 + 5);
    await scheduler.tick(T0 + 10);
    expect(seen).toEqual([T0 + 5, T0 + 10]);
  } finally {
    await store.close();
  }
});
