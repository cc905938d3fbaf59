/**
 * The local sandbox page: a Slack-like channel on loopback. What the user types or clicks becomes the signed
 * request Slack would send to the SAME Bolt endpoint (/slack/events); what the bot posts through the fake Web API
 * is rendered back (Block Kit → HTML on the server, pushed to the page by Server-Sent Events).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log';
import { silentLogger } from '../log';
import type { SandboxDirectory, SandboxUser } from './directory';
import type { FakeMessage, FakeSlackApi, FakeView } from './fake-web-api';
import type { MrkdwnContext } from './mrkdwn';
import { blockActionsBody, slashCommandBody, viewClosedBody, viewStateValues, viewSubmissionBody, Who } from './payloads';
import { findElement, messageToHtml, viewToHtml } from './render';
import { signedHeaders } from './signing';

export interface SandboxServerOptions {
  host?: string;
  /** default 3000; 0 picks a free port */
  port?: number;
  fake: FakeSlackApi;
  /** the Bolt app's request URL, e.g. http://127.0.0.1:3001/slack/events */
  slackEventsUrl: string;
  signingSecret: string;
  /** the simulator's admin API (GET /pools, POST /pools/:name/hosts/:host/…); the side panel is empty without it */
  simAdminUrl?: string;
  /** the slash command the app registers */
  command?: string;
  logger?: Logger;
  /** where index.html, app.js and style.css live (default: found next to this module or in src/) */
  publicDir?: string;
}

export interface SandboxServer {
  url: string;
  stop(): Promise<void>;
}

const SLACKBOT = { id: 'USLACKBOT', name: 'Slackbot' };

/**
 * The page assets live in src/sandbox/public (tsc does not copy them): next to this module when it runs from src/
 * (ts-jest), else found by walking up from dist/… to the package root, or from the working directory.
 */
export function findPublicDir(from = __dirname): string {
  const candidates = [join(from, 'public')];
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    candidates.push(join(dir, 'src', 'sandbox', 'public'));
    if (dirname(dir) === dir) break;
  }
  candidates.push(resolve(process.cwd(), 'src/sandbox/public'));
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw new Error(`sandbox page assets not found (looked in src/sandbox/public above ${from} and in the working directory)`);
  return found;
}

const userField = z.string().regex(/^U[A-Z0-9]+$/, 'a sandbox user id like U0KENJI');
const commandReq = z.object({ user: userField, text: z.string().min(1).max(4000) }).strict();
const actionReq = z.object({ user: userField, ts: z.string().min(1), blockId: z.string(), actionId: z.string().min(1) }).strict();
const viewSubmitReq = z.object({ user: userField, viewId: z.string().min(1), values: z.record(z.string()) }).strict();
const viewCloseReq = z.object({ user: userField, viewId: z.string().min(1) }).strict();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseReq<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError(400, r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

export function mrkdwnContextFor(directory: SandboxDirectory, currentUser?: string): MrkdwnContext {
  return {
    userName: (id) =>
      id === directory.bot.userId ? directory.bot.name : id === SLACKBOT.id ? SLACKBOT.name : directory.users.find((u) => u.id === id)?.name,
    groupHandle: (id) => directory.userGroups.find((g) => g.id === id)?.handle,
    channelName: (id) => (id === directory.channel.id ? directory.channel.name : undefined),
    currentUser,
  };
}

export interface MessageView {
  ts: string;
  threadTs?: string;
  author: string;
  isBot: boolean;
  html: string;
  ephemeral: boolean;
  edited: boolean;
  replyCount: number;
}

/** What one user sees of the channel: ephemeral messages of others are not there. */
export function messagesFor(fake: FakeSlackApi, user: string): MessageView[] {
  const d = fake.directory;
  const ctx = mrkdwnContextFor(d, user);
  return fake
    .messages(d.channel.id)
    .filter((m) => !m.ephemeralTo || m.ephemeralTo === user)
    .map((m) => ({
      ts: m.ts,
      threadTs: m.thread_ts && m.thread_ts !== m.ts ? m.thread_ts : undefined,
      author: ctx.userName(m.user) ?? m.user,
      isBot: m.user === d.bot.userId || m.user === SLACKBOT.id,
      html: messageToHtml(m, ctx),
      ephemeral: Boolean(m.ephemeralTo),
      edited: Boolean(m.edited),
      replyCount: m.reply_count ?? 0,
    }));
}

export async function startSandboxServer(opts: SandboxServerOptions): Promise<SandboxServer> {
  const { fake } = opts;
  const log = opts.logger ?? silentLogger;
  const directory = fake.directory;
  const command = opts.command ?? '/xsupgrade';
  const publicDir = opts.publicDir ?? findPublicDir();
  const sseClients = new Set<ServerResponse>();
  /** validation errors the app answered to a view_submission, shown under the inputs */
  const viewErrors = new Map<string, Record<string, string>>();

  const who = (userId: string): Who => {
    const user = directory.users.find((u) => u.id === userId);
    if (!user) throw new HttpError(400, `user: unknown sandbox user ${userId}`);
    return { user, directory };
  };

  const onChange = () => {
    for (const res of sseClients) res.write(`event: change\ndata: {}\n\n`);
  };
  fake.on('change', onChange);

  /** POST a body to the app exactly as Slack would: bare form type, v0 signature over the raw body. */
  async function sendToApp(body: string): Promise<{ status: number; text: string; contentType: string }> {
    // Bolt checks the timestamp against the wall clock, so signing uses real time (not a scaled demo clock).
    const res = await fetch(opts.slackEventsUrl, { method: 'POST', headers: signedHeaders(opts.signingSecret, body, Date.now()), body });
    return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') ?? '' };
  }

  /** Slackbot's ephemeral note when the app fails to answer, as Slack shows it. */
  function slackbotSays(user: SandboxUser, text: string): void {
    fake.postAsUser(SLACKBOT.id, directory.channel.id, text, { ephemeralTo: user.id });
  }

  async function deliverAck(user: SandboxUser, ack: { status: number; text: string; contentType: string }): Promise<void> {
    if (!ack.text) return;
    let body: Record<string, unknown>;
    if (ack.contentType.includes('json')) {
      try {
        body = JSON.parse(ack.text) as Record<string, unknown>;
      } catch {
        body = { text: ack.text };
      }
    } else body = { text: ack.text };
    if (!body.text && !body.blocks) return;
    // the ack body of a slash command is shown like a response_url message (ephemeral unless in_channel)
    const url = fake.createResponseUrl({ channel: directory.channel.id, user: user.id });
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  async function runCommand(userId: string, typed: string): Promise<{ ok: boolean; error?: string }> {
    const w = who(userId);
    const m = /^(\/\S+)\s*([\s\S]*)$/.exec(typed.trim());
    if (!m) {
      fake.postAsUser(userId, directory.channel.id, typed);
      return { ok: true };
    }
    if (m[1] !== command) {
      slackbotSays(w.user, `${m[1]} is not a valid command. In Slack, all messages that start with the "/" character are interpreted as commands.`);
      return { ok: false, error: 'unknown command' };
    }
    const responseUrl = fake.createResponseUrl({ channel: directory.channel.id, user: userId });
    const body = slashCommandBody(w, { command, text: m[2], responseUrl, triggerId: fake.issueTrigger(userId) });
    const ack = await sendToApp(body);
    log.info({ command, text: m[2], user: w.user.name, status: ack.status }, 'sandbox: slash command sent');
    if (ack.status !== 200) {
      slackbotSays(w.user, `${command} failed with the error "${ack.status === 404 ? 'operation_timeout' : 'dispatch_failed'}"`);
      return { ok: false, error: `the app answered HTTP ${ack.status}` };
    }
    await deliverAck(w.user, ack);
    return { ok: true };
  }

  async function clickButton(req: z.infer<typeof actionReq>): Promise<{ ok: boolean; error?: string }> {
    const w = who(req.user);
    const msg: FakeMessage | undefined = fake.messages(directory.channel.id).find((x) => x.ts === req.ts);
    if (!msg || (msg.ephemeralTo && msg.ephemeralTo !== req.user)) throw new HttpError(404, 'message not found');
    const el = findElement(msg.blocks, req.blockId, req.actionId);
    if (!el || el.type !== 'button') throw new HttpError(409, 'that button is no longer in the message');
    const body = blockActionsBody(w, {
      message: { ts: msg.ts, thread_ts: msg.thread_ts, text: msg.text, blocks: msg.blocks, ephemeral: Boolean(msg.ephemeralTo) },
      blockId: req.blockId,
      element: el as { action_id: string; value?: string; text?: unknown; style?: string },
      responseUrl: fake.createResponseUrl({ channel: directory.channel.id, user: req.user, messageTs: msg.ts, threadTs: msg.thread_ts }),
      triggerId: fake.issueTrigger(req.user),
      nowMs: Date.now(),
    });
    const ack = await sendToApp(body);
    log.info({ action: req.actionId, user: w.user.name, status: ack.status }, 'sandbox: button click sent');
    // Slack ignores the body of an interaction ack; a non-200 shows a warning next to the button
    return ack.status === 200 ? { ok: true } : { ok: false, error: `the app did not respond (HTTP ${ack.status})` };
  }

  function openViewOf(userId: string, viewId: string): FakeView {
    const v = fake.getView(viewId);
    if (!v || !v.open || (v.user !== undefined && v.user !== userId)) throw new HttpError(404, 'view not found');
    return v;
  }

  async function submitView(req: z.infer<typeof viewSubmitReq>): Promise<{ ok: boolean; errors?: Record<string, string>; error?: string }> {
    const w = who(req.user);
    const v = openViewOf(req.user, req.viewId);
    const values = viewStateValues(v.view, req.values);
    const ack = await sendToApp(viewSubmissionBody(w, { viewId: v.id, view: v.view, values, hash: v.hash, triggerId: fake.issueTrigger(req.user) }));
    log.info({ callbackId: v.view.callback_id, user: w.user.name, status: ack.status }, 'sandbox: view submitted');
    if (ack.status !== 200) return { ok: false, error: `the app did not respond (HTTP ${ack.status})` };
    let resp: Record<string, unknown> = {};
    if (ack.text) {
      try {
        resp = JSON.parse(ack.text) as Record<string, unknown>;
      } catch {
        resp = {};
      }
    }
    viewErrors.delete(v.id);
    switch (resp.response_action) {
      case 'errors': {
        const errors = z.record(z.string()).safeParse(resp.errors);
        viewErrors.set(v.id, errors.success ? errors.data : {});
        onChange();
        return { ok: false, errors: errors.success ? errors.data : {} };
      }
      case 'update':
        if (resp.view && typeof resp.view === 'object') fake.replaceView(v.id, resp.view as Record<string, unknown>);
        return { ok: true };
      case 'push':
        if (resp.view && typeof resp.view === 'object') fake.openViewFor(req.user, resp.view as Record<string, unknown>, v.id);
        return { ok: true };
      case 'clear':
        for (const x of fake.views()) if (x.open && x.rootViewId === v.rootViewId) fake.closeView(x.id);
        return { ok: true };
      default:
        fake.closeView(v.id);
        return { ok: true };
    }
  }

  async function closeView(req: z.infer<typeof viewCloseReq>): Promise<{ ok: boolean }> {
    const w = who(req.user);
    const v = openViewOf(req.user, req.viewId);
    fake.closeView(v.id);
    if (v.view.notify_on_close) await sendToApp(viewClosedBody(w, { viewId: v.id, view: v.view, values: {}, hash: v.hash }));
    return { ok: true };
  }

  function state(userId: string) {
    who(userId);
    const ctx = mrkdwnContextFor(directory, userId);
    const views = fake
      .views()
      .filter((v) => v.open && (v.user === undefined || v.user === userId))
      .map((v) => ({ id: v.id, callbackId: v.view.callback_id ?? '', ...viewToHtml(v.view, ctx, { errors: viewErrors.get(v.id) }) }));
    return {
      me: userId,
      users: directory.users,
      channel: directory.channel,
      team: directory.teamName,
      command,
      simPanel: Boolean(opts.simAdminUrl),
      messages: messagesFor(fake, userId),
      views,
    };
  }

  async function proxySim(req: IncomingMessage, res: ServerResponse, path: string, raw: string): Promise<void> {
    if (!opts.simAdminUrl) return sendJson(res, 404, { error: 'no simulator admin API in this sandbox' });
    if (!/^\/pools(\/[A-Za-z0-9._-]+(\/hosts\/[A-Za-z0-9._-]+\/[a-z-]+|\/faults)?)?$/.test(path))
      return sendJson(res, 404, { error: 'unknown simulator admin path' });
    const r = await fetch(opts.simAdminUrl.replace(/\/$/, '') + path, {
      method: req.method,
      headers: req.method === 'POST' ? { 'content-type': 'application/json' } : {},
      body: req.method === 'POST' ? raw || '{}' : undefined,
    });
    res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
    res.end(await r.text());
  }

  function serveStatic(res: ServerResponse, name: string): void {
    const file = normalize(join(publicDir, name));
    if (!file.startsWith(publicDir) || !existsSync(file)) return sendJson(res, 404, { error: 'not found' });
    const type = name.endsWith('.js')
      ? 'text/javascript; charset=utf-8'
      : name.endsWith('.css')
        ? 'text/css; charset=utf-8'
        : name.endsWith('.svg')
          ? 'image/svg+xml'
          : 'text/html; charset=utf-8';
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const raw = req.method === 'POST' ? await readBody(req) : '';
    const json = (): unknown => {
      try {
        return raw ? JSON.parse(raw) : {};
      } catch {
        throw new HttpError(400, 'body: not valid JSON');
      }
    };
    const p = url.pathname;
    if (req.method === 'GET' && (p === '/' || p === '/index.html')) return serveStatic(res, 'index.html');
    if (req.method === 'GET' && p === '/favicon.ico') return serveStatic(res, 'favicon.svg');
    if (req.method === 'GET' && p.startsWith('/static/')) return serveStatic(res, p.slice('/static/'.length));
    if (req.method === 'GET' && p === '/api/state') return sendJson(res, 200, state(url.searchParams.get('user') ?? directory.users[0].id));
    if (req.method === 'GET' && p === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(': connected\n\n');
      sseClients.add(res);
      req.on('close', () => sseClients.delete(res));
      return;
    }
    if (req.method === 'POST' && p === '/api/command') {
      const r = parseReq(commandReq, json());
      return sendJson(res, 200, await runCommand(r.user, r.text));
    }
    if (req.method === 'POST' && p === '/api/action') return sendJson(res, 200, await clickButton(parseReq(actionReq, json())));
    if (req.method === 'POST' && p === '/api/view/submit') return sendJson(res, 200, await submitView(parseReq(viewSubmitReq, json())));
    if (req.method === 'POST' && p === '/api/view/close') return sendJson(res, 200, await closeView(parseReq(viewCloseReq, json())));
    if (p.startsWith('/sim/')) return proxySim(req, res, p.slice('/sim'.length), raw);
    sendJson(res, 404, { error: 'not found' });
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 502;
      if (!(e instanceof HttpError)) log.warn({ err: (e as Error).message }, 'sandbox: request failed');
      sendJson(res, status, { ok: false, error: (e as Error).message });
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 3000, opts.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}/`,
    stop: () =>
      new Promise<void>((ok) => {
        fake.off('change', onChange as (...args: never[]) => void);
        for (const c of sseClients) c.end();
        sseClients.clear();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
