import { XenApiClient, XenApiConnectionError, XenApiError, XenApiProtocolError, TlsConfigError } from '../../src/xenapi';
import { FAULT, HANG, HTML500, RESET, XapiFailure, startFakePool, type FakePool } from './helpers/fake-pool';

let pool: FakePool;
let client: XenApiClient;

function newClient(url = pool.masterUrl, extra: Partial<ConstructorParameters<typeof XenApiClient>[0]> = {}): XenApiClient {
  return new XenApiClient({ url, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, ...extra });
}

beforeEach(async () => {
  pool = await startFakePool({ hosts: 3 });
  client = newClient();
});

afterEach(async () => {
  client.close();
  await pool.stop();
});

describe('login and sessions', () => {
  test('login sends user, password, version 1.0 and originator xsupgrade', async () => {
    await client.login();
    const login = pool.requests.find((r) => r.method === 'session.login_with_password')!;
    expect(login.params).toEqual(['root', pool.password, '1.0', 'xsupgrade']);
    expect(client.isLoggedIn).toBe(true);
  });

  test('the session ref is prepended to calls, but not to session.* and system.*', async () => {
    pool.on('host.get_name_label', (params) => `name of ${params[0]}`);
    expect(await client.call('host.get_name_label', ['OpaqueRef:h'])).toBe('name of OpaqueRef:h');
    const req = pool.requests.find((r) => r.method === 'host.get_name_label')!;
    expect(req.params[0]).toMatch(/^OpaqueRef:/);
    expect(pool.sessions.has(String(req.params[0]))).toBe(true);
    await client.call('system.listMethods');
    expect(pool.requests.find((r) => r.method === 'system.listMethods')!.params).toEqual([]);
  });

  test('logout ends the session on the server', async () => {
    await client.login();
    expect(pool.sessions.size).toBe(1);
    await client.logout();
    expect(pool.sessions.size).toBe(0);
    expect(client.isLoggedIn).toBe(false);
  });

  test('SESSION_INVALID: logs in again once, transparently', async () => {
    pool.on('pool.get_all', () => ['OpaqueRef:p']);
    await client.call('pool.get_all');
    pool.invalidateSessions();
    expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:p']);
    expect(pool.calls('session.login_with_password')).toBe(2);
  });

  test('SESSION_INVALID twice in a row: the error surfaces after one re-login', async () => {
    pool.on('pool.get_all', (_p, ctx) => {
      throw new XapiFailure(['SESSION_INVALID', String(ctx.session)]);
    });
    await expect(client.call('pool.get_all')).rejects.toMatchObject({ name: 'XenApiError', code: 'SESSION_INVALID' });
    expect(pool.calls('session.login_with_password')).toBe(2);
    expect(pool.calls('pool.get_all')).toBe(2);
  });

  test('concurrent calls after a session loss share one re-login', async () => {
    pool.on('pool.get_all', () => []);
    await client.login();
    pool.invalidateSessions();
    await Promise.all([1, 2, 3].map(() => client.call('pool.get_all')));
    expect(pool.calls('session.login_with_password')).toBeLessThanOrEqual(3);
    expect(pool.sessions.size).toBeGreaterThanOrEqual(1);
  });
});

describe('HOST_IS_SLAVE', () => {
  test('login on a slave follows to the master address, keeping scheme and port', async () => {
    const c = newClient(pool.urlOf(pool.hosts[2]!));
    try {
      await c.login();
      expect(c.masterAddress).toBe(pool.master.address);
      expect(c.masterUrl).toBe(pool.masterUrl);
      const logins = pool.requests.filter((r) => r.method === 'session.login_with_password').map((r) => r.host);
      expect(logins).toEqual([pool.hosts[2]!.address, pool.master.address]);
      expect(c.knownMembers).toEqual(expect.arrayContaining([pool.hosts[2]!.address, pool.master.address]));
    } finally {
      c.close();
    }
  });

  test('a call answered HOST_IS_SLAVE (the master moved) is retried once on the new master', async () => {
    pool.on('pool.get_all', () => ['OpaqueRef:p']);
    await client.login();
    pool.setMaster('host2');
    // the session is pool-wide in xapi; keep it valid on the new master
    expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:p']);
    expect(client.masterAddress).toBe(pool.hosts[1]!.address);
  });

  test('HOST_IS_SLAVE is followed only once per call', async () => {
    await client.login();
    pool.on('pool.get_all', () => {
      throw new XapiFailure(['HOST_IS_SLAVE', pool.hosts[2]!.address]);
    });
    const err = (await client.call('pool.get_all').catch((e: unknown) => e)) as XenApiError;
    expect(err).toBeInstanceOf(XenApiError);
    expect(err.code).toBe('HOST_IS_SLAVE');
    // master said "go to host3", host3 (a slave) said HOST_IS_SLAVE again: no second redirect
    expect(pool.requests.filter((r) => r.method === 'pool.get_all').map((r) => r.host)).toEqual([pool.master.address, pool.hosts[2]!.address]);
    expect(err.host).toBe(pool.hosts[2]!.address);
  });
});

describe('failures and connection errors are distinct', () => {
  test('a Failure becomes XenApiError with code, params, method and host', async () => {
    pool.on('VM.pool_migrate', () => {
      throw new XapiFailure(['HOST_NOT_ENOUGH_FREE_MEMORY', '4294967296', '1073741824']);
    });
    const err = await client.call('VM.pool_migrate', ['OpaqueRef:vm', 'OpaqueRef:h', { live: 'true' }]).catch((e) => e);
    expect(err).toBeInstanceOf(XenApiError);
    expect(err).not.toBeInstanceOf(XenApiConnectionError);
    expect(err).toMatchObject({ code: 'HOST_NOT_ENOUGH_FREE_MEMORY', params: ['4294967296', '1073741824'], method: 'VM.pool_migrate', host: pool.master.address });
  });

  test('refused connection → XenApiConnectionError, and master-unreachable is emitted once', async () => {
    await client.login();
    const seen: unknown[] = [];
    client.on('master-unreachable', (e) => seen.push(e));
    await pool.powerOff('host1');
    for (let i = 0; i < 2; i++) {
      const err = (await client.call('pool.get_all').catch((e: unknown) => e)) as XenApiConnectionError;
      expect(err).toBeInstanceOf(XenApiConnectionError);
      expect(err).not.toBeInstanceOf(XenApiError);
      expect(err).toMatchObject({ host: pool.master.address, method: 'pool.get_all' });
      // a kept-alive socket may see the reset before new connections are refused
      expect(['ECONNREFUSED', 'ECONNRESET']).toContain(err.code);
    }
    expect(seen).toHaveLength(1);
  });

  test('reset connection and socket hang up → XenApiConnectionError', async () => {
    pool.on('host.reboot', () => RESET);
    const err = (await client.call('host.reboot', ['OpaqueRef:h']).catch((e: unknown) => e)) as XenApiConnectionError;
    expect(err).toBeInstanceOf(XenApiConnectionError);
    expect(err.code).toBe('ECONNRESET');
  });

  test('a reset read is sent again once; a reset side effect is never re-sent', async () => {
    await client.login();
    let reads = 0;
    pool.on('host.get_record', () => (++reads === 1 ? RESET : undefined));
    await expect(client.call('host.get_record', ['OpaqueRef:h'])).resolves.toBeDefined();
    expect(reads).toBe(2);
    let reboots = 0;
    pool.on('host.reboot', () => {
      reboots++;
      return RESET;
    });
    await expect(client.call('host.reboot', ['OpaqueRef:h'])).rejects.toBeInstanceOf(XenApiConnectionError);
    expect(reboots).toBe(1);
  });

  test('no answer within requestTimeoutMs → XenApiConnectionError ETIMEDOUT', async () => {
    const c = newClient(pool.masterUrl, { requestTimeoutMs: 300 });
    try {
      pool.on('host.evacuate', () => HANG);
      const err = (await c.call('host.evacuate', ['OpaqueRef:h']).catch((e: unknown) => e)) as XenApiConnectionError;
      expect(err).toBeInstanceOf(XenApiConnectionError);
      expect(err.code).toBe('ETIMEDOUT');
    } finally {
      c.close();
    }
  });

  test('an HTML error page is a protocol error, an XML-RPC fault an XMLRPC_FAULT XenApiError', async () => {
    pool.on('host.broken', () => HTML500);
    pool.on('Async.event.from', () => FAULT);
    const html = (await client.call('host.broken').catch((e: unknown) => e)) as XenApiProtocolError;
    expect(html).toBeInstanceOf(XenApiProtocolError);
    expect(html.message).toContain('HTTP 500');
    const fault = (await client.call('Async.event.from').catch((e: unknown) => e)) as XenApiError;
    expect(fault).toBeInstanceOf(XenApiError);
    expect(fault.code).toBe('XMLRPC_FAULT');
  });
});

describe('wire format', () => {
  test('integers go as strings, event.from timeout as <double>, dates in xapi form', async () => {
    pool.on('VM.set_memory_limits', () => '');
    pool.on('message.get_since', () => ({}));
    await client.call('VM.set_memory_limits', ['OpaqueRef:vm', 1073741824, 2147483648, { n: 3 }]);
    const raw = pool.requests.find((r) => r.method === 'VM.set_memory_limits')!.raw;
    expect(raw).toContain('<string>1073741824</string>');
    expect(raw).toContain('<string>2147483648</string>');
    expect(raw).toContain('<name>n</name><value><string>3</string>');
    expect(raw).not.toContain('<int>');
    await client.call('message.get_since', [new Date(Date.UTC(2017, 3, 7, 8, 28, 32))]);
    expect(pool.requests.find((r) => r.method === 'message.get_since')!.raw).toContain('<dateTime.iso8601>20170407T08:28:32Z</dateTime.iso8601>');
    await client.eventFrom(['host'], '', 1);
    expect(pool.requests.find((r) => r.method === 'event.from')!.raw).toContain('<double>1.0</double>');
  });
});

describe('configuration', () => {
  test('http:// without insecure-http is refused with a clear error', () => {
    expect(() => new XenApiClient({ url: pool.masterUrl, username: 'root', password: 'x' })).toThrow(TlsConfigError);
    expect(() => new XenApiClient({ url: pool.masterUrl, username: 'root', password: 'x' })).toThrow(/insecure-http/);
    expect(() => new XenApiClient({ url: 'https://10.0.0.1', username: 'root', password: 'x', tls: { mode: 'insecure-http' } })).toThrow(
      /only for http:\/\//,
    );
    expect(() => new XenApiClient({ url: 'https://root:pw@10.0.0.1', username: 'root', password: 'pw' })).toThrow(/must not contain credentials/);
  });
});

describe('call counter', () => {
  test('counts every round trip, per method, and resets', async () => {
    pool.on('pool.get_all', () => []);
    await client.call('pool.get_all');
    // the fake serves XML-RPC only: the login is tried on /jsonrpc (404), then sent over XML-RPC; later calls go straight there
    expect(client.callCount).toBe(3);
    expect(client.callCounts).toEqual({ 'session.login_with_password': 2, 'pool.get_all': 1 });
    expect(client.transport).toBe('xmlrpc');
    client.resetCallCount();
    await client.call('pool.get_all');
    await client.call('pool.get_all');
    expect(client.callCount).toBe(2);
    expect(client.callCounts).toEqual({ 'pool.get_all': 2 });
  });
});
