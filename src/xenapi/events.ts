import { EventEmitter } from 'node:events';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { CallOptions, EventFromResult } from './types';
import { assertBeforeDeadline } from './deadline';
import { XenApiConnectionError, XenApiTimeoutError, isXenApiError } from './errors';
import { parseRecord, recordClassOf, type RecordClass, type RecordOf } from './records';

/**
 * Watching the pool through event.from(classes, token, timeout) (reference xenapi.md §2 event).
 * The first call uses the empty token, so every current object arrives as an `add` with its record: consumers see
 * the present state first, then changes. The watcher survives:
 * - EVENTS_LOST / EVENT_FROM_TOKEN_PARSE_FAILURE: re-reads everything from a fresh (empty) token;
 * - SESSION_INVALID: a login again (call() retries once by itself; a second failure makes the watcher log in), then a
 *   full re-read: a session that changed, in the client or here, is taken for an xapi restart, after which the old
 *   token is not trusted (see tokenTrusted below);
 * - a master restart: client.reconnect() within the watcher's budget, then a full re-read.
 * After a re-read, objects that disappeared meanwhile are reported as synthetic `del` events (resync: true).
 */

/** What the watcher needs from the client (XenApiClient implements it). */
export interface EventSource {
  eventFrom(classes: string[], token: string, timeoutSeconds: number, opts?: CallOptions): Promise<EventFromResult>;
  login(): Promise<void>;
  reconnect(opts: { deadlineMs: number }): Promise<void>;
  /**
   * The session the next call goes out with (XenApiClient: logs in first if it has none). When given, the watcher
   * compares it around each event.from to notice a re-login done inside the source (call() after SESSION_INVALID).
   */
  sessionRef?(): Promise<string>;
  /** the source's clock, used for deadlines when the options give none */
  readonly clock?: Clock;
}

export interface XenEvent {
  /** xapi's class name as sent on the wire: lower case ("vm", "host", "task") */
  class: string;
  operation: 'add' | 'mod' | 'del' | string;
  ref: string;
  /** the record in wire form (int64 as strings); absent on del. Use eventRecord() for the typed record. */
  snapshot?: Record<string, unknown>;
  /** true when the event comes from a full (re-)read: the initial state, or after EVENTS_LOST / a master restart */
  resync: boolean;
}

export interface EventWatcherOptions {
  /** event.from classes: "*", class names, or "class/ref" */
  classes: string[];
  clock?: Clock;
  /** event.from timeout in (clock) seconds; default 30 */
  pollSeconds?: number;
  /**
   * clock ms allowed for each reconnect after the master stops answering; default: until deadlineMs if given,
   * else 2 h (a master's install takes ~40 min plus boot)
   */
  reconnectBudgetMs?: number;
  /** absolute clock time at which the watcher ends with XenApiTimeoutError */
  deadlineMs?: number;
  /**
   * EVENTS_LOST (or a changed session) again and again (a pool churning faster than xapi's event buffer, or a broken
   * master): the first one re-reads at once, each further one in a row waits first, doubling from initialMs up to maxMs (clock ms; defaults
   * 1 s and 30 s). The streak ends with the first incremental batch that arrives.
   */
  lostBackoff?: { initialMs?: number; maxMs?: number };
}

/** The typed record of an event's snapshot (records.ts schemas), or undefined for classes without a schema / del. */
export function eventRecord<C extends RecordClass>(ev: XenEvent, cls?: C): RecordOf<C> | undefined {
  const c = cls ?? recordClassOf(ev.class);
  if (!c || !ev.snapshot) return undefined;
  return parseRecord(c, ev.ref, ev.snapshot) as RecordOf<C>;
}

export class EventWatcher extends EventEmitter {
  private readonly clock: Clock;
  private readonly pollSeconds: number;
  private readonly reconnectBudgetMs: number;
  private readonly lostBackoff: { initialMs: number; maxMs: number };
  private lostInARow = 0;
  private abort = new AbortController();
  private running = false;

  constructor(
    private readonly source: EventSource,
    private readonly opts: EventWatcherOptions,
  ) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.pollSeconds = opts.pollSeconds ?? 30;
    this.reconnectBudgetMs = opts.reconnectBudgetMs ?? 2 * 3600_000;
    this.lostBackoff = { initialMs: opts.lostBackoff?.initialMs ?? 1000, maxMs: opts.lostBackoff?.maxMs ?? 30_000 };
  }

  /** Callback mode: emits 'event' (XenEvent), 'resync' (reason), 'error' (fatal), 'end'. */
  start(): this {
    void (async () => {
      try {
        for await (const ev of this) this.emit('event', ev);
      } catch (e) {
        if (this.listenerCount('error') > 0) this.emit('error', e);
      } finally {
        this.emit('end');
      }
    })();
    return this;
  }

  stop(): void {
    this.abort.abort(new Error('event watcher stopped'));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<XenEvent> {
    if (this.running) throw new Error('this EventWatcher is already being consumed');
    this.running = true;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    const signal = this.abort.signal;
    let token = '';
    /** the session event.from ran under when it handed out `token` (undefined when the source cannot tell) */
    let tokenSession: string | undefined;
    let sessionRetries = 0;
    const live = new Map<string, string>(); // ref -> class, to report deletions missed during an outage
    try {
      while (!signal.aborted) {
        let waitS = this.pollSeconds;
        if (this.opts.deadlineMs !== undefined) {
          const remaining = assertBeforeDeadline(this.clock, this.opts.deadlineMs, `waiting for events on ${this.opts.classes.join(',')}`);
          waitS = Math.min(waitS, remaining / 1000);
        }
        let batch: EventFromResult;
        let trusted: boolean;
        try {
          const before = await this.source.sessionRef?.();
          batch = await this.source.eventFrom(this.opts.classes, token, waitS, { signal });
          const after = await this.source.sessionRef?.();
          trusted = tokenTrusted(token, tokenSession, before, after);
          tokenSession = after;
        } catch (e) {
          if (signal.aborted) return;
          token = await this.recover(e, () => ++sessionRetries);
          if (token === '' && !(await this.backOff(signal))) return;
          continue;
        }
        sessionRetries = 0;
        if (!trusted) {
          // the answer to an old token from a (possibly) restarted xapi: dropped, the full re-read supersedes it; a
          // session that changes again and again is a streak like EVENTS_LOST, and backs off the same way
          this.lostInARow += 1;
          this.emit('resync', 'the session changed (xapi restarted?): re-reading from an empty token');
          token = '';
          if (!(await this.backOff(signal))) return;
          continue;
        }
        const fullRead = token === '';
        if (!fullRead) this.lostInARow = 0;
        token = batch.token;
        const seen = new Set<string>();
        for (const ev of batch.events) {
          if (signal.aborted) return;
          seen.add(ev.ref);
          if (ev.operation === 'del') live.delete(ev.ref);
          else live.set(ev.ref, ev.class);
          yield { class: ev.class, operation: ev.operation, ref: ev.ref, snapshot: ev.snapshot, resync: fullRead };
        }
        if (fullRead) {
          for (const [ref, cls] of [...live]) {
            if (seen.has(ref)) continue;
            live.delete(ref);
            yield { class: cls, operation: 'del', ref, resync: true };
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
  /**
   * On a streak of full re-reads (EVENTS_LOST, or a session changed, more than once in a row) waits before the next
   * one instead of re-reading the whole pool in a tight loop. False when the watcher was stopped meanwhile.
   */
  private async backOff(signal: AbortSignal): Promise<boolean> {
    if (this.lostInARow <= 1) return true;
    const delay = Math.min(this.lostBackoff.maxMs, this.lostBackoff.initialMs * 2 ** (this.lostInARow - 2));
    const left = this.opts.deadlineMs === undefined ? delay : Math.min(delay, Math.max(0, this.opts.deadlineMs - this.clock.now()));
    try {
      await this.clock.sleep(left, signal);
    } catch {
      if (signal.aborted) return false;
    }
    return true;
  }

  /**
   * Decides how to go on after a failed event.from; returns the token to continue from, or throws (fatal).
   * A re-login that fails because the master went away falls through to the reconnect path.
   */
  private async recover(e: unknown, nextSessionRetry: () => number): Promise<string> {
    if (isXenApiError(e, 'EVENTS_LOST') || isXenApiError(e, 'EVENT_FROM_TOKEN_PARSE_FAILURE')) {
      this.lostInARow += 1;
      this.emit('resync', (e as Error).message);
      return '';
    }
    if (isXenApiError(e, 'SESSION_INVALID') && nextSessionRetry() <= 3) {
      try {
        await this.source.login();
      } catch (e2) {
        return this.recover(e2, nextSessionRetry);
      }
      // a new session: xapi may have restarted, and the old token is not trusted (tokenTrusted)
      this.emit('resync', `${(e as Error).message}: logged in again`);
      return '';
    }
    if (e instanceof XenApiConnectionError) {
      const budgetEnd = this.clock.now() + this.reconnectBudgetMs;
      const { deadlineMs: until, reconnectBudgetMs: explicit } = this.opts;
      const deadlineMs = until === undefined ? budgetEnd : explicit === undefined ? until : Math.min(budgetEnd, until);
      this.emit('resync', `master unreachable: ${e.message}`);
      await this.source.reconnect({ deadlineMs });
      return '';
    }
    throw e;
  }
}

/**
 * Whether a batch answered to `token` can be used, given the session that token was handed out under and the
 * session before and after this event.from. An empty token always can, unless the session changed during the call
 * (it is then unknown which session the new token belongs to).
 *
 * Why a changed session means "re-read from the empty token" (xen-api master, ocaml/):
 * - sessions (and tasks) are not persisted (idl/datamodel.ml: session and task are ~persist:PersistNothing), so an
 *   xapi restart makes the old session SESSION_INVALID;
 * - on start-up xapi reloads its database with the generation count of the last flush to disk
 *   (database/db_xml.ml From: manifest `generation_count`; database/backend_xml.ml populate;
 *   database/db_connections.ml choose). That flush is coalesced to once per 5 minutes
 *   (database/db_cache_impl.ml spawn_db_flush_threads) and forced only on SIGTERM/SIGINT
 *   (xapi/xapi.ml cleanup_handler -> exit_on_next_flush): after a crash, a kill or a watchdog restart the counter
 *   starts again below the generation in our token, and changes made since the flush are simply gone. Even after a
 *   clean restart, the reset of non-persistent data does not bump the rows' generation
 *   (database/db_backend.ml blow_away_non_persistent_fields), and tasks vanish with no `del`;
 * - the per-table deleted queue lives only in memory (database/db_cache_types.ml Table.remove/fold_over_deleted);
 * - event.from parses any "int64,int64" token (xapi/xapi_event.ml Token.of_string: no
 *   EVENT_FROM_TOKEN_PARSE_FAILURE) and never raises EVENTS_LOST (only the deprecated event.next does, Next.events_lost):
 *   from_inner/collect_events return rows with modified > token and wait while there are none, so with a token above
 *   the restarted counter it answers empty batches until the counter passes the token, and never reports the changes
 *   in between. No error tells the client.
 */
function tokenTrusted(token: string, tokenSession: string | undefined, before: string | undefined, after: string | undefined): boolean {
  if (after !== before) return false;
  return token === '' || before === tokenSession;
}

export interface WaitForOptions {
  classes: string[];
  /** absolute clock time; past it, waitFor rejects with XenApiTimeoutError */
  deadlineMs: number;
  clock?: Clock;
  pollSeconds?: number;
  reconnectBudgetMs?: number;
}

/**
 * Resolves with the first event for which `predicate` holds. The current records come first (as `add`
 * events), so a condition that is already true resolves at once. Typical use: wait for a host to come back,
 * `ev.class === 'host' && ev.ref === h && ev.snapshot?.other_config.boot_time !== before` (R3.7).
 */
export async function waitFor(
  source: EventSource,
  predicate: (ev: XenEvent) => boolean,
  opts: WaitForOptions,
): Promise<XenEvent> {
  const watcher = new EventWatcher(source, { ...opts, clock: opts.clock ?? source.clock });
  try {
    for await (const ev of watcher) if (predicate(ev)) return ev;
  } finally {
    watcher.stop();
  }
  throw new XenApiTimeoutError('event watch ended before the condition held', 'waitFor', opts.deadlineMs);
}
