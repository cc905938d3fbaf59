/** The fake Slack Web API's public types (fake-web-api.ts): what tests and the sandbox page read and drive. */
import type { Clock } from '../clock';
import type { SandboxDirectory } from './directory';

export interface FakeCall {
  method: string;
  args: Record<string, unknown>;
  token?: string;
  at: number;
  /** what the fake answered: 'ok', an error code, or 'http-429' / 'http-500' */
  outcome: string;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  /** the bot's user id, or the user's for messages the sandbox posts on a user's behalf */
  user: string;
  bot_id?: string;
  text: string;
  blocks?: unknown[];
  /** set for ephemeral messages: only this user sees it */
  ephemeralTo?: string;
  edited?: { ts: string };
  /** how it arrived: Web API call or a response_url POST */
  via: 'api' | 'response_url';
  /** reply count for parents of threads (derived) */
  reply_count?: number;
}

export interface FakeView {
  id: string;
  /** the user the view was opened for (known when the trigger was issued by this fake) */
  user?: string;
  view: Record<string, unknown>;
  /** the view below this one in a pushed stack */
  previousViewId?: string;
  rootViewId: string;
  open: boolean;
  hash: string;
}

export interface ResponseUrlContext {
  channel: string;
  user: string;
  /** the message the interaction came from (block_actions), for replace_original / delete_original */
  messageTs?: string;
  threadTs?: string;
}

export interface FailureSpec {
  /** HTTP status to answer (429 gets a Retry-After header); default 200 with {ok:false} */
  status?: number;
  /** seconds for the Retry-After header of a 429 (default 1) */
  retryAfter?: number;
  /** the `error` code for a {ok:false} answer (default 'internal_error' when no status is given) */
  error?: string;
}

export type FakeChange =
  | { kind: 'message-posted' | 'message-updated' | 'message-deleted'; message: FakeMessage }
  | { kind: 'view-opened' | 'view-updated' | 'view-closed'; view: FakeView };

export interface FakeSlackApi {
  /** base URL for WebClient's slackApiUrl, e.g. http://127.0.0.1:PORT/api/ */
  url: string;
  /** http://127.0.0.1:PORT, where /response/<id> lives */
  origin: string;
  directory: SandboxDirectory;
  calls: FakeCall[];
  /** current state of each message (after updates, without deleted ones), oldest first; channel filters */
  messages(channel?: string): FakeMessage[];
  views(): FakeView[];
  getView(id: string): FakeView | undefined;
  failNext(method: string, response: FailureSpec): void;
  /** a response_url for an interaction (uses the same limits as Slack: 5 uses) */
  createResponseUrl(ctx: ResponseUrlContext): string;
  /** a trigger_id valid for views.open for `triggerTtlMs` (Slack: 3 s), tied to the user */
  issueTrigger(user: string): string;
  /** the user closed or submitted a modal: drops it from the open stack (or replaces it) */
  closeView(id: string): void;
  replaceView(id: string, view: Record<string, unknown>): FakeView | undefined;
  /** open a view for a user without a trigger (a view_submission answered with response_action: push) */
  openViewFor(user: string, view: Record<string, unknown>, previousViewId?: string): FakeView;
  /** post a message on a user's behalf (what the user typed, for the sandbox transcript) */
  postAsUser(user: string, channel: string, text: string, opts?: { thread_ts?: string; ephemeralTo?: string }): FakeMessage;
  on(event: 'call', listener: (call: FakeCall) => void): this;
  on(event: 'change', listener: (change: FakeChange) => void): this;
  off(event: 'call' | 'change', listener: (...args: never[]) => void): this;
  stop(): Promise<void>;
}

export interface FakeSlackApiOptions {
  host?: string;
  port?: number;
  clock?: Clock;
  directory?: SandboxDirectory;
  /** if set, every call must carry this token (else `invalid_auth`); any non-empty token otherwise */
  token?: string;
  triggerTtlMs?: number;
  /**
   * Socket Mode: `apps.connections.open` needs an app-level token (xapp-…; else `not_allowed_token_type`),
   * this one if `appToken` is set (else `invalid_auth`), and answers `connectionUrl()` (test/slack/helpers/fake-socket-mode.ts).
   */
  socketMode?: { appToken?: string; connectionUrl: () => string };
}
