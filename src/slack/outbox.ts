import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { OutboxRecord, OutboxRef, OutboxStore } from '../store/types';
import { classifySlackError } from './errors';

/**
 * The outbox: every message the bot sends goes through here. Callers enqueue and return at once
 * (a run never waits on Slack); one worker per queue (per channel) delivers in order, about one
 * message per second, honours 429 Retry-After, retries transient failures with capped backoff, and
 * keeps retrying undeliverable messages (logging why) instead of dropping them.
 *
 * With a store, every message is persisted (store.outbox) before it is attempted and deleted once Slack
 * accepted it (or refused it for good, logged): a message still pending when the process stops or crashes
 * is delivered by the next process, in order, before that process's own messages of the same queue
 * (`restore()`; until then the workers wait). Delivery is at least once: a crash between Slack's answer
 * and the delete re-sends that one message. Entries hold method and args only; the token is added by the
 * web client at send time and never stored.
 */

export type SlackMethod = 'chat.postMessage' | 'chat.update' | 'chat.postEphemeral';

export interface SlackRequest {
  method: SlackMethod;
  args: Record<string, unknown>;
}

/** What is stored for a restart: the request, with args that are filled in from refs when it is sent. */
export type PersistedRequest = SlackRequest & { refArgs?: Record<string, OutboxRef> };

/** The subset of @slack/web-api's WebClient the outbox uses (injectable in tests). */
export interface SlackApiClient {
  apiCall(method: string, args: Record<string, unknown>): Promise<object>;
}

export interface OutboxJob {
  /** order is kept per queue; use the channel id (or a name for ephemerals) */
  queue: string;
  /** for logs: "header pool-a-20261125-1", never message text */
  describe: string;
  /** jobs with the same key that are still waiting are coalesced: only the newest is sent */
  coalesceKey?: string;
  /** builds the request at send time (so it can use a ts learnt from an earlier job); undefined = nothing to send */
  build: () => Promise<SlackRequest | undefined> | SlackRequest | undefined;
  /** the answer of a successful call */
  onSent?: (response: Record<string, unknown>) => void | Promise<void>;
  /** the same request without blocks, used once if Slack rejects the content */
  degrade?: (req: SlackRequest) => SlackRequest | undefined;
  /** a replacement request when the target message no longer exists (chat.update → post a reply) */
  fallback?: (req: SlackRequest) => SlackRequest | undefined;
  /**
   * The request as stored for a restart, taken at enqueue time; undefined = nothing to store.
   * Default: `build()`, which must then be synchronous and free of side effects.
   */
  persist?: () => PersistedRequest | undefined;
  /** this message, once posted, is this ref (a run header, an approval): stored entries may refer to it */
  provides?: OutboxRef;
}

export interface OutboxOptions {
  client: SlackApiClient;
  clock: Clock;
  logger: Logger;
  /** spacing between two calls of one queue (Slack: ~1 message per second per channel) */
  minIntervalMs?: number;
  /** first retry delay after a transient failure; doubles up to maxBackoffMs */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** where pending messages survive a restart; without it they live in memory only (lost at exit, logged) */
  store?: OutboxStore;
  /** a ts not learnt by this outbox (a header posted by an earlier process and saved in the run) */
  resolveRef?: (ref: OutboxRef) => Promise<{ ts: string; channel?: string } | undefined>;
  /** a message restored from the store that `provides` a ref was posted */
  onRefLearnt?: (ref: OutboxRef, ts: string, channel: string | undefined) => void | Promise<void>;
}

type StoredEntry = Omit<OutboxRecord, 'id'>;

interface QueuedJob extends OutboxJob {
  attempts: number;
  inFlight: boolean;
  degraded: boolean;
  /** what was stored for this job (compared with the built request) */
  entry?: StoredEntry;
  /** resolves to the store id once written (undefined: not stored) */
  stored: Promise<string | undefined>;
}

const refName = (ref: OutboxRef) => (ref.key === undefined ? `header ${ref.runId}` : `${ref.key} ${ref.runId}`);

export class Outbox {
  private readonly queues = new Map<string, QueuedJob[]>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly abort = new AbortController();
  private readonly minIntervalMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly log: Logger;
  private delivered = 0;
  /** store writes not finished yet (stop() waits for them) */
  private readonly writes = new Set<Promise<unknown>>();
  /** refs learnt from messages posted by this outbox */
  private readonly learnt = new Map<string, { ts: string; channel?: string }>();
  /** workers wait for restore() when there is a store, so that older messages go first */
  private readonly restored: Promise<void>;
  private openGate: () => void = () => undefined;
  private restoreStarted = false;
  /** ids this outbox stored itself (restore() skips them: they are queued already) */
  private readonly own = new Set<string>();
  /** stored ids loaded by restore()/adoptStored() and not delivered yet */
  private readonly queuedIds = new Set<string>();

  constructor(private readonly opts: OutboxOptions) {
    this.minIntervalMs = opts.minIntervalMs ?? 1000;
    this.baseBackoffMs = opts.baseBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5 * 60_000;
    this.log = opts.logger.child({ component: 'slack-outbox' });
    this.restored = opts.store ? new Promise((resolve) => (this.openGate = resolve)) : Promise.resolve();
  }

  /**
   * Loads what an earlier process left in the store and queues it, per queue in its original order and
   * ahead of anything enqueued since; then lets the workers go. Returns how many messages were restored.
   * A store that cannot be read is logged (the entries stay for the next start) and does not hold new messages.
   */
  async restore(): Promise<number> {
    if (!this.opts.store || this.restoreStarted) return 0;
    this.restoreStarted = true;
    try {
      return await this.load();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'could not read the stored Slack outbox; its messages stay stored for the next start');
      return 0;
    } finally {
      this.openGate();
    }
  }

  /**
   * Several replicas (issue 16): queues the stored messages this outbox may send now and does not hold yet —
   * those of a replica that stopped, claimed by the store (its list() is the replica's claim). Called periodically.
   */
  async adoptStored(): Promise<number> {
    if (!this.opts.store || !this.restoreStarted || this.abort.signal.aborted) return 0;
    return this.load().catch((e: unknown) => {
      this.log.warn({ err: (e as Error).message }, 'could not look for stored Slack messages of stopped replicas; will retry');
      return 0;
    });
  }

  private async load(): Promise<number> {
    const store = this.opts.store!;
    // messages enqueued before restore() are being stored: wait, so that the list can tell them apart
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    const records = (await store.list()).filter((r) => !this.own.has(r.id) && !this.queuedIds.has(r.id));
    for (const r of records) this.queuedIds.add(r.id);
    const byQueue = new Map<string, QueuedJob[]>();
    for (const record of records) {
      const list = byQueue.get(record.queue) ?? [];
      list.push(this.fromRecord(record));
      byQueue.set(record.queue, list);
    }
    for (const [name, jobs] of byQueue) {
      const queue = this.queues.get(name) ?? [];
      this.queues.set(name, queue);
      // older than anything this process queued, but behind a message being sent right now
      queue.splice(queue[0]?.inFlight ? 1 : 0, 0, ...jobs);
      this.ensureWorker(name);
    }
    if (records.length > 0) {
      this.log.info({ restored: records.length, queues: byQueue.size }, `${records.length} Slack messages left by an earlier run of the bot (or a stopped replica) are sent first`);
    }
    return records.length;
  }

  /** Queues a job and returns at once. */
  enqueue(job: OutboxJob): void {
    if (this.abort.signal.aborted) {
      this.log.error({ job: job.describe, queue: job.queue }, 'Slack message not queued: the outbox is stopped');
      return;
    }
    const queue = this.queues.get(job.queue) ?? [];
    this.queues.set(job.queue, queue);
    const entry = this.entryOf(job);
    const i = job.coalesceKey ? queue.findIndex((q) => !q.inFlight && q.coalesceKey === job.coalesceKey) : -1;
    if (i >= 0) {
      // a newer version of a waiting job (a header refresh): the waiting one builds from the latest state,
      // and its stored entry is replaced by the newer one (only the latest is kept)
      queue[i] = { ...job, attempts: 0, inFlight: false, degraded: false, entry, stored: this.storeReplace(queue[i].stored, entry) };
    } else {
      queue.push({ ...job, attempts: 0, inFlight: false, degraded: false, entry, stored: this.storeAdd(entry) });
    }
    this.ensureWorker(job.queue);
  }

  private ensureWorker(name: string): void {
    if (this.workers.has(name)) return;
    const worker = this.work(name).finally(() => {
      this.workers.delete(name);
      if (this.pending() === 0) this.idleWaiters.splice(0).forEach((w) => w());
    });
    this.workers.set(name, worker);
  }

  // -- persistence -------------------------------------------------------------------------------

  private entryOf(job: OutboxJob): StoredEntry | undefined {
    if (!this.opts.store) return undefined;
    let request: PersistedRequest | undefined;
    try {
      if (job.persist) request = job.persist();
      else {
        const built = job.build();
        if (built && typeof (built as Promise<unknown>).then === 'function') {
          this.log.error({ job: job.describe }, 'a Slack message built asynchronously has no persist(): it is kept in memory only');
          return undefined;
        }
        request = built as SlackRequest | undefined;
      }
    } catch (e) {
      this.log.error({ job: job.describe, err: (e as Error).message }, 'could not take the stored form of a Slack message; kept in memory only');
      return undefined;
    }
    if (!request) return undefined;
    const stored: StoredEntry = {
      queue: job.queue,
      describe: job.describe,
      request: { method: request.method, args: request.args, ...(request.refArgs && Object.keys(request.refArgs).length > 0 ? { refArgs: request.refArgs } : {}) },
      degradable: job.degrade !== undefined,
      createdAt: this.opts.clock.now(),
    };
    if (job.coalesceKey) stored.coalesceKey = job.coalesceKey;
    if (job.provides) stored.provides = job.provides;
    // JSON form: undefined args (a ts not known yet) are dropped, exactly as they will read back
    return JSON.parse(JSON.stringify(stored)) as StoredEntry;
  }

  private track<T>(write: Promise<T>): Promise<T> {
    this.writes.add(write);
    write.then(
      () => this.writes.delete(write),
      () => this.writes.delete(write),
    );
    return write;
  }

  private storeAdd(entry: StoredEntry | undefined): Promise<string | undefined> {
    const store = this.opts.store;
    if (!store || !entry) return Promise.resolve(undefined);
    return this.track(
      store.add(entry).then(
        (id) => {
          this.own.add(id);
          return id;
        },
        (e: unknown) => {
          this.log.error({ job: entry.describe, err: (e as Error).message }, 'could not store a Slack message; it is kept in memory only');
          return undefined;
        },
      ),
    );
  }

  private storeReplace(previous: Promise<string | undefined>, entry: StoredEntry | undefined): Promise<string | undefined> {
    return this.track(
      previous.then(async (id) => {
        if (id === undefined) return this.storeAdd(entry);
        if (!entry) {
          await this.storeDelete(id, 'coalesced');
          return undefined;
        }
        try {
          return (await this.opts.store!.replace({ ...entry, id })) ? id : this.storeAdd(entry);
        } catch (e) {
          this.log.error({ job: entry.describe, err: (e as Error).message }, 'could not update a stored Slack message');
          return id;
        }
      }),
    );
  }

  private async storeDelete(id: string, describe: string): Promise<void> {
    try {
      await this.track(this.opts.store!.delete(id));
    } catch (e) {
      this.log.error({ job: describe, err: (e as Error).message }, 'could not remove a delivered Slack message from the store; it may be sent again after a restart');
    }
  }

  /** The stored form is the request as built at send time (refs resolved), so a restart re-sends exactly that. */
  private async storeBuilt(job: QueuedJob, request: SlackRequest): Promise<void> {
    const id = await job.stored;
    if (id === undefined || !job.entry) return;
    const entry: StoredEntry = JSON.parse(JSON.stringify({ ...job.entry, request: { method: request.method, args: request.args } })) as StoredEntry;
    if (JSON.stringify(entry.request) === JSON.stringify(job.entry.request)) return;
    try {
      await this.track(this.opts.store!.replace({ ...entry, id }));
      job.entry = entry;
    } catch (e) {
      this.log.error({ job: job.describe, err: (e as Error).message }, 'could not update a stored Slack message');
    }
  }

  /** Done with a job (delivered, refused for good, or nothing to send): its stored entry goes. */
  private async forget(job: QueuedJob): Promise<void> {
    const id = await job.stored;
    if (id === undefined) return;
    await this.storeDelete(id, job.describe);
    this.own.delete(id);
    this.queuedIds.delete(id);
  }

  /** A job for an entry an earlier process stored: refs are resolved when it is sent. */
  private fromRecord(record: OutboxRecord): QueuedJob {
    const { id, ...entry } = record;
    return {
      queue: record.queue,
      describe: `${record.describe} (stored)`,
      coalesceKey: record.coalesceKey,
      provides: record.provides,
      build: () => this.resolveStored(record),
      degrade: record.degradable ? withoutBlocks : undefined,
      onSent: async (res) => {
        if (!record.provides || typeof res.ts !== 'string') return;
        const channel = typeof res.channel === 'string' ? res.channel : undefined;
        this.learnt.set(refName(record.provides), { ts: res.ts, channel });
        await this.opts.onRefLearnt?.(record.provides, res.ts, channel);
      },
      attempts: 0,
      inFlight: false,
      degraded: false,
      entry,
      stored: Promise.resolve(id),
    };
  }

  private async lookup(ref: OutboxRef): Promise<{ ts: string; channel?: string } | undefined> {
    const known = this.learnt.get(refName(ref));
    if (known) return known;
    try {
      return await this.opts.resolveRef?.(ref);
    } catch (e) {
      this.log.warn({ ref: refName(ref), err: (e as Error).message }, 'could not look up a Slack message ts');
      return undefined;
    }
  }

  /**
   * A stored request with its refs filled in: `ts` (the message to update; when unknown the update is
   * posted as a new message), `thread_ts` (the run header; when unknown the message goes to the channel).
   */
  private async resolveStored(record: OutboxRecord): Promise<SlackRequest> {
    let request: SlackRequest = { method: record.request.method as SlackMethod, args: { ...record.request.args } };
    const refArgs = record.request.refArgs ?? {};
    if (refArgs.ts) {
      const found = await this.lookup(refArgs.ts);
      if (found) request.args = { ...request.args, ts: found.ts, ...(found.channel ? { channel: found.channel } : {}) };
      else {
        this.log.warn({ job: record.describe, ref: refName(refArgs.ts) }, 'the message to update was never posted; posting it as a new message');
        request = asNewMessage(request);
      }
    }
    if (refArgs.thread_ts && request.method === 'chat.postMessage') {
      const found = await this.lookup(refArgs.thread_ts);
      if (found) request.args = { ...request.args, thread_ts: found.ts, ...(found.channel ? { channel: found.channel } : {}) };
      else this.log.warn({ job: record.describe, ref: refName(refArgs.thread_ts) }, 'the thread of this message is unknown; posting it in the channel');
    }
    return request;
  }

  /**
   * A call that cannot wait in a queue (views.open: its trigger_id expires after ~3 s). No retry:
   * the caller tells the user when it fails.
   */
  async callNow(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    return (await this.opts.client.apiCall(method, args)) as Record<string, unknown>;
  }

  /** Jobs not yet delivered, across queues. */
  pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  deliveredCount(): number {
    return this.delivered;
  }

  /** Resolves when every queue is empty (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.pending() === 0 && this.workers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops the workers; what is still queued is logged as undelivered, never dropped silently. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('outbox stopped'));
    this.openGate();
    await Promise.allSettled([...this.workers.values()]);
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    const left = this.pending();
    if (left > 0) {
      if (this.opts.store) this.log.warn({ undelivered: left }, `${left} Slack messages were not delivered before shutdown; they are kept in the state store and sent at the next start`);
      else this.log.warn({ undelivered: left }, `${left} Slack messages were not delivered before shutdown (no state store: they are lost)`);
    }
    this.idleWaiters.splice(0).forEach((w) => w());
  }

  private async sleep(ms: number): Promise<boolean> {
    if (ms <= 0) return !this.abort.signal.aborted;
    try {
      await this.opts.clock.sleep(ms, this.abort.signal);
      return true;
    } catch {
      return false;
    }
  }

  private async work(name: string): Promise<void> {
    const queue = this.queues.get(name)!;
    await this.restored;
    while (queue.length > 0 && !this.abort.signal.aborted) {
      const job = queue[0];
      job.inFlight = true;
      const sent = await this.deliver(job);
      if (!sent) return; // stopped: a stored job stays stored
      await this.forget(job);
      queue.shift();
      if (queue.length > 0 && !(await this.sleep(this.minIntervalMs))) return;
    }
    if (queue.length === 0) this.queues.delete(name);
  }

  /** Delivers one job, retrying until it succeeds or the outbox stops. */
  private async deliver(job: QueuedJob): Promise<boolean> {
    let request: SlackRequest | undefined;
    try {
      request = await job.build();
    } catch (e) {
      this.log.error({ job: job.describe, err: (e as Error).message }, 'could not build a Slack message; skipped');
      return true;
    }
    if (request) await this.storeBuilt(job, request);
    while (request && !this.abort.signal.aborted) {
      try {
        const response = (await this.opts.client.apiCall(request.method, request.args)) as Record<string, unknown>;
        this.delivered++;
        if (job.provides && typeof response.ts === 'string') {
          this.learnt.set(refName(job.provides), { ts: response.ts, channel: typeof response.channel === 'string' ? response.channel : undefined });
        }
        try {
          await job.onSent?.(response);
        } catch (e) {
          this.log.error({ job: job.describe, err: (e as Error).message }, 'after-send bookkeeping failed');
        }
        return true;
      } catch (err) {
        job.attempts++;
        const failure = classifySlackError(err);
        const ctx = { job: job.describe, queue: job.queue, method: request.method, attempt: job.attempts };
        if (failure.kind === 'rate-limited') {
          this.log.warn({ ...ctx, retryAfterMs: failure.retryAfterMs }, 'Slack rate limit: waiting Retry-After');
          if (!(await this.sleep(failure.retryAfterMs))) return false;
          continue;
        }
        if (failure.kind === 'bad-content' && !job.degraded && job.degrade) {
          job.degraded = true;
          this.log.error({ ...ctx, reason: failure.reason }, 'Slack rejected the message content; sending the text-only version');
          request = job.degrade(request);
          continue;
        }
        if (failure.kind === 'permanent' && (failure.reason === 'message_not_found' || failure.reason === 'cant_update_message') && request.method === 'chat.update') {
          // the message to edit is gone (deleted, or never delivered): say it in a new message instead
          this.log.warn({ ...ctx, reason: failure.reason }, 'the message to update is gone; posting a new one instead');
          request = job.fallback ? job.fallback(request) : asNewMessage(request);
          job.fallback = undefined;
          continue;
        }
        if (failure.kind === 'bad-content') {
          // the text-only version was refused too: retrying the same content cannot succeed
          this.log.error({ ...ctx, reason: failure.reason }, 'Slack refused this message even as text; it was not delivered');
          return true;
        }
        const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(job.attempts - 1, 20));
        if (failure.kind === 'permanent') this.log.error({ ...ctx, reason: failure.reason, hint: failure.hint, retryInMs: delay }, `Slack refused a message (${failure.reason}): ${failure.hint}; kept in the outbox and retried`);
        else this.log.warn({ ...ctx, reason: failure.reason, retryInMs: delay }, 'Slack call failed; retrying');
        if (!(await this.sleep(delay))) return false;
      }
    }
    return !this.abort.signal.aborted || request === undefined;
  }
}

/** The same request without blocks (Slack rejected them): the text still names the pool and the run. */
export function withoutBlocks(req: SlackRequest): SlackRequest {
  const { blocks: _blocks, ...args } = req.args;
  void _blocks;
  return { method: req.method, args };
}

/** A chat.update turned into a chat.postMessage with the same content. */
export function asNewMessage(req: SlackRequest): SlackRequest {
  const { ts: _ts, ...args } = req.args;
  void _ts;
  return { method: 'chat.postMessage', args };
}
