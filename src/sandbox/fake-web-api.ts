/**
 * A loopback fake of the Slack Web API (contracts §7). A real Bolt app / WebClient talks to it through
 * `clientOptions.slackApiUrl`, so the bot code has no sandbox special cases. It speaks the wire format
 * WebClient uses (form-urlencoded, JSON-encoded `blocks`/`view`, `Authorization: Bearer`), records every
 * call, keeps the current state of every message and view, and can inject 429 / 5xx / `{ok:false}` failures.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { systemClock } from '../clock';
import { DEFAULT_DIRECTORY } from './directory';
import { blocksTextLength } from '../slack/blocks/common';
import { LIMITS, validateBlocks, validateView } from './block-kit-limits';
import type { FailureSpec, FakeCall, FakeChange, FakeMessage, FakeSlackApi, FakeSlackApiOptions, FakeView, ResponseUrlContext } from './fake-slack-types';
import { ApiError, decodeBody, messageArgs, optStr, parseArgs, readBody, send, str, type Answer, type Args } from './fake-slack-wire';

export type * from './fake-slack-types';
export { decodeBody } from './fake-slack-wire';


export async function startFakeSlackApi(opts: FakeSlackApiOptions = {}): Promise<FakeSlackApi> {
  const clock = opts.clock ?? systemClock;
  const directory = opts.directory ?? DEFAULT_DIRECTORY;
  const triggerTtlMs = opts.triggerTtlMs ?? 3000;
  const emitter = new EventEmitter();
  const calls: FakeCall[] = [];
  const messageList: FakeMessage[] = [];
  const viewsById = new Map<string, FakeView>();
  const failures = new Map<string, FailureSpec[]>();
  const responseUrls = new Map<string, { ctx: ResponseUrlContext; uses: number }>();
  const triggers = new Map<string, { user: string; expiresAt: number }>();
  const usedTriggers = new Set<string>();
  let lastMicros = 0;
  let seq = 0;

  /** Slack ts: "<epoch seconds>.<6 digits>", strictly increasing. */
  function nextTs(): string {
    lastMicros = Math.max(clock.now() * 1000, lastMicros + 100);
    return `${Math.floor(lastMicros / 1e6)}.${String(lastMicros % 1e6).padStart(6, '0')}`;
  }
  const nextId = (prefix: string) => `${prefix}${(++seq).toString(36).toUpperCase().padStart(8, '0')}`;

  const channelIdOf = (c: string) => (c === `#${directory.channel.name}` || c === directory.channel.name ? directory.channel.id : c);
  const find = (channel: string, ts: string) => messageList.find((m) => m.channel === channel && m.ts === ts);
  const change = (c: FakeChange) => emitter.emit('change', c);

  function checkContent(text: string | undefined, blocks: unknown[] | undefined): void {
    if ((text === undefined || text === '') && (!blocks || blocks.length === 0)) throw new ApiError('no_text');
    if (text !== undefined && text.length > LIMITS.messageText) throw new ApiError('msg_too_long');
    if (blocks) {
      const errs = validateBlocks(blocks, 'message');
      if (errs.length) throw new ApiError('invalid_blocks', errs);
      if (blocksTextLength(blocks) > LIMITS.messageBlocksText) throw new ApiError('msg_blocks_too_long');
    }
  }

  /** Slack stores and returns every block with a block_id and every interactive element with an action_id. */
  function withIds<T extends unknown[] | undefined>(blocks: T): T {
    if (!blocks) return blocks;
    return blocks.map((b) => {
      if (!b || typeof b !== 'object') return b;
      const block = { ...(b as Args) };
      if (typeof block.block_id !== 'string') block.block_id = nextId('').slice(-5);
      const fill = (e: unknown) =>
        e && typeof e === 'object' && typeof (e as Args).action_id !== 'string' && (e as Args).type !== 'mrkdwn' && (e as Args).type !== 'plain_text' && (e as Args).type !== 'image'
          ? { ...(e as Args), action_id: nextId('').slice(-5) }
          : e;
      if (Array.isArray(block.elements) && block.type === 'actions') block.elements = block.elements.map(fill);
      if (block.accessory) block.accessory = fill(block.accessory);
      if (block.element) block.element = fill(block.element);
      return block;
    }) as T;
  }

  function post(m: Omit<FakeMessage, 'ts'>): FakeMessage {
    const msg: FakeMessage = { ...m, blocks: withIds(m.blocks), ts: nextTs() };
    if (msg.thread_ts && !find(msg.channel, msg.thread_ts)) throw new ApiError('thread_not_found');
    messageList.push(msg);
    change({ kind: 'message-posted', message: msg });
    return msg;
  }

  function botMessageFields() {
    return { user: directory.bot.userId, bot_id: directory.bot.botId };
  }

  function publicMessage(m: FakeMessage): Record<string, unknown> {
    const { via: _via, ephemeralTo: _e, ...rest } = m;
    void _via;
    void _e;
    return { type: 'message', ...rest, team: directory.teamId };
  }

  function openView(view: Args, user: string | undefined, previous?: FakeView): FakeView {
    const errs = validateView(view);
    if (errs.length) throw new ApiError('invalid_arguments', errs);
    const id = nextId('V');
    const v: FakeView = {
      id,
      user,
      view: { ...view, blocks: withIds(view.blocks as unknown[] | undefined) },
      previousViewId: previous?.id,
      rootViewId: previous?.rootViewId ?? id,
      open: true,
      hash: `${Date.now()}.${nextId('h')}`,
    };
    viewsById.set(id, v);
    change({ kind: 'view-opened', view: v });
    return v;
  }

  function viewResponse(v: FakeView): Record<string, unknown> {
    return {
      ok: true,
      view: {
        ...v.view,
        id: v.id,
        team_id: directory.teamId,
        state: { values: {} },
        hash: v.hash,
        root_view_id: v.rootViewId,
        previous_view_id: v.previousViewId ?? null,
        bot_id: directory.bot.botId,
        app_id: 'A0XSUPGRADE',
      },
    };
  }

  function useTrigger(triggerId: string): string | undefined {
    if (usedTriggers.has(triggerId)) throw new ApiError('exchanged_trigger_id');
    const t = triggers.get(triggerId);
    if (!t) return undefined; // not issued here (e.g. a test's made-up id): accepted, user unknown
    triggers.delete(triggerId);
    usedTriggers.add(triggerId);
    if (clock.now() > t.expiresAt) throw new ApiError('expired_trigger_id');
    return t.user;
  }

  const handlers: Record<string, (args: Args) => Record<string, unknown>> = {
    'api.test': (args) => ({ ok: true, args }),
    'auth.test': () => ({
      ok: true,
      url: `https://${directory.teamId.toLowerCase()}.slack.com/`,
      team: directory.teamName,
      user: directory.bot.name,
      team_id: directory.teamId,
      user_id: directory.bot.userId,
      bot_id: directory.bot.botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (args) => {
      const a = parseArgs(messageArgs, args);
      checkContent(a.text, a.blocks);
      const msg = post({
        channel: channelIdOf(a.channel),
        thread_ts: a.thread_ts,
        text: a.text ?? '',
        blocks: a.blocks,
        via: 'api',
        ...botMessageFields(),
      });
      return { ok: true, channel: msg.channel, ts: msg.ts, message: publicMessage(msg) };
    },
    'chat.update': (args) => {
      const a = parseArgs(messageArgs.extend({ ts: str }), args);
      const msg = find(channelIdOf(a.channel), a.ts);
      if (!msg) throw new ApiError('message_not_found');
      if (msg.ephemeralTo) throw new ApiError('cant_update_message');
      if (a.blocks) checkContent(a.text ?? msg.text, a.blocks);
      else if (a.text !== undefined) checkContent(a.text, undefined);
      // Slack: omitting blocks keeps the old ones only if text is omitted as well.
      if (a.blocks !== undefined) msg.blocks = withIds(a.blocks);
      else if (a.text !== undefined) msg.blocks = undefined;
      if (a.text !== undefined) msg.text = a.text;
      msg.edited = { ts: nextTs() };
      change({ kind: 'message-updated', message: msg });
      return { ok: true, channel: msg.channel, ts: msg.ts, text: msg.text, message: publicMessage(msg) };
    },
    'chat.postEphemeral': (args) => {
      const a = parseArgs(messageArgs.extend({ user: str }), args);
      checkContent(a.text, a.blocks);
      if (!directory.users.some((u) => u.id === a.user)) throw new ApiError('user_not_in_channel');
      const msg = post({
        channel: channelIdOf(a.channel),
        thread_ts: a.thread_ts,
        text: a.text ?? '',
        blocks: a.blocks,
        ephemeralTo: a.user,
        via: 'api',
        ...botMessageFields(),
      });
      return { ok: true, message_ts: msg.ts };
    },
    'chat.delete': (args) => {
      const a = parseArgs(z.object({ channel: str, ts: str }).passthrough(), args);
      const channel = channelIdOf(a.channel);
      const i = messageList.findIndex((m) => m.channel === channel && m.ts === a.ts);
      if (i < 0) throw new ApiError('message_not_found');
      const [msg] = messageList.splice(i, 1);
      change({ kind: 'message-deleted', message: msg });
      return { ok: true, channel, ts: a.ts };
    },
    'views.open': (args) => {
      const a = parseArgs(z.object({ trigger_id: str, view: z.record(z.unknown()) }).passthrough(), args);
      const user = useTrigger(a.trigger_id);
      return viewResponse(openView(a.view, user));
    },
    'views.push': (args) => {
      const a = parseArgs(z.object({ trigger_id: str, view: z.record(z.unknown()) }).passthrough(), args);
      const user = useTrigger(a.trigger_id);
      const top = [...viewsById.values()].reverse().find((v) => v.open && (user === undefined || v.user === user));
      if (!top) throw new ApiError('not_found');
      return viewResponse(openView(a.view, user ?? top.user, top));
    },
    'views.update': (args) => {
      const a = parseArgs(
        z.object({ view_id: optStr, external_id: optStr, hash: optStr, view: z.record(z.unknown()) }).passthrough(),
        args,
      );
      const v = a.view_id
        ? viewsById.get(a.view_id)
        : [...viewsById.values()].find((x) => a.external_id !== undefined && x.view.external_id === a.external_id);
      if (!v) throw new ApiError('not_found');
      if (a.hash !== undefined && a.hash !== v.hash) throw new ApiError('hash_conflict');
      const errs = validateView(a.view);
      if (errs.length) throw new ApiError('invalid_arguments', errs);
      v.view = { ...a.view, blocks: withIds(a.view.blocks as unknown[] | undefined) };
      v.hash = `${Date.now()}.${nextId('h')}`;
      change({ kind: 'view-updated', view: v });
      return viewResponse(v);
    },
    'users.info': (args) => {
      const a = parseArgs(z.object({ user: str }).passthrough(), args);
      const u = directory.users.find((x) => x.id === a.user);
      if (!u) throw new ApiError('user_not_found');
      return {
        ok: true,
        user: {
          id: u.id,
          team_id: directory.teamId,
          name: u.name,
          real_name: u.realName,
          deleted: false,
          is_bot: false,
          tz: 'UTC',
          profile: { display_name: u.name, real_name: u.realName },
        },
      };
    },
    'usergroups.users.list': (args) => {
      const a = parseArgs(z.object({ usergroup: str }).passthrough(), args);
      const g = directory.userGroups.find((x) => x.id === a.usergroup);
      if (!g) throw new ApiError('no_such_subteam');
      return { ok: true, users: [...g.users] };
    },
    // the one channel of the directory (resolving a pool channel written by name at start-up)
    'conversations.list': (args) => {
      parseArgs(z.object({ types: str.optional(), cursor: str.optional() }).passthrough(), args);
      return { ok: true, channels: [{ id: directory.channel.id, name: directory.channel.name, is_channel: true, is_private: false, is_archived: false }], response_metadata: { next_cursor: '' } };
    },
    'conversations.info': (args) => {
      const a = parseArgs(z.object({ channel: str }).passthrough(), args);
      if (channelIdOf(a.channel) !== directory.channel.id) throw new ApiError('channel_not_found');
      return {
        ok: true,
        channel: { id: directory.channel.id, name: directory.channel.name, is_channel: true, is_private: false, is_member: true },
      };
    },
  };

  function answer(method: string, args: Args, token: string | undefined): Answer {
    const queued = failures.get(method);
    const failure = queued?.shift();
    if (queued && queued.length === 0) failures.delete(method);
    if (failure) {
      if (failure.status && failure.status !== 200) {
        const headers: Record<string, string> = {};
        if (failure.status === 429) headers['retry-after'] = String(failure.retryAfter ?? 1);
        return { status: failure.status, headers, body: { ok: false, error: failure.error ?? (failure.status === 429 ? 'ratelimited' : 'internal_error') } };
      }
      return { body: { ok: false, error: failure.error ?? 'internal_error' } };
    }
    if (!token) return { body: { ok: false, error: 'not_authed' } };
    if (method === 'apps.connections.open' && opts.socketMode) return { body: openConnection(opts.socketMode, token) };
    if (opts.token !== undefined && token !== opts.token) return { body: { ok: false, error: 'invalid_auth' } };
    const handler = handlers[method];
    if (!handler) return { body: { ok: false, error: 'unknown_method' } };
    try {
      return { body: handler(args) };
    } catch (e) {
      if (e instanceof ApiError) {
        const body: Record<string, unknown> = { ok: false, error: e.code };
        if (e.messages.length) {
          body.errors = e.messages;
          body.response_metadata = { messages: e.messages };
        }
        return { body };
      }
      throw e;
    }
  }

  /** The app-level token, not the bot token, opens Socket Mode connections. */
  function openConnection(sm: NonNullable<FakeSlackApiOptions['socketMode']>, token: string): Record<string, unknown> {
    if (!token.startsWith('xapp-')) return { ok: false, error: 'not_allowed_token_type' };
    if (sm.appToken !== undefined && token !== sm.appToken) return { ok: false, error: 'invalid_auth' };
    return { ok: true, url: sm.connectionUrl() };
  }

  function outcomeOf(a: Answer): string {
    if (a.status && a.status !== 200) return `http-${a.status}`;
    return a.body.ok ? 'ok' : String(a.body.error);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const raw = await readBody(req);
    let args: Args;
    try {
      args = decodeBody(raw, req.headers['content-type']);
    } catch {
      return send(res, { body: { ok: false, error: 'invalid_form_data' } });
    }
    const auth = req.headers.authorization;
    let token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (typeof args.token === 'string') {
      token = token ?? args.token;
      delete args.token;
    }
    const a = answer(method, args, token);
    const call: FakeCall = { method, args, token, at: clock.now(), outcome: outcomeOf(a) };
    calls.push(call);
    emitter.emit('call', call);
    send(res, a);
  }

  const responseSchema = z
    .object({
      text: optStr,
      blocks: z.array(z.unknown()).optional(),
      response_type: z.enum(['in_channel', 'ephemeral']).optional(),
      replace_original: z.union([z.boolean(), z.string()]).optional(),
      delete_original: z.union([z.boolean(), z.string()]).optional(),
      thread_ts: optStr,
    })
    .passthrough();
  const truthy = (v: unknown) => v === true || v === 'true';

  /** A POST to a response_url: the semantics Slack gives respond() (replace/delete original, ephemeral default). */
  function handleResponse(id: string, args: Args): Answer {
    const entry = responseUrls.get(id);
    if (!entry) return { status: 404, body: { ok: false, error: 'expired_url' } };
    if (entry.uses >= 5) return { status: 404, body: { ok: false, error: 'used_url' } };
    entry.uses++;
    const parsed = responseSchema.safeParse(args);
    if (!parsed.success) return { status: 400, body: { ok: false, error: 'invalid_payload' } };
    const a = parsed.data;
    const { ctx } = entry;
    const original = ctx.messageTs ? find(ctx.channel, ctx.messageTs) : undefined;
    try {
      if (truthy(a.delete_original)) {
        if (!original) return { status: 404, body: { ok: false, error: 'message_not_found' } };
        messageList.splice(messageList.indexOf(original), 1);
        change({ kind: 'message-deleted', message: original });
        return { body: { ok: true } };
      }
      checkContent(a.text, a.blocks);
      if (truthy(a.replace_original)) {
        if (!original) return { status: 404, body: { ok: false, error: 'message_not_found' } };
        original.text = a.text ?? '';
        original.blocks = withIds(a.blocks);
        original.edited = { ts: nextTs() };
        change({ kind: 'message-updated', message: original });
        return { body: { ok: true } };
      }
      post({
        channel: ctx.channel,
        thread_ts: a.thread_ts ?? ctx.threadTs,
        text: a.text ?? '',
        blocks: a.blocks,
        ephemeralTo: a.response_type === 'in_channel' ? undefined : ctx.user,
        via: 'response_url',
        ...botMessageFields(),
      });
      return { body: { ok: true } };
    } catch (e) {
      if (e instanceof ApiError) return { status: 400, body: { ok: false, error: e.code, errors: e.messages } };
      throw e;
    }
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    const resp = /^\/response\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
    if (req.method === 'POST' && api) {
      handleApi(req, res, api[1]).catch((e: unknown) => send(res, { status: 500, body: { ok: false, error: String(e) } }));
      return;
    }
    if (req.method === 'POST' && resp) {
      readBody(req)
        .then((raw) => {
          let args: Args;
          try {
            args = decodeBody(raw, req.headers['content-type']);
          } catch {
            return send(res, { status: 400, body: { ok: false, error: 'invalid_payload' } });
          }
          const a = handleResponse(resp[1], args);
          const call: FakeCall = { method: 'response_url', args: { ...args, response_url_id: resp[1] }, at: clock.now(), outcome: outcomeOf(a) };
          calls.push(call);
          emitter.emit('call', call);
          send(res, a);
        })
        .catch((e: unknown) => send(res, { status: 500, body: { ok: false, error: String(e) } }));
      return;
    }
    send(res, { status: 404, body: { ok: false, error: 'not_found' } });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const origin = `http://${addr.address}:${addr.port}`;

  const api = Object.assign(emitter, {
    url: `${origin}/api/`,
    origin,
    directory,
    calls,
    messages(channel?: string): FakeMessage[] {
      return messageList
        .filter((m) => channel === undefined || m.channel === channelIdOf(channel))
        .map((m) => {
          const replies = messageList.filter((r) => r.thread_ts === m.ts && r.channel === m.channel && !r.ephemeralTo).length;
          return replies > 0 && !m.thread_ts ? { ...m, reply_count: replies } : { ...m };
        });
    },
    views: () => [...viewsById.values()],
    getView: (id: string) => viewsById.get(id),
    failNext(method: string, response: FailureSpec): void {
      const q = failures.get(method) ?? [];
      q.push(response);
      failures.set(method, q);
    },
    createResponseUrl(ctx: ResponseUrlContext): string {
      const id = nextId('R').toLowerCase();
      responseUrls.set(id, { ctx, uses: 0 });
      return `${origin}/response/${id}`;
    },
    issueTrigger(user: string): string {
      const id = `${Date.now()}.${nextId('').toLowerCase()}`;
      triggers.set(id, { user, expiresAt: clock.now() + triggerTtlMs });
      return id;
    },
    closeView(id: string): void {
      const v = viewsById.get(id);
      if (!v || !v.open) return;
      v.open = false;
      change({ kind: 'view-closed', view: v });
    },
    replaceView(id: string, view: Record<string, unknown>): FakeView | undefined {
      const v = viewsById.get(id);
      if (!v) return undefined;
      v.view = { ...view, blocks: withIds(view.blocks as unknown[] | undefined) };
      v.hash = `${Date.now()}.${nextId('h')}`;
      change({ kind: 'view-updated', view: v });
      return v;
    },
    openViewFor(user: string, view: Record<string, unknown>, previousViewId?: string): FakeView {
      return openView(view, user, previousViewId ? viewsById.get(previousViewId) : undefined);
    },
    postAsUser(user: string, channel: string, text: string, o: { thread_ts?: string; ephemeralTo?: string } = {}): FakeMessage {
      return post({ channel: channelIdOf(channel), user, text, thread_ts: o.thread_ts, ephemeralTo: o.ephemeralTo, via: 'api' });
    },
    stop(): Promise<void> {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  });
  return api as unknown as FakeSlackApi;
}

