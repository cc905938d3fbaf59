import { parseWindow } from '../../src/scheduler/window';

const now = Date.UTC(2026, 10, 25, 12); // Wed 2026-11-25 12:00Z
const ctx = { timezone: 'Europe/Berlin', now };
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

describe('parseWindow', () => {
  test('ISO date-time without offset is read in the pool zone; with offset or zone as given', () => {
    const a = parseWindow('2026-11-28T22:00', undefined, ctx);
    expect(a.ok && iso(a.firstStart)).toBe('2026-11-28T21:00:00.000Z');
    const b = parseWindow('2026-11-28T22:00+00:00', undefined, ctx);
    expect(b.ok && iso(b.firstStart)).toBe('2026-11-28T22:00:00.000Z');
    const c = parseWindow('2026-11-28 22:00 America/New_York', undefined, ctx);
    expect(c.ok && [iso(c.firstStart), c.timezone]).toEqual(['2026-11-29T03:00:00.000Z', 'America/New_York']);
  });

  test('one-off window ends: date-time, duration, time of day', () => {
    const a = parseWindow('2026-11-28T22:00', '2026-11-29T04:00', ctx);
    expect(a.ok && a.window).toEqual({ kind: 'once', startAt: Date.UTC(2026, 10, 28, 21), endAt: Date.UTC(2026, 10, 29, 3) });
    const b = parseWindow('2026-11-28T22:00', '4h30m', ctx);
    expect(b.ok && iso(b.window.kind === 'once' ? b.window.endAt : 0)).toBe('2026-11-29T01:30:00.000Z');
    const c = parseWindow('2026-11-28T22:00', '04:00', ctx);
    expect(c.ok && iso(c.window.kind === 'once' ? c.window.endAt : 0)).toBe('2026-11-29T03:00:00.000Z');
  });

  test('cron window with a zone and a duration', () => {
    const r = parseWindow('0 22 * * 6', '6h', ctx);
    expect(r.ok && r.window).toEqual({ kind: 'cron', cron: '0 22 * * 6', durationMs: 6 * 3_600_000 });
    expect(r.ok && iso(r.firstStart)).toBe('2026-11-28T21:00:00.000Z');
  });

  test.each([
    ['invalid cron', '61 22 * * *', undefined, /minute/],
    ['not a date nor a cron', 'tonight', undefined, /not a cron expression/],
    ['past date', '2026-11-20T22:00', undefined, /in the past/],
    ['impossible date', '2026-02-30T22:00', undefined, /not a valid date-time/],
    ['unknown timezone', '0 22 * * 6 Mars/Olympus', undefined, /unknown time zone "Mars\/Olympus"/],
    ['end before start', '2026-11-28T22:00', '2026-11-28T21:00', /not after its start/],
    ['end equal to start', '2026-11-28T22:00', '2026-11-28T22:00', /not after its start/],
    ['zero duration', '2026-11-28T22:00', '0m', /more than zero/],
    ['date end on a recurring window', '0 22 * * 6', '2026-11-29T04:00', /recurring/],
    ['garbage end', '2026-11-28T22:00', 'later', /not a window end/],
    ['empty start', '', undefined, /needs a start/],
  ])('%s is refused with a clear error', (_name, when, until, message) => {
    const r = parseWindow(when, until, ctx);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(message);
  });

  test("an unknown pool timezone is reported as the pool's", () => {
    const r = parseWindow('0 22 * * 6', undefined, { timezone: 'Nowhere/Land', now });
    expect(!r.ok && r.error).toMatch(/pool's timezone/);
  });
});
