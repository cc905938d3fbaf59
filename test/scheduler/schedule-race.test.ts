/**
 * Two schedulers on one store (the CLI and `serve`, or two replicas) scheduling one pool at once: the check for a
 * live window and the save were separate, so both passed the check and two live windows were saved (found by
 * review). The check is now repeated inside the write.
 */
import type { Actor } from '../../src/domain/types';
import { setup } from './fake-core';

const now = Date.UTC(2026, 10, 25, 12);
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] };

it('two schedulers scheduling the same pool at once leave one live window, and the other is told why', async () => {
  const { scheduler: a, store } = await setup({ now });
  // a second scheduler on the same store, as another process would be
  const { scheduler: b } = await setup({ now, store });
  const results = await Promise.all([a.schedule('pool-a', '2026-11-28T22:00', '4h', alice), b.schedule('pool-a', '2026-11-29T22:00', '4h', alice)]);
  expect(results.filter((r) => r.ok)).toHaveLength(1);
  expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, code: 'conflict', error: expect.stringMatching(/^pool pool-a already has window pool-a-w\d \(2026-11-2\dT22:00\); unschedule it first$/) });
  expect((await store.listSchedules({ pool: 'pool-a' })).filter((s) => s.state === 'scheduled')).toHaveLength(1);
  await store.close();
});
