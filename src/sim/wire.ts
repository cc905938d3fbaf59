/**
 * XML-RPC in xapi's exact dialect (reference xenapi.md §1.3): strings, refs, enums and int64 are untyped
 * `<value>text</value>`, floats are `<double>`, booleans `<boolean>1|0</boolean>`, datetimes
 * `<dateTime.iso8601>20170407T08:28:32Z</dateTime.iso8601>`. Written by hand so the format is exact.
 */
import { PassThrough, Readable } from 'node:stream';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const Deserializer = require('xmlrpc/lib/deserializer') as new () => {
  deserializeMethodCall(stream: Readable, cb: (err: Error | null, method?: string, params?: unknown[]) => void): void;
};

/** A float that must go on the wire as `<double>` (JS numbers are written as int64 decimal strings). */
export class Double {
  constructor(readonly value: number) {}
}
/** The only typed integer xapi sends: `event.from`'s valid_ref_counts. */
export class I4 {
  constructor(readonly value: number) {}
}

export type WireValue =
  | string
  | number
  | boolean
  | Date
  | Double
  | I4
  | WireValue[]
  | { [key: string]: WireValue };

// xapi drops control characters and escapes < > & " (struct member names are not escaped).
function escapeText(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** `20170407T08:28:32Z`: UTC, no dashes, no milliseconds. */
export function formatXapiDate(d: Date): string {
  const iso = d.toISOString(); // 2017-04-07T08:28:32.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}Z`;
}

export const NEVER = new Date(0);

function formatDouble(n: number): string {
  if (!Number.isFinite(n)) return '0.';
  return Number.isInteger(n) ? `${n}.` : String(n);
}

export function encodeValue(v: WireValue | null | undefined): string {
  if (v === null || v === undefined) return '<value></value>';
  if (typeof v === 'string') return `<value>${escapeText(v)}</value>`;
  if (typeof v === 'number') return `<value>${Math.trunc(v)}</value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (v instanceof Date) return `<value><dateTime.iso8601>${formatXapiDate(v)}</dateTime.iso8601></value>`;
  if (v instanceof Double) return `<value><double>${formatDouble(v.value)}</double></value>`;
  if (v instanceof I4) return `<value><i4>${Math.trunc(v.value)}</i4></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeValue).join('')}</data></array></value>`;
  const members = Object.entries(v)
    .map(([k, x]) => `<member><name>${k}</name>${encodeValue(x)}</member>`)
    .join('');
  return `<value><struct>${members}</struct></value>`;
}

function response(inner: string): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${inner}</param></params></methodResponse>`;
}

export function successResponse(value: WireValue): string {
  return response(encodeValue({ Status: 'Success', Value: value }));
}

export function failureResponse(description: string[]): string {
  return response(encodeValue({ Status: 'Failure', ErrorDescription: description }));
}

/** An XML-RPC `<fault>` (xapi sends one for `Async.` on a session-only message). */
export function faultResponse(code: number, message: string): string {
  const body = encodeValue({ faultCode: new I4(code), faultString: message });
  return `<?xml version="1.0"?><methodResponse><fault>${body}</fault></methodResponse>`;
}

export interface MethodCall {
  method: string;
  params: unknown[];
}

/** Parse a methodCall body; rejects on malformed XML (the server answers HTTP 500). */
export function parseMethodCall(body: string): Promise<MethodCall> {
  return new Promise((resolve, reject) => {
    const stream = new PassThrough();
    stream.end(body, 'utf8');
    new Deserializer().deserializeMethodCall(stream, (err, method, params) => {
      if (err || !method) reject(err ?? new Error('no method name'));
      else resolve({ method, params: params ?? [] });
    });
  });
}
