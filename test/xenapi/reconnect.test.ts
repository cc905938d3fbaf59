import { XenApiClient, XenApiConnectionError, XenApiProtocolError, XenApiReconnectTimeoutError } from '../../src/xenapi';
import { FakeClock } from './helpers/clocks';
import { GARBAGE, HTML500, seedPool, startFakePool, type FakePool } from './helpers/fake-pool';

let pool: FakePool;
let client: XenApiClient;
let clock: FakeClock;

beforeEach(async () => {
  pool = await startFakePool({ hosts: 3 });
  clock = new FakeClock();
  client = new XenApiClient({
    url: pool.masterUrl,
    username: 'root',
    password: pool.password,
    tls: { mode: 'insecure-http' },
    clock,
    members: pool.hosts.map((h) => h.address),
    backoff: { initialMs: 1000, maxMs: 4000 },
  });
  pool.on('pool.get_all', () => ['OpaqueRef:pool']);
  await client.login();
});

afterEach(async () => {
  client.close();
  await pool.stop();
});

test('master restart (R3.8): calls fail as connection errors, reconnect backs off on the clock and finds the master again', async () => {
  const events: string[] = [];
  client.on('master-unreachable', () => events.push('unreachable'));
  client.on('master-back', (a: string) => events.push(`back ${a}`));
  await pool.powerOff('host1');
  // emergency: slaves still point at the dead master, a booting slave answers HOST_STILL_BOOTING
  pool.emergency.set(pool.hosts[2]!.address, ['HOST_STILL_BOOTING']);
  await expect(client.call('pool.get_all')).rejects.toBeInstanceOf(XenApiConnectionError);
  expect(events).toEqual(['unreachable']);

  clock.onSleep = async (_ms, i) => {
    if (i === 3) await pool.powerOn('host1');
  };
  await client.reconnect({ deadlineMs: clock.now() + 10 * 60_000 });
  expect(clock.sleeps).toEqual([1000, 2000, 4000, 4000]); // capped exponential backoff
  expect(events).toEqual(['unreachable', `back ${pool.master.address}`]);
  expect(client.masterAddress).toBe(pool.master.address);
  // each pass tried the master (refused: no request reaches it), then the other members: host2 redirects to
  // the dead master, host3 is still booting; 4 failed passes, then the master answers on the 5th
  const logins = pool.requests.filter((r) => r.method === 'session.login_with_password').map((r) => r.host);
  const [h1, h2, h3] = pool.hosts.map((h) => h.address);
  expect(logins).toEqual([h1, ...Array(4).fill([h2, h3]).flat(), h1]);
  expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:pool']);
});

test('reconnect finds a new master through a member (emergency transition elsewhere)', async () => {
  await pool.powerOff('host1');
  pool.setMaster('host3'); // host2 now answers HOST_IS_SLAVE [host3]
  await client.reconnect({ deadlineMs: clock.now() + 60_000 });
  expect(client.masterAddress).toBe(pool.hosts[2]!.address);
  expect(clock.sleeps).toEqual([]);
  expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:pool']);
});

test('reconnect gives up at the deadline with the hosts it tried', async () => {
  await Promise.all(pool.hosts.map((h) => pool.powerOff(h.name)));
  const err = await client.reconnect({ deadlineMs: clock.now() + 20_000 }).catch((e) => e);
  expect(err).toBeInstanceOf(XenApiReconnectTimeoutError);
  expect(err).toBeInstanceOf(XenApiConnectionError);
  expect(err.tried.sort()).toEqual(pool.hosts.map((h) => h.address).sort());
  expect(clock.sleeps.reduce((a: number, b: number) => a + b, 0)).toBe(20_000); // never sleeps past the deadline
});

test('wrong credentials end reconnect at once', async () => {
  const c = new XenApiClient({ url: pool.masterUrl, username: 'root', password: 'nope', tls: { mode: 'insecure-http' }, clock });
  try {
    await expect(c.reconnect({ deadlineMs: clock.now() + 60_000 })).rejects.toMatchObject({ code: 'SESSION_AUTHENTICATION_FAILED' });
    expect(clock.sleeps).toEqual([]);
  } finally {
    c.close();
  }
});

describe('pool identity: reconnect adopts a master of the same pool only', () => {
  beforeEach(async () => {
    seedPool(pool);
    await client.getAllRecords('pool'); // the first pool read names the pool (no extra round trip at login)
  });

  test('a member promoted within the same pool (emergency transition) is adopted after one pool read', async () => {
    const uuid = client.poolUuid;
    expect(uuid).toBeDefined();
    await pool.powerOff('host1');
    pool.setMaster('host3');
    client.resetCallCount();
    await client.reconnect({ deadlineMs: clock.now() + 60_000 });
    expect(client.masterAddress).toBe(pool.hosts[2]!.address);
    expect(client.poolUuid).toBe(uuid);
    // host1 refused; host2 → HOST_IS_SLAVE → host3 (each login probes JSON-RPC first); then ONE identity read on host3
    expect(Object.keys(client.callCounts).sort()).toEqual(['pool.get_all_records', 'session.login_with_password']);
    expect(client.callCounts['pool.get_all_records']).toBe(1);
    expect(pool.requests.filter((r) => r.method === 'pool.get_all_records').at(-1)!.host).toBe(pool.hosts[2]!.address);
  });

  test('a host answering for another pool at a member address is logged out, skipped and named in the timeout', async () => {
    // another pool whose master sits at an address the client knows as a member (same port, same credentials)
    const other = await startFakePool({ hosts: 1, port: pool.port, password: pool.password });
    try {
      seedPool(other);
      client.rememberMember(other.hosts[0]!.address);
      await Promise.all(pool.hosts.map((h) => pool.powerOff(h.name)));
      const err = await client.reconnect({ deadlineMs: clock.now() + 20_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(XenApiReconnectTimeoutError);
      expect(err.message).toContain(`${other.hosts[0]!.address} belongs to another pool`);
      expect(err.message).not.toContain(pool.password);
      expect(client.masterAddress).toBe(pool.master.address);
      expect(other.calls('session.login_with_password')).toBeGreaterThan(1); // tried on every pass
      expect(other.sessions.size).toBe(0); // every session it gave was logged out
      expect(other.calls('pool.get_all_records')).toBe(other.calls('session.login_with_password')); // nothing else was sent
    } finally {
      await other.stop();
    }
  });

  describe.each([
    ['an HTML 500 page', HTML500],
    ['bytes that are not XML', GARBAGE],
  ])('the old master answers %s (xapi broken on it): reconnect goes on to the members', (_what, answer) => {
    test('a member promoted meanwhile is found and adopted; the state-changing call that got the unreadable reply is not sent again', async () => {
      const [h1, h2, h3] = pool.hosts.map((h) => h.address);
      pool.broken.set(h1!, answer);
      const err = await client.call('host.disable', [pool.hosts[1]!.ref]).catch((e) => e);
      expect(err).toBeInstanceOf(XenApiProtocolError);
      // host3 promoted; host2 has not heard yet and still names the broken host1 as its master
      pool.setMaster('host3');
      pool.emergency.set(h2!, ['HOST_IS_SLAVE', h1!]);
      await client.reconnect({ deadlineMs: clock.now() + 60_000 });
      expect(client.masterAddress).toBe(h3);
      expect(clock.sleeps).toEqual([]); // found in the first pass
      const logins = pool.requests.filter((r) => r.method === 'session.login_with_password').map((r) => r.host);
      expect(logins.slice(1)).toEqual([h1, h2, h1, h3]); // host1 garbage; host2 → host1 again, garbage; host3
      // the same-pool check still ran on the master adopted, and nothing else was sent anywhere
      expect(pool.requests.filter((r) => r.method === 'pool.get_all_records').at(-1)!.host).toBe(h3);
      expect(pool.calls('host.disable')).toBe(1);
      expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:pool']);
    });

    test('with every member unreadable or gone it backs off until the deadline, then names them all', async () => {
      const [h1, h2, h3] = pool.hosts.map((h) => h.address);
      pool.broken.set(h1!, answer);
      pool.broken.set(h3!, answer);
      await pool.powerOff('host2');
      const err = await client.reconnect({ deadlineMs: clock.now() + 20_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(XenApiReconnectTimeoutError);
      expect(err.tried.sort()).toEqual([h1, h2, h3].sort());
      expect(err.message).toContain('unreadable reply');
      expect(clock.sleeps.reduce((a: number, b: number) => a + b, 0)).toBe(20_000);
      expect(client.masterAddress).toBe(h1);
    });

    test('a member of another pool is still not adopted after the old master answered garbage', async () => {
      const other = await startFakePool({ hosts: 1, port: pool.port, password: pool.password });
      try {
        seedPool(other);
        pool.broken.set(pool.hosts[0]!.address, answer);
        await pool.powerOff('host2');
        await pool.powerOff('host3');
        client.rememberMember(other.hosts[0]!.address);
        const err = await client.reconnect({ deadlineMs: clock.now() + 5_000 }).catch((e) => e);
        expect(err).toBeInstanceOf(XenApiReconnectTimeoutError);
        expect(err.message).toContain(`${other.hosts[0]!.address} belongs to another pool`);
        expect(client.masterAddress).toBe(pool.hosts[0]!.address);
        expect(other.sessions.size).toBe(0);
      } finally {
        await other.stop();
      }
    });
  });

  test('a pool event snapshot names the pool too (a client that only follows events)', async () => {
    const c = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock });
    try {
      expect(c.poolUuid).toBeUndefined();
      await c.eventFrom(['pool'], '', 0);
      expect(c.poolUuid).toBe(client.poolUuid);
    } finally {
      c.close();
    }
  });

  test('a pool uuid given in the options is checked even before any pool read', async () => {
    const c = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock, poolUuid: 'uuid-of-another-pool' });
    try {
      await pool.powerOff('host1');
      pool.setMaster('host2');
      c.rememberMember(pool.hosts[1]!.address);
      const err = await c.reconnect({ deadlineMs: clock.now() + 5_000 }).catch((e) => e);
      expect(err).toBeInstanceOf(XenApiReconnectTimeoutError);
      expect(err.message).toContain(`${pool.hosts[1]!.address} belongs to another pool`);
    } finally {
      c.close();
    }
  });
});

test('a re-login (SESSION_INVALID) at an address that now answers for another pool is refused and logged out', async () => {
  seedPool(pool);
  await client.getAllRecords('pool');
  // the master was reinstalled as the master of a new pool at the same address: same credentials, another pool uuid
  pool.mod('pool', Object.keys(await client.call<Record<string, unknown>>('pool.get_all_records'))[0]!, { uuid: 'uuid-of-a-new-pool' });
  pool.invalidateSessions();
  const err = (await client.call('host.get_all_records').catch((e: unknown) => e)) as XenApiConnectionError;
  expect(err).toBeInstanceOf(XenApiConnectionError);
  expect(err).toMatchObject({ code: 'EFOREIGNPOOL', host: pool.master.address });
  expect(err.message).toContain('belongs to another pool');
  expect(client.isLoggedIn).toBe(false);
  expect(pool.sessions.size).toBe(0); // the session it got was logged out
  expect(pool.calls('host.get_all_records')).toBe(1); // the refused call, never re-sent on the other pool
});

test('forgetPool (no run binds the client): a re-login at an address that now answers for another pool adopts it', async () => {
  seedPool(pool);
  await client.getAllRecords('pool');
  const before = client.poolUuid;
  const ref = Object.keys(await client.call<Record<string, unknown>>('pool.get_all_records'))[0]!;
  pool.mod('pool', ref, { uuid: 'uuid-of-a-new-pool' });
  pool.invalidateSessions();
  client.forgetPool();
  expect(client.poolUuid).toBeUndefined();
  await client.call('host.get_all_records');
  expect(client.isLoggedIn).toBe(true);
  await client.getAllRecords('pool');
  expect(client.poolUuid).toBe('uuid-of-a-new-pool');
  expect(before).not.toBe('uuid-of-a-new-pool');
  // a pool uuid given at construction is not forgotten: the client still refuses another pool
  const pinned = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock, poolUuid: 'uuid-of-the-configured-pool' });
  try {
    pinned.forgetPool();
    expect(pinned.poolUuid).toBe('uuid-of-the-configured-pool');
    expect(await pinned.call('host.get_all_records').catch((e) => e)).toMatchObject({ code: 'EFOREIGNPOOL' });
  } finally {
    pinned.close();
  }
});

describe("a run's pool named after the session was opened (expectPool: the run read back after a restart)", () => {
  test('another pool at the address: refused before the call, its session logged out, nothing sent to it then or later', async () => {
    seedPool(pool);
    expect(client.poolUuid).toBeUndefined();
    const sessions = pool.sessions.size;
    client.expectPool('uuid-of-the-run-pool');
    const err = (await client.call('host.get_all_records').catch((e: unknown) => e)) as XenApiConnectionError;
    expect(err).toBeInstanceOf(XenApiConnectionError);
    expect(err).toMatchObject({ code: 'EFOREIGNPOOL', host: pool.master.address });
    expect(err.message).toMatch(/belongs to another pool \(pool uuid [0-9a-f-]+, expected uuid-of-the-run-pool\)/);
    expect(pool.sessions.size).toBe(sessions - 1);
    // a later call logs in again, and that login is checked too
    expect(await client.call('host.get_all_records').catch((e) => e)).toMatchObject({ code: 'EFOREIGNPOOL' });
    expect(pool.calls('host.get_all_records')).toBe(0);
    expect(pool.sessions.size).toBe(sessions - 1);
  });

  test('the same pool: the open session is checked once (one pool read), then calls go on as before', async () => {
    seedPool(pool);
    const other = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock });
    try {
      await other.getAllRecords('pool');
      const reads = pool.calls('pool.get_all_records');
      client.expectPool(other.poolUuid!);
      await Promise.all([client.call('host.get_all_records'), client.call('host.get_all_records')]);
      await client.call('host.get_all_records');
      expect(pool.calls('pool.get_all_records') - reads).toBe(1);
      expect(pool.calls('host.get_all_records')).toBe(3);
      expect(client.poolUuid).toBe(other.poolUuid);
      // named again (each step of a resumed run may): nothing more to check
      client.expectPool(other.poolUuid!);
      await client.call('host.get_all_records');
      expect(pool.calls('pool.get_all_records') - reads).toBe(1);
    } finally {
      other.close();
    }
  });
});
