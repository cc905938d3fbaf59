/** The Slack Web API wire format as the fake reads and writes it: bodies, argument checks, answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';

export type Args = Record<string, unknown>;
export type Answer = { status?: number; headers?: Record<string, string>; body: Record<string, unknown> };

/** Fields WebClient JSON-encodes inside the form (serializeBody: any non-scalar value). */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'metadata', 'unfurl', 'user_auth_blocks']);

export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly messages: string[] = [],
  ) {
    super(code);
  }
}

/** zod parse of a method's args; failures become Slack's `invalid_arguments` naming the field. */
export function parseArgs<T extends z.ZodTypeAny>(schema: T, args: Args): z.infer<T> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  throw new ApiError(
    'invalid_arguments',
    r.error.issues.map((i) => `[ERROR] ${i.message === 'Required' ? 'missing required field' : i.message}: ${i.path.join('.')}`),
  );
}

export const str = z.string().min(1);
export const optStr = z.string().optional();
export const messageArgs = z
  .object({ channel: str, text: optStr, blocks: z.array(z.unknown()).optional(), thread_ts: optStr })
  .passthrough();

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Form bodies (WebClient) with JSON-encoded block/view fields, or JSON bodies (respond(), some clients). */
export function decodeBody(raw: string, contentType: string | undefined): Args {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    const v: unknown = raw ? JSON.parse(raw) : {};
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('JSON body must be an object');
    return v as Args;
  }
  if (type === 'application/x-www-form-urlencoded' || type === '') {
    const out: Args = {};
    for (const [k, v] of new URLSearchParams(raw)) {
      out[k] = JSON_FIELDS.has(k) ? JSON.parse(v) : v;
    }
    return out;
  }
  throw new Error(`unsupported content type ${type}`);
}

export function send(res: ServerResponse, a: Answer): void {
  if (res.headersSent) return;
  res.writeHead(a.status ?? 200, { 'content-type': 'application/json; charset=utf-8', ...(a.headers ?? {}) });
  res.end(JSON.stringify(a.body));
}
