/**
 * A window's length is bounded (31 days). Before, `until 999999999999d` was accepted: the window's end lay beyond
 * any date JavaScript can hold, and when the window opened, formatting that end threw (RangeError). The tick only
 * logged "scheduler action failed", at every tick: the run never started and nobody was told. Found by review.
 */
import { parseCommand } from '../../src/interface/grammar';
import { parseWindow } from '../../src/scheduler/window';
import type { Actor } from '../../src/domain/types';
import { setup } from './fake-core';

const now = Date.UTC(2026, 10, 25, 12);
const ctx = { timezone: 'Europe/Berlin', now };
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] };

describe('window length (at most 31 days)', () => {
  test.each([
    ['a duration past any date', '2026-11-28T22:00', '999999999999d', /window length "999999999999d" is over 31 days/],
    ['a duration of 32 days', '2026-11-28T22:00', '32d', /over 31 days/],
    ['a recurring window of 32 days', '0 22 * * 6', '768h', /over 31 days/],
    ['an end date far away', '2026-11-28T22:00', '9999-12-31T23:00', /window end .* is over 31 days after its start/],
  ])('%s is refused, naming the limit', (_, when, until, error) => {
    const r = parseWindow(when, until, ctx);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(error) });
  });

  test('31 days exactly is accepted', () => {
    const r = parseWindow('2026-11-28T22:00', '31d', ctx);
    expect(r.ok && r.window.kind === 'once' && r.window.endAt! - r.window.startAt).toBe(31 * 24 * 3_600_000);
  });

  test('the slash command refuses it, and the scheduler stores nothing', async () => {
    expect(parseCommand('schedule pool-a 2026-11-28T22:00 until 999999999999d')).toMatchObject({ kind: 'error' });
    const { scheduler, store } = await setup({ now });
    const s = await scheduler.schedule('pool-a', '2026-11-28T22:00', '999999999999d', alice);
    expect(s).toMatchObject({ ok: false, error: expect.stringMatching(/over 31 days/) });
    expect(await store.listSchedules({ pool: 'pool-a' })).toHaveLength(0);
  });
});
