/**
 * XML-RPC in xapi's exact dialect (reference xenapi.md §1.3): strings, refs, enums and int64 are untyped
 * `<value>text</value>`, floats are `<double>`, booleans `<boolean>1|0</boolean>`, datetimes
 * `<dateTime.iso8601>20170407T08:28:32Z</dateTime.iso8601>`. Written by hand so the format is exact.
 */
import { decodeXmlRpc } from '../xenapi/xml-decode';

/** A float that must go on the wire as `<double>` (JS numbers are written as int64 decimal strings). */
export class Double {
  constructor(readonly value: number) {}
}
/** The only typed integer xapi sends: `event.from`'s valid_ref_counts. */
export class I4 {
  constructor(readonly value: number) {}
}

/**
 * A record whose wire encodings are made once and cached (db.ts): `<value>…</value>` for XML-RPC, JSON text for
 * JSON-RPC, each built on first use.
 */
export class Encoded {
  private xmlText: string | undefined;
  private jsonText: string | undefined;
  private xmlReply: Buffer | undefined;
  private jsonBytes: Buffer | undefined;
  constructor(
    private readonly rec: Record<string, WireValue>,
    private readonly floats: readonly string[] = [],
  ) {}
  get xml(): string {
    if (this.xmlText === undefined) {
      const out: string[] = ['<value><struct>'];
      for (const k in this.rec) {
        out.push('<member><name>', k, '</name>');
        const v = this.rec[k];
        if (typeof v === 'number' && this.floats.includes(k)) out.push('<value><double>', formatDouble(v), '</double></value>');
        else encodeInto(v, out);
        out.push('</member>');
      }
      out.push('</struct></value>');
      this.xmlText = out.join('');
    }
    return this.xmlText;
  }
  get json(): string {
    this.jsonText ??= encodeJson(this.rec);
    return this.jsonText;
  }
  /**
   * The whole XML-RPC success reply carrying this value, and its JSON as UTF-8, made once: a get_all_records of
   * 3,200 VMs is ~21 MB of XML, and joining the reply and converting it to bytes again on every read was most of
   * the simulator's serving time (issue 13). The bytes are exactly successResponse's / encodeJson's.
   */
  get xmlReplyBytes(): Buffer {
    this.xmlReply ??= Buffer.concat([SUCCESS_HEAD, Buffer.from(this.xml), SUCCESS_TAIL]);
    return this.xmlReply;
  }
  get jsonUtf8(): Buffer {
    this.jsonBytes ??= Buffer.from(this.json);
    return this.jsonBytes;
  }
}

export type WireValue =
  | string
  | number
  | boolean
  | Date
  | Double
  | I4
  | Encoded
  | WireValue[]
  | { [key: string]: WireValue };

// xapi drops control characters and escapes < > & " (struct member names are not escaped).
const NEEDS_ESCAPE = /[&<>"\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
function escapeText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s; // the common case: refs, uuids, names, numbers
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

/** Append the encoding of `v` to `out` (one join at the end instead of nested template strings). */
function encodeInto(v: WireValue | null | undefined, out: string[]): void {
  if (v === null || v === undefined) out.push('<value></value>');
  else if (typeof v === 'string') out.push('<value>', escapeText(v), '</value>');
  else if (typeof v === 'number') out.push('<value>', String(Math.trunc(v)), '</value>');
  else if (typeof v === 'boolean') out.push(v ? '<value><boolean>1</boolean></value>' : '<value><boolean>0</boolean></value>');
  else if (v instanceof Encoded) out.push(v.xml);
  else if (v instanceof Date) out.push('<value><dateTime.iso8601>', formatXapiDate(v), '</dateTime.iso8601></value>');
  else if (v instanceof Double) out.push('<value><double>', formatDouble(v.value), '</double></value>');
  else if (v instanceof I4) out.push('<value><i4>', String(Math.trunc(v.value)), '</i4></value>');
  else if (Array.isArray(v)) {
    out.push('<value><array><data>');
    for (const x of v) encodeInto(x, out);
    out.push('</data></array></value>');
  } else {
    out.push('<value><struct>');
    for (const k in v) {
      out.push('<member><name>', k, '</name>');
      encodeInto(v[k], out);
      out.push('</member>');
    }
    out.push('</struct></value>');
  }
}

export function encodeValue(v: WireValue | null | undefined): string {
  const out: string[] = [];
  encodeInto(v, out);
  return out.join('');
}

/**
 * A record (struct) whose `floats` fields go out as `<double>`, encoded lazily from the live record. The caller
 * (db.encoded) serves it only while the record's `modified` generation is unchanged.
 */
export function encodeRecord(rec: Record<string, WireValue>, floats: readonly string[] = []): Encoded {
  return new Encoded(rec, floats);
}

/**
 * JSON-RPC encoding (reference xenapi.md §1.4): ints and floats are numbers, datetimes xapi's text form, cached
 * records spliced in verbatim.
 */
export function encodeJson(v: WireValue | null | undefined): string {
  const out: string[] = [];
  jsonInto(v, out);
  return out.join('');
}

function jsonInto(v: WireValue | null | undefined, out: string[]): void {
  if (v === null || v === undefined) out.push('""');
  else if (typeof v === 'string') out.push(JSON.stringify(v));
  else if (typeof v === 'number') out.push(Number.isFinite(v) ? String(v) : '0');
  else if (typeof v === 'boolean') out.push(v ? 'true' : 'false');
  else if (v instanceof Encoded) out.push(v.json);
  else if (v instanceof Date) out.push('"', formatXapiDate(v), '"');
  else if (v instanceof Double || v instanceof I4) out.push(Number.isFinite(v.value) ? String(v.value) : '0');
  else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(',');
      jsonInto(x, out);
    });
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const k in v) {
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(k), ':');
      jsonInto(v[k], out);
    }
    out.push('}');
  }
}

function response(inner: string): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${inner}</param></params></methodResponse>`;
}

export function successResponse(value: WireValue): string {
  return response(encodeValue({ Status: 'Success', Value: value }));
}

/** successResponse as bytes; a cached encoding's reply is made once (Encoded.xmlReplyBytes). */
export function successResponseBody(value: WireValue): string | Buffer {
  return value instanceof Encoded ? value.xmlReplyBytes : successResponse(value);
}

// what successResponse writes before and after the encoding of its value
const [SUCCESS_HEAD, SUCCESS_TAIL] = ((): Buffer[] => {
  const mark = '<value>xsupgrade-value</value>';
  const [head, tail] = successResponse('xsupgrade-value').split(mark);
  return [Buffer.from(head!), Buffer.from(tail!)];
})();

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
export async function parseMethodCall(body: string): Promise<MethodCall> {
  const doc = decodeXmlRpc(body);
  if (doc.kind !== 'call') throw new Error('not a methodCall');
  return { method: doc.method, params: doc.params };
}
