import type { Clock } from '../clock';
import { XenApiTimeoutError } from './errors';

/**
 * Deadlines in this package are ABSOLUTE times on the client's injected clock (epoch ms as clock.now() gives),
 * e.g. `{ deadlineMs: clock.now() + 20 * 60_000 }`. deadlineIn(clock, ms) builds one.
 */
export function deadlineIn(clock: Clock, ms: number): number {
  return clock.now() + ms;
}

const ONE_DAY_MS = 24 * 3600_000;

/** Throws XenApiTimeoutError if the deadline has passed; the message hints at a duration passed by mistake. */
export function assertBeforeDeadline(clock: Clock, deadlineMs: number, what: string): number {
  const now = clock.now();
  const remaining = deadlineMs - now;
  if (remaining > 0) return remaining;
  const hint =
    -remaining > ONE_DAY_MS
      ? ` (deadlineMs ${deadlineMs} is far in the past: it is an absolute time on the clock, e.g. clock.now() + budget, not a duration)`
      : '';
  throw new XenApiTimeoutError(`${what}: deadline passed${hint}`, what, deadlineMs);
}
