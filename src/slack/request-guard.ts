import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { HTTPReceiver, type HTTPReceiverOptions } from '@slack/bolt';
import { z } from 'zod';

/**
 * What reaches Bolt is authentic, current and well-formed (issue 10.9, 10.11). Bolt's HTTPReceiver checks the signature
 * and that a timestamp is not older than 5 minutes, but accepts one from the future, and a signed interactive request
 * whose payload is `null` throws inside its receiver after the response is due (an unhandled rejection that ended the
 * process). Here every POST to the events path is read (bounded), verified and shape-checked first:
 *   - signature or timestamp wrong, or timestamp more than 5 minutes away in either direction → 401;
 *   - a body that is not a Slack request we handle (non-JSON payload, `null`, wrong shape) → 400;
 * only then is the buffered request handed to Bolt (which re-verifies it). Pure checks are exported for tests.
 */

export const MAX_SKEW_S = 5 * 60;
export const MAX_BODY_BYTES = 1024 * 1024;

export type GuardVerdict = { ok: true } | { ok: false; status: 400 | 401 | 413; reason: string };

const id = z.string().min(1).max(100);
const user = z.object({ id, team_id: id.optional() }).passthrough();
const team = z.object({ id }).passthrough().nullable().optional();

/** Interactive payloads Bolt routes to our listeners (block_actions, view_submission) and the harmless rest. */
export const interactivePayload = z.discriminatedUnion('type', [
  z.object({ type: z.literal('block_actions'), user, team, actions: z.array(z.object({ action_id: id, type: z.string() }).passthrough()).min(1).max(25) }).passthrough(),
  z.object({ type: z.literal('view_submission'), user, team, view: z.object({ id, callback_id: z.string().max(255), state: z.object({ values: z.record(z.unknown()) }).passthrough() }).passthrough() }).passthrough(),
  z.object({ type: z.literal('view_closed'), user, team, view: z.object({ id }).passthrough() }).passthrough(),
]);

/** A slash command (form-encoded fields). */
export const slashCommand = z
  .object({ command: z.string().regex(/^\/\S+$/), user_id: id, channel_id: id, team_id: id, text: z.string().max(4000).optional(), trigger_id: z.string().optional() })
  .passthrough();

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** Signature (v0 HMAC-SHA256) and timestamp within ±5 minutes of `nowS`. */
export function verifySignature(req: IncomingMessage, raw: Buffer, signingSecret: string, nowS: number): GuardVerdict {
  const tsText = header(req, 'x-slack-request-timestamp');
  const signature = header(req, 'x-slack-signature');
  if (!tsText || !/^\d{1,12}$/.test(tsText) || !signature) return { ok: false, status: 401, reason: 'missing or malformed signature headers' };
  const ts = Number(tsText);
  if (ts > nowS + MAX_SKEW_S) return { ok: false, status: 401, reason: `request timestamp is ${ts - nowS} s in the future (at most ${MAX_SKEW_S} s accepted)` };
  if (ts < nowS - MAX_SKEW_S) return { ok: false, status: 401, reason: `request timestamp is ${nowS - ts} s old (at most ${MAX_SKEW_S} s accepted)` };
  const expected = Buffer.from(`v0=${createHmac('sha256', signingSecret).update(`v0:${tsText}:`).update(raw).digest('hex')}`);
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, status: 401, reason: 'signature mismatch' };
  return { ok: true };
}

/** The body is one of the request kinds this app handles, in the shape Bolt expects. */
export function checkBody(contentType: string | undefined, raw: Buffer): GuardVerdict {
  const text = raw.toString('utf8');
  const bad = (reason: string): GuardVerdict => ({ ok: false, status: 400, reason });
  if ((contentType ?? '').split(';')[0]!.trim() !== 'application/x-www-form-urlencoded') {
    // this app subscribes to no Events API events; JSON bodies are url_verification at most
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return bad('body is neither a form nor JSON');
    }
    const ok = z.object({ type: z.literal('url_verification'), challenge: z.string().max(200) }).passthrough().safeParse(body).success;
    return ok ? { ok: true } : bad('unexpected JSON body (only url_verification is handled)');
  }
  const form = parseQuery(text);
  if (form.ssl_check !== undefined) return form.ssl_check === '1' ? { ok: true } : bad('malformed ssl_check');
  if (form.payload !== undefined) {
    if (typeof form.payload !== 'string') return bad('payload given more than once');
    let payload: unknown;
    try {
      payload = JSON.parse(form.payload);
    } catch {
      return bad('payload is not JSON');
    }
    const parsed = interactivePayload.safeParse(payload);
    return parsed.success ? { ok: true } : bad(`payload is not an interactive payload this app handles (${describeIssue(parsed.error)})`);
  }
  const single = Object.values(form).every((v) => typeof v === 'string');
  const parsed = slashCommand.safeParse(form);
  return single && parsed.success ? { ok: true } : bad(`not a slash command (${parsed.success ? 'repeated field' : describeIssue(parsed.error)})`);
}

function isSslCheck(contentType: string | undefined, raw: Buffer): boolean {
  return (contentType ?? '').split(';')[0]!.trim() === 'application/x-www-form-urlencoded' && parseQuery(raw.toString('utf8')).ssl_check === '1';
}

/** The installed workspace (from auth.test at start-up). */
export interface Workspace {
  teamId?: string;
  enterpriseId?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Why a request comes from outside the installed workspace, or undefined when it does not: every team id the body
 * names (the command's team, the payload's team, the clicking user's team) must be the installed team, and an
 * enterprise id, where present, the installed enterprise (a Slack Connect user of another workspace is refused).
 */
export function foreignWorkspace(body: unknown, installed: Workspace): string | undefined {
  if (!body || typeof body !== 'object') return 'no body';
  const b = body as Record<string, unknown>;
  const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const teams = [str(b.team_id), str(obj(b.team).id), str(obj(b.user).team_id)].filter((t): t is string => t !== undefined);
  // the request's own (the command's, the payload's, its team's), then the clicking user's
  const requestEnterprises = [str(b.enterprise_id), str(obj(b.enterprise).id), str(obj(b.team).enterprise_id)];
  const enterprises = [...requestEnterprises, str(obj(b.user).enterprise_id)].filter((t): t is string => t !== undefined);
  if (installed.enterpriseId) {
    const other = enterprises.find((e) => e !== installed.enterpriseId);
    if (other) return `enterprise ${other} is not the installed enterprise ${installed.enterpriseId}`;
    if (enterprises.length === 0 && teams.length === 0) return 'no enterprise or installed team named';
    // a team other than the installed one is a workspace of the installed enterprise only when the body says so of
    // that very team: the request's team by its enterprise id, the user's team by the user's enterprise id or by being
    // the request's (vouched) team. A Slack Connect user of an outside team names only their own team.
    const teamVouched = requestEnterprises.includes(installed.enterpriseId);
    const requestTeam = str(b.team_id) ?? str(obj(b.team).id);
    if (requestTeam && requestTeam !== installed.teamId && !teamVouched) return `team ${requestTeam} is not the installed team ${installed.teamId ?? '(none)'}, and no enterprise id vouches for it`;
    const userTeam = str(obj(b.user).team_id);
    const userVouched = str(obj(b.user).enterprise_id) === installed.enterpriseId || (userTeam === requestTeam && teamVouched);
    if (userTeam && userTeam !== installed.teamId && !userVouched) return `the user's team ${userTeam} is not the installed team ${installed.teamId ?? '(none)'}, and no enterprise id vouches for it`;
    return undefined;
  }
  if (enterprises.length > 0) return `enterprise ${enterprises[0]} is not part of this installation`;
  if (teams.length === 0) return 'no team named';
  const other = teams.find((t) => t !== installed.teamId);
  return other ? `team ${other} is not the installed team ${installed.teamId}` : undefined;
}

function describeIssue(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join('.') || 'body'}: ${i.message}` : 'invalid';
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A Socket Mode envelope's payload (already authenticated by the socket): the same shapes as over HTTP. */
export function checkEnvelope(type: unknown, payload: unknown): GuardVerdict {
  const bad = (reason: string): GuardVerdict => ({ ok: false, status: 400, reason });
  if (type === 'interactive') {
    const parsed = interactivePayload.safeParse(payload);
    return parsed.success ? { ok: true } : bad(`not an interactive payload this app handles (${describeIssue(parsed.error)})`);
  }
  if (type === 'slash_commands') {
    const parsed = slashCommand.safeParse(payload);
    return parsed.success ? { ok: true } : bad(`not a slash command (${describeIssue(parsed.error)})`);
  }
  return bad(`envelope type ${String(type).slice(0, 40)} is not handled by this app`);
}

interface SocketEvent {
  type?: unknown;
  body?: unknown;
  ack: (response?: Record<string, unknown>) => Promise<void>;
}

/**
 * Socket Mode: malformed envelopes are acknowledged (so Slack does not redeliver them) and dropped before Bolt sees
 * them. Bolt's SocketModeReceiver keeps its socket client in a field; its `slack_event` listener is wrapped here.
 */
export function guardSocketMode(app: unknown, log: GuardLog): void {
  const client = (app as { receiver?: { client?: { listeners(e: string): Function[]; removeAllListeners(e: string): void; on(e: string, l: (a: SocketEvent) => void): void } } }).receiver?.client;
  if (!client) throw new Error('Bolt Socket Mode receiver without a socket client: cannot install the payload guard');
  const bolt = client.listeners('slack_event') as Array<(a: SocketEvent) => Promise<void>>;
  client.removeAllListeners('slack_event');
  client.on('slack_event', (args: SocketEvent) => {
    const verdict = checkEnvelope(args.type, args.body);
    if (!verdict.ok) {
      log.warn({ reason: verdict.reason }, 'Socket Mode envelope dropped before Bolt');
      args.ack().catch(() => undefined);
      return;
    }
    for (const l of bolt) void l(args);
  });
}

export interface GuardLog {
  warn(obj: object, msg: string): void;
}

/** Bolt's HTTPReceiver with the checks above in front of it. */
export class GuardedReceiver extends HTTPReceiver {
  constructor(options: HTTPReceiverOptions & { path: string; guardLog: GuardLog; nowS?: () => number }) {
    const { path, guardLog, nowS = () => Math.floor(Date.now() / 1000), ...rest } = options;
    super(rest);
    const bolt = this.requestListener;
    const secret = options.signingSecret;
    this.requestListener = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'POST' || url.pathname !== path) {
        bolt(req, res);
        return;
      }
      const refuse = (status: number, reason: string) => {
        guardLog.warn({ status, reason, path }, 'Slack request refused before Bolt');
        if (!res.headersSent) {
          res.writeHead(status);
          res.end();
        }
      };
      readBody(req, MAX_BODY_BYTES)
        .then((raw) => {
          if (!raw) return refuse(413, `body larger than ${MAX_BODY_BYTES} bytes`);
          const verdict = ((): GuardVerdict => {
            // Slack's unsigned ssl_check: Bolt answers it without processing anything else in the body
            if (isSslCheck(header(req, 'content-type'), raw)) return { ok: true };
            const signed = verifySignature(req, raw, secret, nowS());
            return signed.ok ? checkBody(header(req, 'content-type'), raw) : signed;
          })();
          if (!verdict.ok) return refuse(verdict.status, verdict.reason);
          // Bolt reads an already buffered body from req.rawBody
          (req as IncomingMessage & { rawBody?: Buffer }).rawBody = raw;
          bolt(req, res);
        })
        .catch((err: unknown) => refuse(400, `could not read the request: ${(err as Error).message}`));
    };
  }
}
