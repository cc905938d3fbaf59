/**
 * Wall-clock arithmetic in an IANA time zone with Intl only (no global TZ, no dependence on the machine's zone).
 */

export interface WallTime {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export interface ZonedParts extends WallTime {
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  if (!tz || typeof tz !== 'string') return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export function zonedParts(t: number, tz: string): ZonedParts {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(new Date(t))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const wall = { year: p.year, month: p.month, day: p.day, hour: p.hour % 24, minute: p.minute, second: p.second };
  return { ...wall, weekday: new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay() };
}

/** local wall time minus UTC at instant t, in ms (e.g. +3_600_000 for CET) */
function offsetAt(t: number, tz: string): number {
  const w = zonedParts(t, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

function sameWall(a: WallTime, b: WallTime): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute && a.second === b.second;
}

/**
 * The instant a wall-clock time happens in `tz`.
 * - Ambiguous (clocks go back, the time happens twice): the FIRST instant, so a window never runs twice.
 * - Non-existent (clocks go forward, the time is skipped): shifted forward by the gap (02:30 → 03:30 CEST), so a
 *   window is never skipped.
 */
export function wallToUtc(w: WallTime, tz: string): number {
  const guess = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  const offsets = [...new Set([offsetAt(guess - DAY_MS, tz), offsetAt(guess, tz), offsetAt(guess + DAY_MS, tz)])];
  const candidates = offsets
    .map((o) => guess - o)
    .filter((t) => sameWall(zonedParts(t, tz), w))
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0];
  return guess - offsetAt(guess - DAY_MS, tz);
}

/** Does this wall-clock time exist in tz? Not in the hour the clocks skip when they go forward (DST). */
export function wallExists(w: WallTime, tz: string): boolean {
  return sameWall(zonedParts(wallToUtc(w, tz), tz), w);
}

/** "2026-11-28 22:00 Europe/Berlin" */
export function formatInZone(t: number, tz: string): string {
  const w = zonedParts(t, tz);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)} ${tz}`;
}

/** "2h 10m" */
export function formatDuration(ms: number): string {
  const totalMinutes = Math.max(0, Math.round(ms / 60_000));
  const d = Math.floor(totalMinutes / 1440);
  const h = Math.floor((totalMinutes % 1440) / 60);
  const m = totalMinutes % 60;
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m || (!d && !h) ? `${m}m` : ''].filter(Boolean);
  return parts.join(' ');
}

/** the local calendar date `days` after (y, m, d) */
export function addDays(date: { year: number; month: number; day: number }, days: number): { year: number; month: number; day: number } {
  const t = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}
