/**
 * JSON-RPC as xapi serves it on `POST /jsonrpc` (reference xenapi.md §1.4; issue 13): the request is
 * `{method, params, id}` (plus `"jsonrpc": "2.0"` for v2; `id` must not be null); the v1 reply is
 * `{result, error: null | [code, …], id}`, the v2 reply `{jsonrpc, result, id}` or
 * `{jsonrpc, error: {code, message: CODE, data: [params]}, id}`. Values: ints and floats are numbers, datetimes
 * xapi's text form (wire.ts encodeJson). Which dialect a host speaks depends on its version (jsonRpcDialect).
 */
import { z } from 'zod';
import { compareVersions } from '../domain/versions';
import type { Outcome } from './rpc';
import { Encoded, encodeJson } from './wire';

export type JsonRpcDialect = 'none' | 'xml' | 'v1' | 'v1+v2';

/**
 * 7.1: v1 replies only; 7.3 and later: v1 and v2; 7.0 and 7.2 answer /jsonrpc in XML-RPC; before 7.0 (6.5, the
 * oldest version of a multi-hop upgrade) xapi has no /jsonrpc handler at all: HTTP 404 (reference xenapi.md §1.4,
 * "already present in 7.0").
 */
export function jsonRpcDialect(productVersion: string): JsonRpcDialect {
  const mm = productVersion.split('.').slice(0, 2).join('.');
  if (compareVersions(mm, '7.0') < 0) return 'none';
  if (mm === '7.1') return 'v1';
  if (compareVersions(mm, '7.3') >= 0) return 'v1+v2';
  return 'xml';
}

const callSchema = z.object({
  jsonrpc: z.literal('2.0').optional(),
  method: z.string().min(1),
  params: z.array(z.unknown()),
  id: z.union([z.string(), z.number()]),
});

export type JsonRpcCall = z.infer<typeof callSchema>;

/** Throws on malformed JSON or a call without method, params or id (the server answers HTTP 500). */
export function parseJsonRpcCall(text: string): JsonRpcCall {
  const parsed = callSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The reply's body, as text or as bytes in parts (a cached get_all_records encoding is sent as it is, not copied). */
export function jsonRpcResponse(out: Exclude<Outcome, { kind: 'reset' }>, call: JsonRpcCall, dialect: JsonRpcDialect): string | Buffer[] {
  const id = JSON.stringify(call.id);
  const description = out.kind === 'failure' ? out.description : out.kind === 'fault' ? ['INTERNAL_ERROR', out.message] : undefined;
  const v2 = dialect === 'v1+v2' && call.jsonrpc === '2.0';
  if (!description) {
    const value = (out as { value: Parameters<typeof encodeJson>[0] }).value;
    const [head, tail] = v2 ? ['{"jsonrpc":"2.0","result":', `,"id":${id}}`] : ['{"result":', `,"error":null,"id":${id}}`];
    // a cached encoding (get_all_records) goes out as the bytes made once (wire.ts Encoded.jsonUtf8)
    if (value instanceof Encoded) return [Buffer.from(head), value.jsonUtf8, Buffer.from(tail)];
    return `${head}${encodeJson(value)}${tail}`;
  }
  if (!v2) return `{"result":null,"error":${JSON.stringify(description)},"id":${id}}`;
  const [message, ...data] = description;
  return JSON.stringify({ jsonrpc: '2.0', error: { code: 1, message, data }, id: call.id });
}
