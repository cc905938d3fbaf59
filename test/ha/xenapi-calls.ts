/**
 * What the HA tests' recording proxy (replicas.ts) makes of one HTTP request to the pool: the XenAPI method, read
 * from either wire format the client speaks (issue 13: JSON-RPC on POST /jsonrpc first, XML-RPC on POST / as the
 * fallback), and whether that method can change the pool. Pure, so it is tested on its own (xenapi-calls.test.ts).
 */

export type Wire = 'jsonrpc' | 'xmlrpc' | 'http';

export interface RecordedMethod {
  /** the XenAPI method (e.g. `Async.host.evacuate`), else `http:<verb> <path>` for anything that is not an RPC */
  method: string;
  wire: Wire;
}

/** The method named in one request body; a body that names none is recorded by its HTTP verb and path. */
export function methodOf(httpMethod: string, path: string, body: string): RecordedMethod {
  const xml = /<methodName>\s*([^<\s]+)\s*<\/methodName>/.exec(body);
  if (xml) return { method: unescapeXml(xml[1]!), wire: 'xmlrpc' };
  const trimmed = body.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const call = JSON.parse(trimmed) as { method?: unknown };
      if (typeof call.method === 'string' && call.method.length > 0) return { method: call.method, wire: 'jsonrpc' };
    } catch {
      // not JSON: recorded by verb and path below (and so counted as state-changing)
    }
  }
  return { method: `http:${httpMethod} ${path}`, wire: 'http' };
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp);/g, (_, e: string) => (e === 'lt' ? '<' : e === 'gt' ? '>' : '&'));
}

/**
 * XenAPI methods that read or wait only; everything else — every `Async.*` call, task.cancel/destroy, any request
 * whose method could not be read — is counted as changing the pool.
 */
export function isReadOnly(method: string): boolean {
  return /^(session\.|event\.|system\.|[A-Za-z_]+\.get_|http:GET )/.test(method);
}
