import type { WindowSpec } from '../store/types';
import { nextOccurrence, parseCron } from './cron';
import { formatInZone, isValidTimeZone, wallExists, wallToUtc, zonedParts, addDays } from './timezone';

/**
 * The window grammar (pure):
 *   <when>  := ISO date-time [zone]          2026-11-28T22:00 | 2026-11-28T22:00+01:00 | 2026-11-28 22:00 Europe/Berlin
 *            | cron expression [zone]       "0 22 * * 6" | "0 22 * * 6 Europe/Berlin"
 *   <until> := ISO date-time [zone]          (one-off windows only; must be after the start)
 *            | duration                      4h | 90m | 2h30m
 *            | time of day                   04:00 (the next 04:00 after the window opened)
 * A date-time without an offset, and every cron expression, is read in the zone: the one given, else the pool's.
 */

export type ParsedWindow = { ok: true; window: WindowSpec; timezone: string; firstStart: number } | { ok: false; error: string };

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$/;
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;
const TIME_OF_DAY = /^(\d{1,2}):(\d{2})$/;
/** The longest window: a rolling upgrade of 64 hosts takes days, not months; beyond, a typo (900d for 90m) or nonsense. */
const MAX_WINDOW_MS = 31 * 24 * 3_600_000;

function splitZone(text: string): { body: string; zone?: string } {
  const tokens = text.trim().split(/\s+/);
  const lastToken = tokens[tokens.length - 1];
  if (tokens.length > 1 && /^(UTC|GMT|[A-Za-z_]+\/[A-Za-z0-9_+\-/]+)$/.test(lastToken)) {
    return { body: tokens.slice(0, -1).join(' '), zone: lastToken };
  }
  return { body: tokens.join(' ') };
}

function parseIso(body: string, tz: string): number | string {
  const m = ISO.exec(body);
  if (!m) return `"${body}" is not a date-time like 2026-11-28T22:00`;
  const [, y, mo, d, h, mi, s, offset] = m;
  const wall = { year: +y, month: +mo, day: +d, hour: +h, minute: +mi, second: s ? +s : 0 };
  const check = new Date(Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second));
  if (check.getUTCMonth() !== wall.month - 1 || check.getUTCDate() !== wall.day || wall.hour > 23 || wall.minute > 59 || wall.second > 59) {
    return `"${body}" is not a valid date-time`;
  }
  if (offset) {
    const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${offset.length === 5 ? `${offset.slice(0, 3)}:${offset.slice(3)}` : offset}`);
    return Number.isNaN(t) ? `"${body}" has an invalid offset` : t;
  }
  // a time the clocks skip (DST) would be moved an hour on, past the end the operator meant: refused
  if (!wallExists(wall, tz)) return `"${body}" does not exist in ${tz}: the clocks go forward then; give a time outside that hour`;
  return wallToUtc(wall, tz);
}

function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const [, d, h, mi] = m;
  return ((+(d ?? 0) * 24 + +(h ?? 0)) * 60 + +(mi ?? 0)) * 60_000;
}

/** The next wall-clock HH:MM strictly after `after`, in tz. */
export function nextTimeOfDay(time: { hour: number; minute: number }, tz: string, after: number): number {
  const start = zonedParts(after, tz);
  for (let i = 0; i <= 2; i++) {
    const t = wallToUtc({ ...addDays(start, i), hour: time.hour, minute: time.minute, second: 0 }, tz);
    if (t > after) return t;
  }
  throw new Error('unreachable: a time of day recurs within two days');
}

/** When a window that opened at `startAt` closes (undefined: no end). */
export function windowEnd(window: WindowSpec, tz: string, startAt: number): number | undefined {
  if (window.kind === 'once') return window.endAt;
  if (window.durationMs !== undefined) return startAt + window.durationMs;
  if (window.endTime) {
    // a cron start the clocks skipped (02:30 on the night they go forward) is moved on by the skipped hour: the end is
    // then the same night's, not the next day's (a 1-hour window would last 24). Ended before it began: none that day
    const spec = window.kind === 'cron' ? parseCron(window.cron) : undefined;
    const wall = zonedParts(startAt, tz);
    if (spec?.ok && !(spec.spec.hours.includes(wall.hour) && spec.spec.minutes.includes(wall.minute))) {
      const sameNight = wallToUtc({ year: wall.year, month: wall.month, day: wall.day, ...window.endTime, second: 0 }, tz);
      return Math.max(sameNight, startAt);
    }
    return nextTimeOfDay(window.endTime, tz, startAt);
  }
  return undefined;
}

export function parseWindow(whenText: string, untilText: string | undefined, ctx: { timezone: string; now: number }): ParsedWindow {
  const when = splitZone(whenText ?? '');
  if (when.body === '') return { ok: false, error: 'a window needs a start: an ISO date-time (2026-11-28T22:00) or a cron expression ("0 22 * * 6")' };
  const tz = when.zone ?? ctx.timezone;
  if (!isValidTimeZone(tz)) {
    return { ok: false, error: `unknown time zone "${tz}"${when.zone ? '' : " (the pool's timezone in the pools file)"}: use an IANA name such as Europe/Berlin or UTC` };
  }

  let window: WindowSpec;
  let firstStart: number;
  if (/^\d{4}-/.test(when.body)) {
    const start = parseIso(when.body, tz);
    if (typeof start === 'string') return { ok: false, error: start };
    if (start <= ctx.now) {
      return { ok: false, error: `the window start ${formatInZone(start, tz)} is in the past (now is ${formatInZone(ctx.now, tz)})` };
    }
    window = { kind: 'once', startAt: start };
    firstStart = start;
  } else {
    const cron = parseCron(when.body);
    if (!cron.ok) return { ok: false, error: cron.error };
    const next = nextOccurrence(cron.spec, tz, ctx.now);
    if (next === undefined) return { ok: false, error: `the cron expression "${when.body}" never matches a date in the next five years` };
    window = { kind: 'cron', cron: cron.spec.expr };
    firstStart = next;
  }

  if (untilText !== undefined && untilText.trim() !== '') {
    const until = splitZone(untilText);
    const untilTz = until.zone ?? tz;
    if (!isValidTimeZone(untilTz)) return { ok: false, error: `unknown time zone "${untilTz}" in the window end` };
    const duration = parseDurationMs(until.body);
    const tod = TIME_OF_DAY.exec(until.body);
    if (duration !== undefined) {
      if (duration <= 0) return { ok: false, error: `the window length "${until.body}" must be more than zero` };
      if (duration > MAX_WINDOW_MS) return { ok: false, error: `the window length "${until.body}" is over 31 days: give the time the run may take, such as 8h or 2d` };
      if (window.kind === 'once') window.endAt = window.startAt + duration;
      else window.durationMs = duration;
    } else if (tod) {
      const time = { hour: +tod[1], minute: +tod[2] };
      if (time.hour > 23 || time.minute > 59) return { ok: false, error: `"${until.body}" is not a time of day like 04:00` };
      if (untilTz !== tz) return { ok: false, error: 'a time-of-day window end is read in the same zone as the start' };
      if (window.kind === 'once') window.endAt = nextTimeOfDay(time, tz, window.startAt);
      else window.endTime = time;
    } else if (/^\d{4}-/.test(until.body)) {
      if (window.kind === 'cron') {
        return { ok: false, error: 'a recurring (cron) window ends after a duration (4h) or at a time of day (04:00), not at a date' };
      }
      const end = parseIso(until.body, untilTz);
      if (typeof end === 'string') return { ok: false, error: `window end: ${end}` };
      if (end <= window.startAt) {
        return { ok: false, error: `the window end ${formatInZone(end, untilTz)} is not after its start ${formatInZone(window.startAt, tz)}` };
      }
      if (end - window.startAt > MAX_WINDOW_MS) {
        return { ok: false, error: `the window end ${formatInZone(end, untilTz)} is over 31 days after its start ${formatInZone(window.startAt, tz)}` };
      }
      window.endAt = end;
    } else {
      return { ok: false, error: `"${untilText}" is not a window end: use a date-time (2026-11-29T04:00), a duration (4h, 90m) or a time of day (04:00)` };
    }
  }
  return { ok: true, window, timezone: tz, firstStart };
}
