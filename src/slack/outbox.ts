import type { Clock } from '../clock';
import type { Logger } from '../log';
import { classifySlackError } from './errors';

/**
 * The outbox: every message the bot sends goes through here. Callers enqueue and return at once
 * (a run never waits on Slack); one worker per queue (per channel) delivers in order, about one
 * message per second, honours 429 Retry-After, retries transient failures with capped backoff, and
 * keeps retrying undeliverable messages (logging why) instead of dropping them.
 */

export type SlackMethod = 'chat.postMessage' | 'chat.update' | 'chat.postEphemeral';

export interface SlackRequest {
  method: SlackMethod;
  args: Record<string, unknown>;
}

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
}

interface QueuedJob extends OutboxJob {
  attempts: number;
  inFlight: boolean;
  degraded: boolean;
}

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

  constructor(private readonly opts: OutboxOptions) {
    this.minIntervalMs = opts.minIntervalMs ?? 1000;
    this.baseBackoffMs = opts.baseBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 5 * 60_000;
    this.log = opts.logger.child({ component: 'slack-outbox' });
  }

  /** Queues a job and returns at once. */
  enqueue(job: OutboxJob): void {
    if (this.abort.signal.aborted) {
      this.log.error({ job: job.describe, queue: job.queue }, 'Slack message not queued: the outbox is stopped');
      return;
    }
    const queue = this.queues.get(job.queue) ?? [];
    this.queues.set(job.queue, queue);
    if (job.coalesceKey && queue.some((q) => !q.inFlight && q.coalesceKey === job.coalesceKey)) {
      // a newer version of a waiting job (a header refresh): the waiting one builds from the latest state
      const i = queue.findIndex((q) => !q.inFlight && q.coalesceKey === job.coalesceKey);
      queue[i] = { ...job, attempts: 0, inFlight: false, degraded: false };
    } else {
      queue.push({ ...job, attempts: 0, inFlight: false, degraded: false });
    }
    if (!this.workers.has(job.queue)) {
      const worker = this.work(job.queue).finally(() => {
        this.workers.delete(job.queue);
        if (this.pending() === 0) this.idleWaiters.splice(0).forEach((w) => w());
      });
      this.workers.set(job.queue, worker);
    }
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
    await Promise.allSettled([...this.workers.values()]);
    const left = this.pending();
    if (left > 0) this.log.warn({ undelivered: left }, `${left} Slack messages were not delivered before shutdown`);
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
    while (queue.length > 0 && !this.abort.signal.aborted) {
      const job = queue[0];
      job.inFlight = true;
      const sent = await this.deliver(job);
      if (!sent) return; // stopped
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
    while (request && !this.abort.signal.aborted) {
      try {
        const response = (await this.opts.client.apiCall(request.method, request.args)) as Record<string, unknown>;
        this.delivered++;
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
