/** The outbox's interface: what callers enqueue and how the outbox is configured (the worker is outbox.ts). */
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { OutboxRef, OutboxStore } from '../store/types';

export type SlackMethod = 'chat.postMessage' | 'chat.update' | 'chat.postEphemeral';

export interface SlackRequest {
  method: SlackMethod;
  args: Record<string, unknown>;
  /** the run revision a run header shows (never sent to Slack): stored with the entry, see Outbox.reviseStored */
  revision?: number;
}

/** What to do with a stored message before it is sent: send it as stored, drop it, or send this instead. */
export type StoredRevision = 'stored' | 'skip' | SlackRequest;

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
  /** PRIORITY.* of outbox-order.ts (default chatter); stored with the entry */
  priority?: number;
  /** messages of one group (a run id) keep their order whatever their priority */
  group?: string;
  /** the Slack user to tell when this message is refused for good (a run's requester) */
  requester?: string;
  /** an escalation itself: a refusal of it is logged, not escalated again */
  escalation?: boolean;
}

/** A message Slack refused for good (not retried). */
export interface RefusedMessage {
  queue: string;
  describe: string;
  method: string;
  reason: string;
  hint: string;
  requester?: string;
  /** token-level refusal (invalid_auth, token_revoked…): nothing can be posted; the entry stays stored for the next start */
  tokenLevel: boolean;
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
  /** called once per queue and reason when Slack refuses a message for good (escalation: operator channel, DM) */
  onRefused?: (refused: RefusedMessage) => void;
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
