/** Test helpers: a raw XML-RPC client (hand-written XML over fetch) that is not our client. */
import { ScaledClock } from '../../src/clock';

import { decodeXmlRpc } from '../../src/xenapi/xml-decode';
import http from 'node:http';
import https from 'node:https';

export const fastClock = (scale = 100000) => new ScaledClock(scale);

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Encode params the way xapi clients do: strings untyped-ish (<string>), ints as strings, booleans typed. */
export function encodeParam(v: unknown): string {
  if (typeof v === 'string') return `<value><string>${esc(v)}</string></value>`;
  if (typeof v === 'number') return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${v}</double></value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeParam).join('')}</data></array></value>`;
  if (v && typeof v === 'object')
    return `<value><struct>${Object.entries(v).map(([k, x]) => `<member><name>${k}</name>${encodeParam(x)}</member>`).join('')}</struct></value>`;
  return '<value></value>';
}

export function methodCallXml(method: string, params: unknown[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param>${encodeParam(p)}</param>`).join('')}</params></methodCall>`;
}

/**
 * POST over http or https. The simulator serves HTTPS with a self-signed certificate per host by default; these raw
 * protocol tests check the simulator's XenAPI semantics, not its certificates (test/sim/tls.test.ts does that).
 */
export function rawPost(url: string, body: string): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      { method: 'POST', headers: { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) }, rejectUnauthorized: false, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function decodeResponse(xml: string): Promise<any> {
  const doc = decodeXmlRpc(xml);
  if (doc.kind === 'fault') throw Object.assign(new Error(String(doc.faultString)), { faultCode: doc.faultCode, faultString: doc.faultString });
  if (doc.kind !== 'response') throw new Error('not a methodResponse');
  return doc.value;
}

export type XapiResult = { Status: 'Success'; Value: any } | { Status: 'Failure'; ErrorDescription: string[] };

/** One XML-RPC call; returns xapi's {Status, Value|ErrorDescription} struct. */
export async function xcall(url: string, method: string, params: unknown[] = []): Promise<XapiResult> {
  const r = await rawPost(url, methodCallXml(method, params));
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text}`);
  return decodeResponse(r.text);
}

/** Call and unwrap a success, or throw an Error whose message is the ErrorDescription joined by spaces. */
export async function ok(url: string, method: string, params: unknown[] = []): Promise<any> {
  const r = await xcall(url, method, params);
  if (r.Status !== 'Success') throw new XapiTestError(r.ErrorDescription);
  return r.Value;
}

export class XapiTestError extends Error {
  constructor(readonly description: string[]) {
    super(description.join(' '));
  }
}

export async function failureOf(url: string, method: string, params: unknown[] = []): Promise<string[]> {
  const r = await xcall(url, method, params);
  if (r.Status !== 'Failure') throw new Error(`${method} succeeded but a failure was expected: ${JSON.stringify(r.Value)}`);
  return r.ErrorDescription;
}

export async function login(url: string, user = 'root', password = 'xenroot-demo'): Promise<string> {
  return ok(url, 'session.login_with_password', [user, password, '1.0', 'sim-test']);
}

/** Poll (with real short waits, bounded by count, not time) until fn returns truthy. */
export async function until<T>(fn: () => Promise<T> | T, what: string, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}
