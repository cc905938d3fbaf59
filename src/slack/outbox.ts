import type { Logger } from '../log';
import type { OutboxRecord, OutboxRef } from '../store/types';
import { asNewMessage, withoutBlocks, type OutboxJob, type OutboxOptions, type PersistedRequest, type SlackMethod, type SlackRequest, type StoredRevision } from './outbox-types';
import { slackErrors, slackRefusals } from '../observe/metrics';
import { classifySlackError } from './errors';
import { nextIndex } from './outbox-order';

/**
 * The outbox: every message the bot sends goes through here. Callers enqueue and return at once
 * (a run never waits on Slack); one worker per queue (per channel) delivers in order, about one
 * message per second, honours 429 Retry-After, retries transient failures with capped backoff, and
 * keeps retrying transient failures instead of dropping them. Within a queue, approval requests, failure alerts
 * and run headers go first (`priority`, outbox-order.ts; issue 10 point 10). A permanent refusal (the bot is not
 * in the channel, the channel is archived, the token is revoked…) is not retried: it is counted, logged at error
 * level and escalated once per queue and reason through `onRefused` (issue 14).
 *
 * With a store, every message is persisted (store.outbox) before it is attempted and deleted once Slack
 * accepted it (or refused it for good, logged): a message still pending when the process stops or crashes
 * is delivered by the next process, in order, before that process's own messages of the same queue
 * (`restore()`; until then the workers wait). Delivery is at least once: a crash between Slack's answer
 * and the delete re-sends that one message. Entries hold method and args only; the token is added by the
 * web client at send time and never stored.
 */

export type { SlackMethod, SlackRequest, PersistedRequest, SlackApiClient, OutboxJob, RefusedMessage, OutboxOptions, StoredRevision } from './outbox-types';
export { withoutBlocks, asNewMessage } from './outbox-types';

/** Refusals that no message can get past until a person fixes the token or the app. */
const TOKEN_REFUSALS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired']);

type StoredEntry = Omit<OutboxRecord, 'id'>;

interface QueuedJob extends OutboxJob {
  attempts: number;
  inFlight: boolean;
  degraded: boolean;
  /** what was stored for this job (compared with the built request) */
  entry?: StoredEntry;
  /** resolves to the store id once written (undefined: not stored) */
  stored: Promise<string | undefined>;
  /** clock time it was queued (outbox age metric) */
  queuedAt: number;
}

type Delivery = 'done' | 'parked' | 'stopped';

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
  /** queue + reason already escalated (cleared by the queue's next delivery) */
  private readonly escalated = new Set<string>();
  /** stored ids loaded by restore()/adoptStored() and not delivered yet */
  private readonly queuedIds = new Set<string>();
  /** see reviseStored() */
  private revise?: (record: OutboxRecord) => StoredRevision | Promise<StoredRevision>;

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

  /**
   * The notifier checks each stored message this outbox sends for an earlier process or a stopped replica against
   * what it knows now: a run header refresh stored with an older run revision than the header already shows must
   * not put it back (it is dropped, or rebuilt from the newest run). Without a check a stored message goes as stored.
   */
  reviseStored(check: (record: OutboxRecord) => StoredRevision | Promise<StoredRevision>): void {
    this.revise = check;
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
      queue[i] = { ...job, attempts: 0, inFlight: false, degraded: false, entry, stored: this.storeReplace(queue[i].stored, entry), queuedAt: queue[i].queuedAt };
    } else {
      queue.push({ ...job, attempts: 0, inFlight: false, degraded: false, entry, stored: this.storeAdd(entry), queuedAt: this.opts.clock.now() });
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
    if (job.priority !== undefined) stored.priority = job.priority;
    if (job.group !== undefined) stored.group = job.group;
    if (job.requester !== undefined) stored.requester = job.requester;
    if (request.revision !== undefined) stored.revision = request.revision;
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
    const revision = request.revision ?? job.entry.revision;
    const entry: StoredEntry = JSON.parse(JSON.stringify({ ...job.entry, request: { method: request.method, args: request.args }, revision })) as StoredEntry;
    if (JSON.stringify(entry.request) === JSON.stringify(job.entry.request) && entry.revision === job.entry.revision) return;
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
      priority: record.priority,
      group: record.group,
      requester: record.requester,
      build: () => this.buildStored(record),
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
      queuedAt: record.createdAt,
    };
  }

  /** A stored message as the notifier revises it (reviseStored), refs resolved. */
  private async buildStored(record: OutboxRecord): Promise<SlackRequest | undefined> {
    let decided: StoredRevision = 'stored';
    try {
      decided = (await this.revise?.(record)) ?? 'stored';
    } catch (e) {
      // a check that fails must not drop the message: it goes as stored
      this.log.warn({ job: record.describe, err: (e as Error).message }, 'could not check a stored Slack message against the current state; sending it as stored');
    }
    if (decided === 'stored') return this.resolveStored(record);
    if (decided === 'skip') {
      this.log.info({ job: record.describe, revision: record.revision }, 'a stored header refresh older than the header already shown is not sent');
      return undefined;
    }
    return decided;
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

  /** Clock time of the oldest message still waiting (undefined when none): the outbox age metric. */
  oldestQueuedAt(): number | undefined {
    let oldest: number | undefined;
    for (const q of this.queues.values()) for (const j of q) if (oldest === undefined || j.queuedAt < oldest) oldest = j.queuedAt;
    return oldest;
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
      const job = queue[nextIndex(queue)];
      job.inFlight = true;
      const outcome = await this.deliver(job);
      if (outcome === 'stopped') return; // a stored job stays stored
      // parked: Slack refuses every message until the token is fixed; the stored entry waits for the next start
      if (outcome === 'done') await this.forget(job);
      queue.splice(queue.indexOf(job), 1);
      if (queue.length > 0 && !(await this.sleep(this.minIntervalMs))) return;
    }
    if (queue.length === 0) this.queues.delete(name);
  }

  /** Escalates a permanent refusal once per queue and reason (a metric every time). */
  private refused(job: QueuedJob, method: string, reason: string, hint: string): void {
    slackRefusals.inc({ code: reason });
    const tokenLevel = TOKEN_REFUSALS.has(reason);
    const key = tokenLevel ? `token:${reason}` : `${job.queue}:${reason}`;
    const ctx = { job: job.describe, queue: job.queue, method, reason };
    if (job.escalation) {
      this.log.error({ ...ctx, hint }, `Slack refused the escalation of a refused message too (${reason}): ${hint}`);
      return;
    }
    if (this.escalated.has(key)) {
      this.log.error(ctx, `Slack refused this message too (${reason}); not delivered, already escalated`);
      return;
    }
    this.escalated.add(key);
    this.log.error({ ...ctx, hint }, `Slack refused a message for good (${reason}): ${hint}. ${tokenLevel ? 'Nothing can be posted until the token is fixed; waiting messages stay stored for the next start' : 'It is not retried'}; escalated`);
    try {
      this.opts.onRefused?.({ queue: job.queue, describe: job.describe, method, reason, hint, requester: job.requester, tokenLevel });
    } catch (e) {
      this.log.error({ ...ctx, err: (e as Error).message }, 'escalating a refused Slack message failed');
    }
  }

  /** Delivers one job, retrying until it succeeds, Slack refuses it for good, or the outbox stops. */
  private async deliver(job: QueuedJob): Promise<Delivery> {
    let request: SlackRequest | undefined;
    try {
      request = await job.build();
    } catch (e) {
      this.log.error({ job: job.describe, err: (e as Error).message }, 'could not build a Slack message; skipped');
      return 'done';
    }
    if (request) await this.storeBuilt(job, request);
    while (request && !this.abort.signal.aborted) {
      try {
        const response = (await this.opts.client.apiCall(request.method, request.args)) as Record<string, unknown>;
        this.delivered++;
        if (job.provides && typeof response.ts === 'string') {
          this.learnt.set(refName(job.provides), { ts: response.ts, channel: typeof response.channel === 'string' ? response.channel : undefined });
        }
        // the channel takes messages again: a later refusal is news and is escalated again
        for (const k of [...this.escalated]) if (k.startsWith(`${job.queue}:`) || k.startsWith('token:')) this.escalated.delete(k);
        try {
          await job.onSent?.(response);
        } catch (e) {
          this.log.error({ job: job.describe, err: (e as Error).message }, 'after-send bookkeeping failed');
        }
        return 'done';
      } catch (err) {
        job.attempts++;
        const failure = classifySlackError(err);
        slackErrors.inc({ code: failure.kind === 'rate-limited' ? 'ratelimited' : failure.reason });
        const ctx = { job: job.describe, queue: job.queue, method: request.method, attempt: job.attempts };
        if (failure.kind === 'rate-limited') {
          this.log.warn({ ...ctx, retryAfterMs: failure.retryAfterMs }, 'Slack rate limit: waiting Retry-After');
          if (!(await this.sleep(failure.retryAfterMs))) return 'stopped';
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
          return 'done';
        }
        if (failure.kind === 'permanent') {
          // retrying cannot help until a person acts (invite the bot, unarchive, fix the token): escalate once
          this.refused(job, request.method, failure.reason, failure.hint);
          return TOKEN_REFUSALS.has(failure.reason) ? 'parked' : 'done';
        }
        const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(job.attempts - 1, 20));
        this.log.warn({ ...ctx, reason: failure.reason, retryInMs: delay }, 'Slack call failed; retrying');
        if (!(await this.sleep(delay))) return 'stopped';
      }
    }
    return !this.abort.signal.aborted || request === undefined ? 'done' : 'stopped';
  }
}

