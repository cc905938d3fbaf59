/**
 * Waiting on the pool: watch the hosts until a condition holds, riding through the master's absence (R3.8: while
 * the master reboots nobody can connect and members enter emergency mode — expected, not a failure).
 *
 * With event.from (the real client) the wait is event-driven: one event.from with the empty token gives every
 * pool, host and host_metrics record; each later batch carries the snapshots of what changed, applied to that
 * model (pool-state.ts LiveHostsModel) and checked at once — no re-read, no poll interval between a change and the
 * check. After EVENTS_LOST, or once the master answers again, the next call starts over from the empty token.
 * While the master is unreachable the client's reconnect() retries (capped backoff) within windows of pollMs, so a
 * returning master is found within about pollMs; one that gives up early is followed by the rest of its window,
 * so a host is never asked in a busy loop (one answering garbage is retried like one that is down). Without
 * event.from (unit-test fakes) the hosts are re-read (pool, host and host_metrics only) every pollMs. Every wait goes
 * through the injected Clock and has a deadline; the caller words the timeout failure.
 */
import type { Clock } from '../clock';
import { isPoolUnavailable, xenErrorCode } from './errors';
import { LIVE_HOSTS_CLASSES, LiveHostsModel, readLiveHosts, type LiveHosts } from './pool-state';
import type { PoolClient } from './ports';

export interface WaitOptions<T> {
  client: PoolClient;
  clock: Clock;
  timeoutMs: number;
  /** re-read interval without events, and the reconnect window while the pool is unreachable (clock ms) */
  pollMs: number;
  signal?: AbortSignal;
  /** a value ends the wait; undefined keeps waiting. Called on complete states only (a whole event batch). */
  check: (pool: LiveHosts) => T | undefined;
  /** builds the error thrown on timeout from the last facts seen */
  onTimeout: (facts: { last?: LiveHosts; lastError?: unknown; waitedMs: number }) => Error;
  /** called once each time the pool becomes unreachable / reachable again */
  onUnavailable?: (err: unknown) => void;
  onAvailable?: () => void;
}

/** longest single event.from block, so a silent pool is re-checked at least this often (clock ms) */
const MAX_EVENT_WAIT_MS = 60_000;

/** retry interval while a master that accepted the login is still starting (clock ms) */
const STARTING_RETRY_MS = 1_000;

/** event.from answers meaning "start over from the empty token", not "the pool is away" */
const RESYNC_CODES = new Set(['EVENTS_LOST', 'EVENT_FROM_TOKEN_PARSE_FAILURE']);

/**
 * One source of complete host views: event-driven when the client has event.from, else a re-read per call.
 * next() returns the current view (at once after a (re)sync, otherwise once something changed or `waitMs` passed).
 */
class HostsFeed {
  private model: LiveHostsModel | undefined;
  private token = '';
  private useEvents: boolean;

  constructor(private readonly o: WaitOptions<unknown>) {
    this.useEvents = !!o.client.eventFrom;
  }

  get eventDriven(): boolean {
    return this.useEvents;
  }

  /** forget the model: the next call reads everything again (after an outage or lost events) */
  resync(): void {
    this.model = undefined;
    this.token = '';
  }

  async next(waitMs: number): Promise<LiveHosts> {
    const { client, signal } = this.o;
    if (!this.useEvents || !client.eventFrom) return readLiveHosts(client);
    const syncing = this.model === undefined || this.token === '';
    let batch;
    try {
      batch = await client.eventFrom([...LIVE_HOSTS_CLASSES], syncing ? '' : this.token, syncing ? 0 : waitMs / 1000, { signal });
    } catch (err) {
      if (signal?.aborted || isPoolUnavailable(err)) throw err;
      const code = xenErrorCode(err);
      if (!syncing && code && RESYNC_CODES.has(code)) {
        this.resync();
        return this.next(waitMs);
      }
      // event.from does not work here (not a transport problem): re-read the hosts instead, every pollMs
      this.useEvents = false;
      return readLiveHosts(client);
    }
    const model = syncing ? new LiveHostsModel() : this.model!;
    for (const ev of batch.events) model.apply(ev.class, ev.ref, ev.operation, ev.snapshot);
    this.model = model;
    this.token = batch.token;
    return model.view();
  }
}

export async function waitForPool<T>(o: WaitOptions<T>): Promise<T> {
  const started = o.clock.now();
  const deadline = started + o.timeoutMs;
  const feed = new HostsFeed(o as WaitOptions<unknown>);
  let last: LiveHosts | undefined;
  let lastError: unknown;
  let unavailable = false;
  /**
   * reconnect() found a master, yet the next call failed (HOST_STILL_BOOTING while its xapi starts): wait a short
   * retry interval before trying again — short, because the master is about to answer — instead of looping busily
   */
  let failedAfterReconnect = false;

  for (let first = true; ; first = false) {
    o.signal?.throwIfAborted();
    const now = o.clock.now();
    // look at least once, even when resumed past the deadline: a host that is back must not be failed
    if (now >= deadline && !first) throw o.onTimeout({ last, lastError, waitedMs: now - started });
    try {
      last = await feed.next(Math.max(0, Math.min(deadline - now, MAX_EVENT_WAIT_MS)));
      failedAfterReconnect = false;
      if (unavailable) {
        unavailable = false;
        o.onAvailable?.();
      }
      const value = o.check(last);
      if (value !== undefined) return value;
    } catch (err) {
      o.signal?.throwIfAborted();
      if (!isPoolUnavailable(err)) throw err;
      lastError = err;
      feed.resync();
      if (!unavailable) {
        unavailable = true;
        o.onUnavailable?.(err);
      }
      if (failedAfterReconnect) await sleepUntilDeadline(o, deadline, Math.min(o.pollMs, STARTING_RETRY_MS));
      const remaining = deadline - o.clock.now();
      if (remaining > 0) {
        // the client walks the master then the known members, following HOST_IS_SLAVE (deadline: absolute clock
        // time); short windows keep its backoff short, so a master that is back is found within about pollMs
        const windowEnd = o.clock.now() + Math.min(remaining, Math.max(o.pollMs, 1));
        try {
          await o.client.reconnect({ deadlineMs: windowEnd });
          failedAfterReconnect = true;
        } catch {
          failedAfterReconnect = false;
          // it waited out its window, unless it gave up at once (wrong credentials, an unexpected error): then the
          // rest of the window, else this loop would hammer that host with no pause
          const rest = windowEnd - o.clock.now();
          if (rest > 0) await o.clock.sleep(rest, o.signal);
        }
      }
      continue;
    }
    if (!feed.eventDriven) await sleepUntilDeadline(o, deadline);
  }
}

async function sleepUntilDeadline(o: WaitOptions<unknown>, deadline: number, ms = o.pollMs): Promise<void> {
  await o.clock.sleep(Math.max(0, Math.min(ms, deadline - o.clock.now())), o.signal);
}
