import { nextOccurrence, occurrencesBetween, parseCron } from '../../src/scheduler/cron';
import { formatInZone, isValidTimeZone, wallToUtc, zonedParts } from '../../src/scheduler/timezone';

const BERLIN = 'Europe/Berlin';
const spec = (expr: string) => {
  const r = parseCron(expr);
  if (!r.ok) throw new Error(r.error);
  return r.spec;
};
const iso = (t: number) => new Date(t).toISOString();

describe('wall-clock time in a zone (no dependence on the machine zone)', () => {
  test('a normal time, and the zone parts of an instant', () => {
    expect(iso(wallToUtc({ year: 2026, month: 11, day: 28, hour: 22, minute: 0, second: 0 }, BERLIN))).toBe('2026-11-28T21:00:00.000Z');
    expect(zonedParts(Date.UTC(2026, 6, 1, 12), BERLIN)).toMatchObject({ hour: 14, weekday: 3 });
    expect(formatInZone(Date.UTC(2026, 10, 28, 21), BERLIN)).toBe('2026-11-28 22:00 Europe/Berlin');
  });

  test('spring forward (2026-03-29): 02:30 does not exist and is shifted to 03:30 CEST, not skipped', () => {
    expect(iso(wallToUtc({ year: 2026, month: 3, day: 29, hour: 2, minute: 30, second: 0 }, BERLIN))).toBe('2026-03-29T01:30:00.000Z');
  });

  test('fall back (2026-10-25): 02:30 happens twice; the first instant is used', () => {
    expect(iso(wallToUtc({ year: 2026, month: 10, day: 25, hour: 2, minute: 30, second: 0 }, BERLIN))).toBe('2026-10-25T00:30:00.000Z');
  });

  test('time zone validation', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('cron occurrences', () => {
  test('one 02:30 per day across the spring-forward day', () => {
    const occ = occurrencesBetween(spec('30 2 * * *'), BERLIN, Date.UTC(2026, 2, 27), Date.UTC(2026, 2, 31));
    expect(occ.map(iso)).toEqual([
      '2026-03-27T01:30:00.000Z',
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z', // 03:30 CEST: the skipped 02:30 shifted forward
      '2026-03-30T00:30:00.000Z',
    ]);
  });

  test('one 02:30 per day across the fall-back day', () => {
    const occ = occurrencesBetween(spec('30 2 * * *'), BERLIN, Date.UTC(2026, 9, 24), Date.UTC(2026, 9, 27));
    expect(occ.map(iso)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  test('day-of-week, last day of month, next occurrence far ahead', () => {
    // Saturdays 22:00 Berlin
    const sat = nextOccurrence(spec('0 22 * * 6'), BERLIN, Date.UTC(2026, 10, 25, 12));
    expect(iso(sat!)).toBe('2026-11-28T21:00:00.000Z');
    const last = nextOccurrence(spec('0 1 L 2 *'), 'UTC', Date.UTC(2026, 10, 25));
    expect(iso(last!)).toBe('2027-02-28T01:00:00.000Z');
    const leap = nextOccurrence(spec('0 0 29 2 *'), 'UTC', Date.UTC(2026, 10, 25));
    expect(iso(leap!)).toBe('2028-02-29T00:00:00.000Z');
  });

  test('invalid expressions are explained', () => {
    expect(parseCron('61 2 * * *')).toMatchObject({ ok: false, error: expect.stringMatching(/minute/) });
    expect(parseCron('tomorrow night')).toMatchObject({ ok: false, error: expect.stringMatching(/not a cron expression/) });
  });
});
