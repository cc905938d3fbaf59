import http from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { nextSlice, sliceDue } from '../loop-slice';
import { DecodeThreadError, type DecodePool, type DecodedReply } from './decode-pool';
import { encodeJsonRpcCall, encodeXmlRpcCall } from './encode';
import { XenApiConnectionError, XenApiError, XenApiProtocolError, XenApiReplyLimitError, XenApiTlsError } from './errors';
import { JsonDecodeError, decodeJson } from './json-decode';
import { DEFAULT_REPLY_LIMITS, type ReplyLimits } from './limits';
import { RecordParseError, recordFieldsOf, type RecordClass } from './records';
import { isCertificateError, type Endpoint } from './tls';
import { XmlRpcDecodeError, XmlRpcDecoder, decodeXmlRpc, type XmlRpcDocument } from './xml-decode';

export { double, XmlRpcDouble } from './encode';

/**
 * One XenAPI round trip over JSON-RPC (`POST /jsonrpc`) or XML-RPC (`POST /`), in xapi's dialect (reference
 * xenapi.md §1.3, §1.4). The reply is read as it arrives, with its size and nesting depth bounded (issue 10.11),
 * and decoded in time slices so a 60 MB pool read never holds the event loop for long (issue 13).
 * The {Status, Value | ErrorDescription} envelope (XML-RPC) and the v1/v2 JSON-RPC envelopes are unwrapped;
 * a Failure becomes XenApiError.
 */

export type Transport = 'jsonrpc' | 'xmlrpc';

/** The host does not serve JSON-RPC (404 or a non-JSON answer that shows the call did not run): use XML-RPC. */
export class JsonRpcUnavailable extends Error {}

/** A gateway's answers (bad gateway, unavailable, timeout): the host behind it may or may not have run the call. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

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
  /** as redact, and any piece of a secret too: for decoders' errors, which quote the unreadable reply (Redactor.redactPieces) */
  redactPieces: (text: string) => string;
  /** default: XML-RPC */
  transport?: Transport;
  limits?: ReplyLimits;
  /** told which format the host answered in (a host without JSON-RPC may answer /jsonrpc in XML-RPC) */
  answeredIn?: (t: Transport) => void;
  /** a get_all_records call: only these fields of each record are wanted (the XML decoder builds no others) */
  recordFields?: ReadonlySet<string>;
  /**
   * a get_all_records call of this class: only its schema's fields are wanted, and a reply decoded on a thread comes
   * back with its records validated, in batches (record-batches.ts)
   */
  records?: RecordClass;
  /** decode threads for large replies (decode-pool.ts); without: every reply is decoded on the event loop */
  decodePool?: DecodePool;
}

let nextId = 1;

/** Sends one call; resolves with the unwrapped Value or throws one of the client's error types. */
export async function rpc(req: RpcRequest): Promise<unknown> {
  const transport = req.transport ?? 'xmlrpc';
  const limits = req.limits ?? DEFAULT_REPLY_LIMITS;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error('timeout')), req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
  const body = transport === 'jsonrpc' ? encodeJsonRpcCall(req.method, req.params, nextId++) : encodeXmlRpcCall(req.method, req.params);
  try {
    const reply = await post(req, transport === 'jsonrpc' ? '/jsonrpc' : '/', body, signal, limits);
    req.answeredIn?.(reply.kind === 'json' ? 'jsonrpc' : 'xmlrpc');
    if (reply.kind === 'json') return unwrapJson(reply.value, req);
    return unwrapXml(reply.doc, req);
  } catch (e) {
    if (req.signal?.aborted) throw req.signal.reason ?? e;
    if (e instanceof XenApiError || e instanceof XenApiProtocolError || e instanceof XenApiConnectionError || e instanceof JsonRpcUnavailable || e instanceof RecordParseError || e instanceof DecodeThreadError) {
      throw e;
    }
    throw translateError(e as RawError, req, timeout.signal.aborted);
  } finally {
    clearTimeout(timer);
  }
}

type RawError = Error & { code?: unknown };

async function post(req: RpcRequest, path: string, body: string, signal: AbortSignal, limits: ReplyLimits): Promise<DecodedReply> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const options: https.RequestOptions = {
      host: req.hostname,
      port: req.endpoint.port,
      path,
      method: 'POST',
      agent: req.agent,
      signal,
      headers: {
        'User-Agent': 'xsupgrade',
        'Content-Type': path === '/jsonrpc' ? 'application/json' : 'text/xml',
        'Content-Length': Buffer.byteLength(body),
      },
    };
    const r = req.endpoint.scheme === 'https:' ? https.request(options, resolve) : http.request(options, resolve);
    r.on('error', reject);
    r.end(body);
  });
  const status = res.statusCode ?? 0;
  const type = String(res.headers['content-type'] ?? '').toLowerCase();
  const where = `${req.method} on ${req.hostname}`;
  const tooLarge = (): XenApiReplyLimitError => {
    res.destroy();
    return new XenApiReplyLimitError(
      `reply to ${where} is larger than ${limits.maxBytes} bytes (XSUPGRADE_XENAPI_MAX_REPLY_MB); nothing of it was used`,
      req.hostname,
      req.method,
    );
  };
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limits.maxBytes) throw tooLarge();

  const isJson = path === '/jsonrpc' && status === 200 && type.includes('json');
  const recordFields = req.records ? recordFieldsOf(req.records) : req.recordFields;
  if (GATEWAY_STATUSES.has(status)) {
    // a proxy or load balancer in front of xapi answered: the call may have reached xapi and run (a 504 after it
    // started), so its outcome is unknown. Never evidence of a host without JSON-RPC: no re-send over XML-RPC.
    res.resume();
    throw new XenApiConnectionError(`${where}: HTTP ${status} from a gateway in front of the host; the call's outcome is unknown`, req.hostname, req.method, `HTTP_${status}`);
  }
  if (path === '/jsonrpc' && !isJson) {
    // Not JSON. An XML-RPC methodResponse means the host ran the call and answered in XML: use that answer.
    // Anything else (404, an HTML page, an XML-RPC fault) is evidence the call never ran: the caller may resend it.
    if (status === 200 && type.includes('xml')) {
      const doc = await readXml(res, limits, tooLarge, recordFields).catch((e: unknown) => {
        if (e instanceof XmlRpcDecodeError) throw new JsonRpcUnavailable(`POST /jsonrpc: ${e.message}`);
        throw e;
      });
      if (doc.kind === 'response') return { kind: 'xml', doc };
    } else res.resume();
    throw new JsonRpcUnavailable(`POST /jsonrpc answered HTTP ${status} ${type || '(no content type)'}`);
  }
  if (status !== 200) {
    // the whole body is redacted before it is cut or its tags dropped: a secret cut in two, or quoted escaped inside
    // markup, would no longer be found whole
    const body = await readText(res, Math.min(limits.maxBytes, 4096), () => new Error('')).catch(() => '');
    const text = req.redact(body).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200);
    throw new XenApiProtocolError(`unreadable reply to ${where} (HTTP ${status}): ${text}`, req.hostname, req.method, status);
  }
  try {
    if (req.decodePool?.wants(declared, req.records !== undefined)) {
      const job = { format: isJson ? ('json' as const) : ('xml' as const), maxDepth: limits.maxDepth, maxBytes: limits.maxBytes, records: req.records, recordFields };
      return await req.decodePool.decode(res, job, declared, tooLarge, signal);
    }
    if (isJson) return { kind: 'json', value: await decodeJson(await readText(res, limits.maxBytes, tooLarge), limits.maxDepth, { recordFields }) };
    return { kind: 'xml', doc: await readXml(res, limits, tooLarge, recordFields) };
  } catch (e) {
    if (e instanceof XmlRpcDecodeError || e instanceof JsonDecodeError) {
      throw new XenApiProtocolError(`unreadable reply to ${where}: ${req.redactPieces(e.message)}`, req.hostname, req.method, status);
    }
    throw e;
  }
}

/**
 * Reads the body as text, refusing more than maxBytes; yields between slices of work. The chunks are kept as they
 * arrive and decoded once (one UTF-8 decode of the whole body is several times cheaper than per chunk + join).
 */
async function readText(res: http.IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
}

/** Decodes XML-RPC as the chunks arrive, refusing more than maxBytes or deeper than maxDepth; yields between slices. */
async function readXml(res: http.IncomingMessage, limits: ReplyLimits, tooLarge: () => Error, recordFields?: ReadonlySet<string>): Promise<XmlRpcDocument> {
  const text = new StringDecoder('utf8');
  const decoder = new XmlRpcDecoder(limits.maxDepth, { recordFields });
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > limits.maxBytes) throw tooLarge();
      decoder.write(text.write(chunk as Buffer));
      // the shared slice (loop-slice.ts): other pools, Slack acks and the other replies of a read get their turn
      if (sliceDue()) await nextSlice();
    }
  } catch (e) {
    res.destroy();
    throw e;
  }
  decoder.write(text.end());
  return decoder.end();
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
  return new XenApiProtocolError(`unreadable reply to ${where}: ${msg}`, req.hostname, req.method);
}

function failure(description: unknown[], req: RpcRequest): XenApiError {
  const desc = description.map((x) => req.redact(typeof x === 'string' ? x : JSON.stringify(x)));
  const [code = 'UNKNOWN_ERROR', ...params] = desc;
  return new XenApiError(code, params, req.method, req.hostname);
}

function unwrapXml(doc: XmlRpcDocument, req: RpcRequest): unknown {
  if (doc.kind === 'fault') {
    throw new XenApiError('XMLRPC_FAULT', [String(doc.faultCode), req.redact(String(doc.faultString ?? ''))], req.method, req.hostname);
  }
  if (doc.kind !== 'response') throw new XenApiProtocolError(`reply to ${req.method} on ${req.hostname} is not a methodResponse`, req.hostname, req.method);
  const reply = doc.value;
  if (reply === null || typeof reply !== 'object' || !('Status' in reply)) {
    throw new XenApiProtocolError(`reply to ${req.method} on ${req.hostname} is not a {Status, …} struct`, req.hostname, req.method);
  }
  const r = reply as { Status: unknown; Value?: unknown; ErrorDescription?: unknown };
  if (r.Status === 'Success') return r.Value ?? '';
  if (r.Status === 'Failure') throw failure(Array.isArray(r.ErrorDescription) ? r.ErrorDescription : [], req);
  throw new XenApiProtocolError(`reply to ${req.method} on ${req.hostname} has Status ${JSON.stringify(r.Status)}`, req.hostname, req.method);
}

/** v1: {result, error: null | [code, …], id}; v2: {jsonrpc, result, id} or {jsonrpc, error: {code, message, data}, id}. */
function unwrapJson(reply: unknown, req: RpcRequest): unknown {
  const bad = (what: string) => new XenApiProtocolError(`JSON-RPC reply to ${req.method} on ${req.hostname}: ${what}`, req.hostname, req.method);
  if (reply === null || typeof reply !== 'object' || Array.isArray(reply)) throw bad('not an object');
  const r = reply as { result?: unknown; error?: unknown };
  if (r.error !== undefined && r.error !== null) {
    if (Array.isArray(r.error)) throw failure(r.error, req);
    const e = r.error as { message?: unknown; data?: unknown };
    if (typeof e === 'object' && typeof e.message === 'string') {
      throw failure([e.message, ...(Array.isArray(e.data) ? e.data : e.data === undefined || e.data === null ? [] : [e.data])], req);
    }
    throw bad('error is neither [code, …] nor {message, data}');
  }
  if (!('result' in r)) throw bad('neither result nor error');
  return r.result ?? '';
}

/**
 * A task's `result` field is the XML-RPC encoding of the return value (`<value>OpaqueRef:…</value>`,
 * `<value></value>` for void) under both transports. Decoded with the same XML decoder as replies.
 */
export async function decodeTaskResult(encoded: string): Promise<unknown> {
  const text = encoded.trim();
  if (text === '') return '';
  try {
    const doc = decodeXmlRpc(`<methodResponse><params><param>${text}</param></params></methodResponse>`);
    return doc.kind === 'response' ? doc.value : '';
  } catch (e) {
    throw new Error(`task result is not an XML-RPC value: ${(e as Error).message}`);
  }
}
