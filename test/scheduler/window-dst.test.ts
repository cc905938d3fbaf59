/**
 * The night the clocks go forward (Europe/Berlin, 2026-03-29: 02:00 CET → 03:00 CEST), a window that starts in the
 * skipped hour. Its start is moved on by that hour; its time-of-day end was then the next day's, so a one-hour night
 * window ("0 2 * * *" until 03:00) stayed open 24 hours, hosts taken down all Sunday (found by review).
 */
import { nextOccurrence, parseCron } from '../../src/scheduler/cron';
import { parseWindow, windowEnd } from '../../src/scheduler/window';
import type { Actor } from '../../src/domain/types';
import { setup } from './fake-core';

const TZ = 'Europe/Berlin';
const HOUR = 3_600_000;
const before = Date.UTC(2026, 2, 28, 12); // Saturday noon, before the change
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] };

function occurrence(cron: string, after: number): number {
  const spec = parseCron(cron);
  if (!spec.ok) throw new Error(spec.error);
  return nextOccurrence(spec.spec, TZ, after)!;
}

describe('windows on the night the clocks go forward', () => {
  it('"0 2 * * *" until 03:00: no window that night (it would end before it begins), one hour the night after', () => {
    const start = occurrence('0 2 * * *', before);
    expect(new Date(start).toISOString()).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST: moved on by the skipped hour
    expect(windowEnd({ kind: 'cron', cron: '0 2 * * *', endTime: { hour: 3, minute: 0 } }, TZ, start)! - start).toBe(0);
    const next = occurrence('0 2 * * *', start);
    expect(windowEnd({ kind: 'cron', cron: '0 2 * * *', endTime: { hour: 3, minute: 0 } }, TZ, next)! - next).toBe(HOUR);
  });

  it('"30 2 * * *" until 06:00: that night from 03:30 to 06:00, the end the operator gave', () => {
    const start = occurrence('30 2 * * *', before);
    expect(new Date(start).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(windowEnd({ kind: 'cron', cron: '30 2 * * *', endTime: { hour: 6, minute: 0 } }, TZ, start)! - start).toBe(2.5 * HOUR);
  });

  it('a one-off window starting in the skipped hour is refused, saying why', () => {
    const r = parseWindow('2026-03-29T02:30', '03:00', { timezone: TZ, now: before });
    expect(r).toEqual({ ok: false, error: '"2026-03-29T02:30" does not exist in Europe/Berlin: the clocks go forward then; give a time outside that hour' });
  });

  it('the scheduler does not start a run that night, and does the night after', async () => {
    const { core, scheduler, tickAt } = await setup({ now: before, timezone: TZ });
    expect(await scheduler.schedule('pool-a', '0 2 * * *', '03:00', alice)).toMatchObject({ ok: true });
    await tickAt(Date.UTC(2026, 2, 29, 1, 0, 30)); // 03:00:30 CEST
    expect(core.start).not.toHaveBeenCalled();
    await tickAt(Date.UTC(2026, 2, 30, 0, 0, 30)); // Monday 02:00:30 CEST
    expect(core.start).toHaveBeenCalledTimes(1);
  });
});
