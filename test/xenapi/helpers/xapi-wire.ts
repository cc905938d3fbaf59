import { decodeXmlRpc } from '../../../src/xenapi/xml-decode';

/** xapi's XML-RPC output (reference xenapi.md §1.3): untyped strings, ints as text, <boolean>, <double>, UTC datetimes. */
export class I4 {
  constructor(readonly n: number) {}
}
export class Double {
  constructor(readonly n: number) {}
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

export function xapiDate(d: Date): string {
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

export function encodeValue(v: unknown): string {
  if (v === undefined || v === null) return '<value></value>';
  if (typeof v === 'string') return `<value>${esc(v)}</value>`;
  if (typeof v === 'number') return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${v}</double></value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (v instanceof I4) return `<value><i4>${v.n}</i4></value>`;
  if (v instanceof Double) return `<value><double>${v.n}</double></value>`;
  if (v instanceof Date) return `<value><dateTime.iso8601>${xapiDate(v)}</dateTime.iso8601></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeValue).join('')}</data></array></value>`;
  const members = Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `<member><name>${k}</name>${encodeValue(x)}</member>`)
    .join('');
  return `<value><struct>${members}</struct></value>`;
}

export function encodeResponse(body: unknown): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${encodeValue(body)}</param></params></methodResponse>`;
}

export function encodeFault(code: number, message: string): string {
  return `<?xml version="1.0"?><methodResponse><fault>${encodeValue({ faultCode: new I4(code), faultString: message })}</fault></methodResponse>`;
}

export async function decodeCall(xml: string): Promise<{ method: string; params: unknown[] }> {
  const doc = decodeXmlRpc(xml);
  if (doc.kind !== 'call') throw new Error('not a methodCall');
  return { method: doc.method, params: doc.params };
}
