/**
 * Request encoding for both transports (issue 13). Replaces the `xmlrpc` package's serializer: a request is a few
 * hundred bytes, so a small hand-written encoder costs nothing and removes an unmaintained dependency.
 *
 * XML-RPC in xapi's dialect (reference xenapi.md §1.3): JS integers are sent as decimal strings (xapi's int64
 * form); floats that must be `<double>` (event.from's timeout) are wrapped in XmlRpcDouble since 1.0 is an integer
 * in JS; datetimes are UTC with no dashes and a trailing Z (20170407T08:28:32Z).
 * JSON-RPC (§1.4): ints and floats are JSON numbers, datetimes strings in the same form.
 */

/** A number that goes on the wire as a float (`<double>30.0</double>` in XML-RPC, 30 in JSON). */
export class XmlRpcDouble {
  constructor(readonly value: number) {
    if (!Number.isFinite(value)) throw new RangeError(`XML-RPC double must be finite, got ${value}`);
  }
}

export function double(value: number): XmlRpcDouble {
  return new XmlRpcDouble(value);
}

/** `20170407T08:28:32Z` */
export function formatXapiDate(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}Z`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function xmlValue(v: unknown, out: string[]): void {
  if (v === null || v === undefined) out.push('<value><nil/></value>');
  else if (typeof v === 'string') out.push('<value><string>', escapeXml(v), '</string></value>');
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`cannot send ${v} over XML-RPC`);
    // xapi's int64 is a decimal string; a non-integer number is a double
    out.push(Number.isInteger(v) ? `<value><string>${v}</string></value>` : `<value><double>${v}</double></value>`);
  } else if (typeof v === 'boolean') out.push(`<value><boolean>${v ? 1 : 0}</boolean></value>`);
  else if (v instanceof XmlRpcDouble) out.push(`<value><double>${Number.isInteger(v.value) ? v.value.toFixed(1) : v.value}</double></value>`);
  else if (v instanceof Date) out.push(`<value><dateTime.iso8601>${formatXapiDate(v)}</dateTime.iso8601></value>`);
  else if (Buffer.isBuffer(v)) out.push(`<value><base64>${v.toString('base64')}</base64></value>`);
  else if (Array.isArray(v)) {
    out.push('<value><array><data>');
    for (const x of v) xmlValue(x, out);
    out.push('</data></array></value>');
  } else if (typeof v === 'object') {
    out.push('<value><struct>');
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out.push('<member><name>', escapeXml(k), '</name>');
      xmlValue(x, out);
      out.push('</member>');
    }
    out.push('</struct></value>');
  } else throw new TypeError(`cannot send a ${typeof v} over XML-RPC`);
}

export function encodeXmlRpcCall(method: string, params: unknown[]): string {
  const out = ['<?xml version="1.0"?><methodCall><methodName>', escapeXml(method), '</methodName><params>'];
  for (const p of params) {
    out.push('<param>');
    xmlValue(p, out);
    out.push('</param>');
  }
  out.push('</params></methodCall>');
  return out.join('');
}

/** JSON-RPC 2.0 request (xapi 7.1 answers it in the 1.0 form; the client reads both). */
export function encodeJsonRpcCall(method: string, params: unknown[], id: number): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params: toJsonParams(params), id });
}

/** Doubles become plain numbers; Dates xapi's datetime text (JSON.stringify would write ISO with dashes). */
function toJsonParams(params: unknown[]): unknown[] {
  const conv = (v: unknown): unknown => {
    if (v instanceof Date) return formatXapiDate(v);
    if (v instanceof XmlRpcDouble) return v.value;
    if (Array.isArray(v)) return v.map(conv);
    if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x)]));
    return v;
  };
  return params.map(conv);
}
