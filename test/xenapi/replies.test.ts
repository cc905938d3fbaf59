/**
 * Malformed, oversized and over-deep replies in both formats (issues 13 and 10.11): each is refused with an error
 * that names what was wrong, nothing of it is returned, and the client stays usable. A loopback server plays a
 * broken host; the client is forced onto one transport per test.
 */
import { XenApiClient, XenApiConnectionError, XenApiError, XenApiProtocolError } from '../../src/xenapi';
import { DecodePool } from '../../src/xenapi/decode-pool';
import { XenApiReplyLimitError } from '../../src/xenapi/errors';
import { replyLimitsFromEnv } from '../../src/xenapi/limits';
import { decodeThreads } from '../helpers/decode-threads';
import { startFakeHost, type FakeHost } from '../helpers/fake-host';

type Body = { status?: number; type: string; body: string | Buffer };
let answer: (path: string) => Body;
let host: FakeHost;
let url: string;

beforeAll(async () => {
  host = await startFakeHost((req, res) => {
    const a = answer(req.url ?? '/');
    res.writeHead(a.status ?? 200, { 'content-type': a.type }).end(a.body);
  });
  url = host.url;
});
afterAll(() => host.close());

const xmlOk = (inner: string) => `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${inner}</member></struct></value></param></params></methodResponse>`;
const jsonOk = (inner: string) => `{"jsonrpc":"2.0","result":${inner},"id":1}`;
const nestedXml = (depth: number) => `${'<value><array><data>'.repeat(depth)}<value>x</value>${'</data></array></value>'.repeat(depth)}`;
const nestedJson = (depth: number) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`;

// each case runs twice: decoded on the event loop, and on a decode thread (decode-pool.ts) that takes every reply
const onTheLoop = new DecodePool({ threads: 0 });
const onAThread = decodeThreads(1);
let decodePool = onTheLoop;
afterAll(() => onAThread.close());

function client(transport: 'xmlrpc' | 'jsonrpc', limits = { maxBytes: 1024 * 1024, maxDepth: 32 }): XenApiClient {
  return new XenApiClient({ url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport, replyLimits: limits, decodePool });
}

async function failure(c: XenApiClient, method = 'system.listMethods'): Promise<Error> {
  try {
    await c.call(method);
  } catch (e) {
    return e as Error;
  } finally {
    c.close();
  }
  throw new Error('the call succeeded');
}

describe.each([
  ['xmlrpc', 'on the event loop', onTheLoop],
  ['jsonrpc', 'on the event loop', onTheLoop],
  ['xmlrpc', 'on a decode thread', onAThread],
  ['jsonrpc', 'on a decode thread', onAThread],
] as const)('over %s, decoded %s', (transport, _where, pool) => {
  beforeEach(() => {
    decodePool = pool;
  });
  afterEach(() => {
    decodePool = onTheLoop;
  });
  test('the reply is decoded where this block says', async () => {
    answer = () => (transport === 'xmlrpc' ? { type: 'text/xml', body: xmlOk('<value>here</value>') } : { type: 'application/json', body: jsonOk('"here"') });
    const before = onAThread.handedOver;
    const c = client(transport);
    try {
      expect(await c.call('system.listMethods')).toBe('here');
    } finally {
      c.close();
    }
    expect(onAThread.handedOver - before).toBe(pool === onAThread ? 1 : 0);
  });

  const ok = (inner: { xml: string; json: string }): Body =>
    transport === 'xmlrpc' ? { type: 'text/xml', body: xmlOk(inner.xml) } : { type: 'application/json', body: jsonOk(inner.json) };

  test('a well-formed reply decodes (the baseline for the cases below)', async () => {
    answer = () => ok({ xml: '<value><array><data><value>a</value><value><boolean>1</boolean></value></data></array></value>', json: '["a",true]' });
    const c = client(transport);
    try {
      expect(await c.call('system.listMethods')).toEqual(['a', true]);
    } finally {
      c.close();
    }
  });

  test('a reply larger than the size limit is refused, naming the limit and its variable', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    answer = () => ok({ xml: `<value>${big}</value>`, json: `"${big}"` });
    const e = await failure(client(transport));
    expect(e).toBeInstanceOf(XenApiReplyLimitError);
    expect(e.message).toMatch(/larger than 1048576 bytes \(XSUPGRADE_XENAPI_MAX_REPLY_MB\)/);
    expect(e.message).toMatch(/system\.listMethods on 127\.0\.0\.1/);
  });

  test('a reply nested deeper than the depth limit is refused before it is built', async () => {
    answer = () => ok({ xml: nestedXml(200_000 / 20), json: nestedJson(100_000) });
    const e = await failure(client(transport));
    expect(e).toBeInstanceOf(XenApiProtocolError);
    expect(e.message).toMatch(/nested deeper than 32 levels/);
  });

  test('a reply within the depth limit is accepted', async () => {
    answer = () => ok({ xml: nestedXml(30), json: nestedJson(30) });
    const c = client(transport);
    try {
      let v = await c.call('system.listMethods');
      let depth = 0;
      while (Array.isArray(v)) {
        v = v[0];
        depth++;
      }
      expect(depth).toBe(30);
      expect(v).toBe('x');
    } finally {
      c.close();
    }
  });

  test.each([
    ['truncated', { xml: xmlOk('<value><struct>').slice(0, 120), json: '{"jsonrpc":"2.0","result":{"a":' }],
    ['not the expected envelope', { xml: '<?xml version="1.0"?><html><body>hi</body></html>', json: '[1,2,3]' }],
    ['garbage', { xml: '\u0000\u0001 not xml', json: '{not json' }],
  ])('a %s reply is an unreadable-reply error', async (_what, bodies) => {
    answer = () => (transport === 'xmlrpc' ? { type: 'text/xml', body: bodies.xml } : { type: 'application/json', body: bodies.json });
    const e = await failure(client(transport));
    expect(e).toBeInstanceOf(XenApiProtocolError);
    expect(e.message).toMatch(/system\.listMethods on 127\.0\.0\.1/);
  });

  test('a Failure reply becomes a XenApiError with its code and parameters', async () => {
    answer = () =>
      transport === 'xmlrpc'
        ? {
            type: 'text/xml',
            body: '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data><value>VM_BAD_POWER_STATE</value><value>OpaqueRef:1</value></data></array></value></member></struct></value></param></params></methodResponse>',
          }
        : { type: 'application/json', body: '{"jsonrpc":"2.0","error":{"code":1,"message":"VM_BAD_POWER_STATE","data":["OpaqueRef:1"]},"id":1}' };
    const e = await failure(client(transport), 'system.listMethods');
    expect(e).toBeInstanceOf(XenApiError);
    expect((e as XenApiError).code).toBe("VM_BAD_POWER_STATE");
    expect((e as XenApiError).params).toEqual(["OpaqueRef:1"]);
  });
});

test('XML-RPC: a DOCTYPE (entity expansion) is refused', async () => {
  answer = () => ({ type: 'text/xml', body: `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodResponse><params><param><value>&a;</value></param></params></methodResponse>` });
  const e = await failure(client('xmlrpc'));
  expect(e).toBeInstanceOf(XenApiProtocolError);
  expect(e.message).toMatch(/DOCTYPE/);
});

test('a declared Content-Length over the limit is refused before the body is read', async () => {
  answer = () => ({ type: 'text/xml', body: Buffer.alloc(2 * 1024 * 1024, 0x20) });
  const e = await failure(client('xmlrpc'));
  expect(e).toBeInstanceOf(XenApiReplyLimitError);
});

test('auto transport: a host answering 404 on /jsonrpc gets the call over XML-RPC and keeps it', async () => {
  const paths: string[] = [];
  answer = (path) => {
    paths.push(path);
    return path === '/jsonrpc' ? { status: 404, type: 'text/plain', body: 'not found' } : { type: 'text/xml', body: xmlOk('<value>ok</value>') };
  };
  const c = new XenApiClient({ url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' } });
  try {
    expect(await c.call('system.listMethods')).toBe('ok');
    expect(await c.call('system.listMethods')).toBe('ok');
    expect(paths).toEqual(['/jsonrpc', '/', '/']);
    expect(c.transport).toBe('xmlrpc');
  } finally {
    c.close();
  }
});

test('auto transport: an unreadable JSON reply is not a reason to resend over XML-RPC (the call may have run)', async () => {
  const paths: string[] = [];
  answer = (path) => {
    paths.push(path);
    return { type: 'application/json', body: '{"result": [1, 2' };
  };
  const c = new XenApiClient({ url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' } });
  const e = await failure(c);
  expect(e).toBeInstanceOf(XenApiProtocolError);
  expect(paths).toEqual(['/jsonrpc']);
});

describe('limits from the environment', () => {
  test('defaults hold a 64-host pool; both variables are validated and named in the error', () => {
    expect(replyLimitsFromEnv({})).toEqual({ maxBytes: 256 * 1024 * 1024, maxDepth: 32 });
    expect(replyLimitsFromEnv({ XSUPGRADE_XENAPI_MAX_REPLY_MB: '64', XSUPGRADE_XENAPI_MAX_REPLY_DEPTH: '16' })).toEqual({ maxBytes: 64 * 1024 * 1024, maxDepth: 16 });
    expect(() => replyLimitsFromEnv({ XSUPGRADE_XENAPI_MAX_REPLY_MB: '12MB' })).toThrow(/XSUPGRADE_XENAPI_MAX_REPLY_MB must be a whole number/);
    expect(() => replyLimitsFromEnv({ XSUPGRADE_XENAPI_MAX_REPLY_MB: '0' })).toThrow(/XSUPGRADE_XENAPI_MAX_REPLY_MB must be between 1 and 4096/);
    expect(() => replyLimitsFromEnv({ XSUPGRADE_XENAPI_MAX_REPLY_DEPTH: '3' })).toThrow(/XSUPGRADE_XENAPI_MAX_REPLY_DEPTH must be between 8 and 1000/);
  });
});

describe('a gateway error on /jsonrpc (502, 503, 504) is not evidence the call never ran', () => {
  const paths: string[] = [];
  const auto = () => new XenApiClient({ url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' } });
  const loginThen = (status: number, page: string) => (path: string): Body => {
    paths.push(path);
    if (paths.length === 1) return { type: 'application/json', body: jsonOk('"OpaqueRef:session"') };
    return { status, type: 'text/html', body: page };
  };

  test.each([502, 503, 504])('HTTP %i: the call fails as a connection failure (outcome unknown), and is not re-sent over XML-RPC', async (status) => {
    paths.length = 0;
    answer = loginThen(status, `<html><body>${status} Gateway</body></html>`);
    const e = await failure(auto(), 'host.reboot');
    expect(e).toBeInstanceOf(XenApiConnectionError);
    expect(e.message).toMatch(new RegExp(`HTTP ${status}`));
    // login, then host.reboot once over JSON-RPC; nothing on the XML-RPC path
    expect(paths).toEqual(['/jsonrpc', '/jsonrpc']);
  });

  test('HTTP 404 (a host with no JSON-RPC) still falls back: the call is sent once over XML-RPC', async () => {
    paths.length = 0;
    answer = (path) => {
      paths.push(path);
      if (path === '/jsonrpc') return { status: 404, type: 'text/html', body: '<html>not found</html>' };
      return { type: 'text/xml', body: xmlOk(paths.filter((p) => p === '/').length === 1 ? '<value>OpaqueRef:session</value>' : '<value></value>') };
    };
    const c = auto();
    try {
      expect(await c.call('host.reboot')).toBe('');
    } finally {
      c.close();
    }
    expect(paths).toEqual(['/jsonrpc', '/', '/']);
  });
});
