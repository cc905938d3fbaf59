/**
 * A scheduler action that throws (an unexpected error in opening a window, say) was only logged, at every tick: the
 * run never started and nobody in the channel knew. Its pool's channel is now told, at most once an hour for the
 * same action (across replicas, through the store's notices).
 */
import type { Actor } from '../../src/domain/types';
import { setup } from './fake-core';

const T0 = Date.UTC(2026, 10, 25, 12);
const START = Date.UTC(2026, 10, 28, 21); // 2026-11-28 22:00 Berlin
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] };

it('a window whose opening throws is said in the pool channel, once an hour while it keeps failing', async () => {
  const { core, notifier, scheduler, store, tickAt } = await setup({ now: T0 });
  expect(await scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', alice)).toMatchObject({ ok: true });
  core.plan.mockRejectedValue(new Error('the pools file changed under the bot'));
  const failures = () => notifier.poolNotice.mock.calls.filter((c: unknown[]) => /could not act/.test(String(c[1])));

  await tickAt(START + 10_000);
  expect(failures()).toEqual([['pool-a', expect.stringMatching(/^:warning: The scheduler could not act on pool-a-w1 \(window-open\): the pools file changed under the bot\. It tries again at every tick/)]]);
  expect(core.start).not.toHaveBeenCalled();

  // the next ticks fail the same way: not said again within the hour
  await tickAt(START + 40_000);
  expect(failures()).toHaveLength(1);
  await store.close();
});
