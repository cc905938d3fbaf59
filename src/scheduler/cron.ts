import { parse as parseCronFields, validateDetailed } from 'node-cron';
import { addDays, wallToUtc, zonedParts } from './timezone';

/**
 * Cron occurrences computed from node-cron's own parser (same syntax and field semantics as the node-cron task
 * that drives tick()), but evaluated here against an injected `now`, so that:
 *  - a window is decided by its instant, not by watching the wall clock (a DST fall-back does not fire 02:30 twice,
 *    a spring-forward does not skip it: see wallToUtc);
 *  - a window missed while the bot was down can be found and reported on start();
 *  - tests need no real time.
 * Day-of-month and day-of-week are ANDed, like node-cron's matcher.
 */

export interface CronSpec {
  expr: string;
  seconds: number[];
  minutes: number[];
  hours: number[];
  /** numbers, or 'L' (last day of the month) */
  daysOfMonth: Array<number | 'L'>;
  months: number[];
  /** 0 = Sunday */
  daysOfWeek: number[];
}

export type CronParse = { ok: true; spec: CronSpec } | { ok: false; error: string };

export function parseCron(expr: string): CronParse {
  const text = expr.trim().replace(/\s+/g, ' ');
  const fieldCount = text.split(' ').length;
  if (fieldCount < 5 || fieldCount > 6) {
    return { ok: false, error: `"${expr}" is not a cron expression: expected 5 fields (minute hour day-of-month month day-of-week), got ${fieldCount}` };
  }
  const v = validateDetailed(text);
  if (!v.valid) {
    return { ok: false, error: `invalid cron expression "${expr}": ${v.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}` };
  }
  const f = parseCronFields(text);
  const nums = (xs: Array<number | string>, field: string): number[] | string => {
    const bad = xs.find((x) => typeof x !== 'number');
    return bad === undefined ? (xs as number[]) : `${field} value "${bad}" is not supported in a maintenance window`;
  };
  const dow = nums(f.dayOfWeek, 'day-of-week');
  if (typeof dow === 'string') return { ok: false, error: `invalid cron expression "${expr}": ${dow}` };
  const dom = f.dayOfMonth.filter((x) => x !== 'L');
  const domCheck = nums(dom, 'day-of-month');
  if (typeof domCheck === 'string') return { ok: false, error: `invalid cron expression "${expr}": ${domCheck}` };
  return {
    ok: true,
    spec: {
      expr: text,
      seconds: [...f.second].sort((a, b) => a - b),
      minutes: [...f.minute].sort((a, b) => a - b),
      hours: [...f.hour].sort((a, b) => a - b),
      daysOfMonth: [...domCheck, ...(f.dayOfMonth.includes('L') ? (['L'] as const) : [])],
      months: f.month,
      daysOfWeek: dow.map((d) => d % 7),
    },
  };
}

function dayMatches(spec: CronSpec, date: { year: number; month: number; day: number }): boolean {
  if (!spec.months.includes(date.month)) return false;
  const lastDay = new Date(Date.UTC(date.year, date.month, 0)).getUTCDate();
  const domOk = spec.daysOfMonth.some((d) => (d === 'L' ? date.day === lastDay : d === date.day));
  const weekday = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return domOk && spec.daysOfWeek.includes(weekday);
}

/**
 * Instants t with after < t <= until, ascending, at most `limit`.
 * Each distinct wall-clock match counts once (ambiguous times: the first instant; skipped times: shifted).
 */
export function occurrencesBetween(spec: CronSpec, tz: string, after: number, until: number, limit = 1000): number[] {
  const out: number[] = [];
  if (until <= after) return out;
  const first = zonedParts(after, tz);
  const last = zonedParts(until, tz);
  let date = addDays(first, -1);
  const endKey = (d: { year: number; month: number; day: number }) => d.year * 10000 + d.month * 100 + d.day;
  const stop = endKey(addDays(last, 1));
  while (endKey(date) <= stop) {
    if (dayMatches(spec, date)) {
      const dayTimes = new Set<number>();
      for (const hour of spec.hours) {
        for (const minute of spec.minutes) {
          for (const second of spec.seconds) {
            const t = wallToUtc({ ...date, hour, minute, second }, tz);
            if (t > after && t <= until) dayTimes.add(t);
          }
        }
      }
      for (const t of [...dayTimes].sort((a, b) => a - b)) {
        if (!out.includes(t)) out.push(t);
        if (out.length >= limit) return out.sort((a, b) => a - b);
      }
    }
    date = addDays(date, 1);
  }
  return out.sort((a, b) => a - b);
}

const YEAR_MS = 366 * 86_400_000;

/** The first occurrence strictly after `after`, searched up to `horizonMs` ahead (default 5 years: Feb 29). */
export function nextOccurrence(spec: CronSpec, tz: string, after: number, horizonMs = 5 * YEAR_MS): number | undefined {
  const chunk = 32 * 86_400_000;
  for (let from = after; from < after + horizonMs; from += chunk) {
    const found = occurrencesBetween(spec, tz, from, Math.min(from + chunk, after + horizonMs), 1);
    if (found.length > 0) return found[0];
  }
  return undefined;
}
