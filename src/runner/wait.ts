/**
 * Waiting on the pool: re-read the live state until a condition holds, riding through the master's absence
 * (R3.8: while the master reboots nobody can connect and members enter emergency mode — expected, not a failure).
 * Between reads the wait blocks on event.from (host and host_metrics changes) when the client offers it, so a host
 * coming back is noticed at once; otherwise it polls. Every wait goes through the injected Clock and has a
 * deadline; the caller words the timeout failure.
 */
import type { Clock } from '../clock';
import { isPoolUnavailable } from './errors';
import { readLivePool, type LivePool } from './pool-state';
import type { PoolClient } from './ports';

export interface WaitOptions<T> {
  client: PoolClient;
  clock: Clock;
  timeoutMs: number;
  /** polling interval without events, and while the pool is unreachable (clock ms) */
  pollMs: number;
  signal?: AbortSignal;
  /** a value ends the wait; undefined keeps waiting */
  check: (pool: LivePool) => T | undefined;
  /** builds the error thrown on timeout from the last facts seen */
  onTimeout: (facts: { last?: LivePool; lastError?: unknown; waitedMs: number }) => Error;
  /** called once each time the pool becomes unreachable / reachable again */
  onUnavailable?: (err: unknown) => void;
  onAvailable?: () => void;
  /** event classes that may change the answer (default host, host_metrics) */
  classes?: string[];
}

/** longest single event.from block, so the state is re-read at least this often (clock ms) */
const MAX_EVENT_WAIT_MS = 60_000;

export async function waitForPool<T>(o: WaitOptions<T>): Promise<T> {
  const started = o.clock.now();
  const deadline = started + o.timeoutMs;
  const classes = o.classes ?? ['host', 'host_metrics'];
  let last: LivePool | undefined;
  let lastError: unknown;
  let unavailable = false;
  let token = '';

  const useEvents = async (): Promise<boolean> => {
    if (!o.client.eventFrom || unavailable) return false;
    if (token !== '') return true;
    try {
      token = (await o.client.eventFrom(classes, '', 0, { signal: o.signal })).token; // a token from before the read
      return true;
    } catch {
      return false;
    }
  };

  for (;;) {
    o.signal?.throwIfAborted();
    const events = await useEvents();
    try {
      last = await readLivePool(o.client);
      if (unavailable) {
        unavailable = false;
        o.onAvailable?.();
      }
      const value = o.check(last);
      if (value !== undefined) return value;
    } catch (err) {
      if (!isPoolUnavailable(err)) throw err;
      lastError = err;
      token = '';
      if (!unavailable) {
        unavailable = true;
        o.onUnavailable?.(err);
      }
      const remaining = deadline - o.clock.now();
      if (remaining > 0) {
        // the client walks the master then the known members, following HOST_IS_SLAVE (deadline: absolute clock time)
        await o.client.reconnect({ deadlineMs: o.clock.now() + Math.min(remaining, Math.max(o.pollMs * 10, 1)) }).catch(() => undefined);
      }
    }
    const now = o.clock.now();
    if (now >= deadline) throw o.onTimeout({ last, lastError, waitedMs: now - started });
    const budget = Math.max(0, deadline - now);
    if (events && !unavailable && o.client.eventFrom) {
      try {
        token = (await o.client.eventFrom(classes, token, Math.min(budget, MAX_EVENT_WAIT_MS) / 1000, { signal: o.signal })).token;
        continue;
      } catch {
        // EVENTS_LOST, a reset, the master going away: re-read (and reconnect if needed) on the next turn
        o.signal?.throwIfAborted();
        token = '';
      }
    }
    await o.clock.sleep(Math.min(o.pollMs, budget), o.signal);
  }
}
