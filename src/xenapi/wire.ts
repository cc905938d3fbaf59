import type http from 'node:http';
import { Readable } from 'node:stream';
import xmlrpc from 'xmlrpc';
import { XenApiConnectionError, XenApiError, XenApiProtocolError, XenApiTlsError } from './errors';
import { isCertificateError, type Endpoint } from './tls';

/**
 * One XML-RPC round trip in xapi's dialect, over the `xmlrpc` package.
 * xapi specifics handled here (reference xenapi.md §1.3, §8):
 * - the package writes every JS integer as <int>; xapi wants int64 as decimal strings, so integers are sent as strings;
 * - floats that xapi requires as <double> (event.from's timeout) go through XmlRpcDouble, since 1.0 is an integer in JS;
 * - datetimes are written as xapi writes them: UTC, no dashes, trailing Z (20170407T08:28:32Z);
 * - the reply {Status, Value | ErrorDescription} is unwrapped; a Failure becomes XenApiError.
 */

// xapi's datetime form; the package's default is local time without Z.
xmlrpc.dateFormatter.setOpts({ colons: true, hyphens: false, local: false, ms: false, offset: false });

/** A value the serializer writes as <double>, whatever its JS value (30 → <double>30.0</double>). */
export class XmlRpcDouble extends xmlrpc.CustomType {
  constructor(value: number) {
    if (!Number.isFinite(value)) throw new RangeError(`XML-RPC double must be finite, got ${value}`);
    super(Number.isInteger(value) ? value.toFixed(1) : String(value));
  }
}
XmlRpcDouble.prototype.tagName = 'double';

export function double(value: number): XmlRpcDouble {
  return new XmlRpcDouble(value);
}

/** JS integers become decimal strings (xapi's int64 form); everything else is left to the serializer. */
export function toWireValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v;
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date || v instanceof xmlrpc.CustomType || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(toWireValue);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toWireValue(x);
  return out;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

export interface RpcRequest {
  endpoint: Endpoint;
  /** the host actually addressed (the master, or a member during reconnect) */
  hostname: string;
  agent: http.Agent;
  method: string;
  params: unknown[];
  /** real milliseconds before the request is abandoned as a connection timeout */
  timeoutMs: number;
  signal?: AbortSignal;
  /** scrubs secrets out of any text that ends up in an error */
  redact: (text: string) => string;
}

type ClientOptions = Exclude<Parameters<typeof xmlrpc.createClient>[0], string>;

type RawError = Error & { code?: unknown; faultCode?: unknown; faultString?: unknown; res?: http.IncomingMessage };

/** Sends one call; resolves with the unwrapped Value or throws one of the client's error types. */
export async function rpc(req: RpcRequest): Promise<unknown> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error('timeout')), req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
  const options = {
    host: req.hostname,
    port: req.endpoint.port,
    path: '/',
    agent: req.agent,
    signal,
    headers: { 'User-Agent': 'xsupgrade' },
  };
  const client =
    req.endpoint.scheme === 'https:' ? xmlrpc.createSecureClient(options as ClientOptions) : xmlrpc.createClient(options as ClientOptions);
  let reply: unknown;
  try {
    reply = await new Promise<unknown>((resolve, reject) => {
      let settled = false;
      client.methodCall(req.method, req.params.map(toWireValue), (err, value) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(value);
      });
    });
  } catch (e) {
    if (req.signal?.aborted) throw req.signal.reason ?? e;
    throw translateError(e as RawError, req, timeout.signal.aborted);
  } finally {
    clearTimeout(timer);
  }
  return unwrap(reply, req);
}

function translateError(err: RawError, req: RpcRequest, timedOut: boolean): Error {
  const where = `${req.method} on ${req.hostname}`;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const msg = req.redact(String(err.message ?? err));
  if (timedOut) {
    return new XenApiConnectionError(`no answer from ${req.hostname} within ${req.timeoutMs} ms (${req.method})`, req.hostname, req.method, 'ETIMEDOUT');
  }
  if (isCertificateError(err)) return new XenApiTlsError(`TLS: ${msg} (${where})`, req.hostname, code);
  if ((code && CONNECTION_CODES.has(code)) || /socket hang up|aborted|ECONNRESET|ECONNREFUSED/i.test(msg)) {
    return new XenApiConnectionError(`cannot reach ${req.hostname}: ${code ?? msg} (${req.method})`, req.hostname, req.method, code ?? 'ECONNRESET');
  }
  if (err.faultCode !== undefined) {
    return new XenApiError('XMLRPC_FAULT', [String(err.faultCode), req.redact(String(err.faultString ?? ''))], req.method, req.hostname);
  }
  const status = err.res?.statusCode;
  return new XenApiProtocolError(
    `unreadable reply to ${where}${status !== undefined ? ` (HTTP ${status})` : ''}: ${msg}`,
    req.hostname,
    req.method,
  );
}

function unwrap(reply: unknown, req: RpcRequest): unknown {
  if (reply === null || typeof reply !== 'object' || !('Status' in reply)) {
    throw new XenApiProtocolError(`reply to ${req.method} on ${req.hostname} is not a {Status, …} struct`, req.hostname, req.method);
  }
  const r = reply as { Status: unknown; Value?: unknown; ErrorDescription?: unknown };
  if (r.Status === 'Success') return r.Value ?? '';
  if (r.Status === 'Failure') {
    const desc = Array.isArray(r.ErrorDescription) ? r.ErrorDescription.map((x) => req.redact(String(x))) : [];
    const [code = 'UNKNOWN_ERROR', ...params] = desc;
    throw new XenApiError(code, params, req.method, req.hostname);
  }
  throw new XenApiProtocolError(`reply to ${req.method} on ${req.hostname} has Status ${JSON.stringify(r.Status)}`, req.hostname, req.method);
}

/**
 * A task's `result` field is the XML-RPC encoding of the return value
 * (`<value>OpaqueRef:…</value>`, `<value></value>` for void). Decodes it with the same deserializer as replies.
 */
export async function decodeTaskResult(encoded: string): Promise<unknown> {
  const text = encoded.trim();
  if (text === '') return '';
  const doc = `<?xml version="1.0"?><methodResponse><params><param>${text}</param></params></methodResponse>`;
  // The package's Deserializer is not in its typings; it is the same one that reads every reply.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Deserializer = require('xmlrpc/lib/deserializer') as new () => {
    deserializeMethodResponse(stream: Readable, cb: (err: Error | null, value: unknown) => void): void;
  };
  return new Promise((resolve, reject) => {
    new Deserializer().deserializeMethodResponse(Readable.from([doc]), (err, value) =>
      err ? reject(new Error(`task result is not an XML-RPC value: ${err.message}`)) : resolve(value),
    );
  });
}
