/**
 * waitForPool follows the pool's events: a host coming back is checked from the event's snapshot, with no re-read of
 * the pool and no poll interval in between; without event.from it re-reads only the hosts (never the VMs). Calls and
 * sleeps are counted on a fake clock; nothing here depends on wall-clock time.
 */
import type { Clock } from '../../src/clock';
import type { PoolClient } from '../../src/runner/ports';
import { waitForPool } from '../../src/runner/wait';
import type { LiveHost, LiveHosts } from '../../src/runner/pool-state';
import { XenApiClient, XenApiConnectionError, XenApiError } from '../../src/xenapi';
import { FakeClock } from '../xenapi/helpers/clocks';
import { HTML500, startFakePool } from '../xenapi/helpers/fake-pool';

/** A clock whose sleeps pass at once and are recorded. */
function fakeClock(): Clock & { sleeps: number[] } {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    scale: 1,
    sleeps,
    now: () => t,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      t += ms;
    },
  };
}

const poolRec = { name_label: 'pool-t', master: 'OpaqueRef:h1', ha_enabled: false, other_config: {} };
function hostRec(name: string, bootTime: string, product = '7.1.1') {
  return {
    uuid: `uuid-${name}`,
    name_label: name,
    address: `10.0.0.${name.slice(1)}`,
    enabled: false,
    metrics: `OpaqueRef:m-${name}`,
    software_version: { product_version: product, platform_version: '2.1.1', build_number: '' },
    other_config: { boot_time: bootTime },
    resident_VMs: [],
  };
}
const ev = (cls: string, ref: string, snapshot: unknown, operation = 'mod') => ({ class: cls, ref, operation, snapshot: snapshot as Record<string, unknown> });
const fullState = (h2Live: boolean, h2Boot: string) => [
  ev('pool', 'OpaqueRef:pool', poolRec, 'add'),
  ev('host', 'OpaqueRef:h1', hostRec('h1', '100'), 'add'),
  ev('host', 'OpaqueRef:h2', hostRec('h2', h2Boot), 'add'),
  ev('host_metrics', 'OpaqueRef:m-h1', { live: true }, 'add'),
  ev('host_metrics', 'OpaqueRef:m-h2', { live: h2Live }, 'add'),
];

type Batch = { events: ReturnType<typeof ev>[]; token?: string } | Error;

function scriptedClient(batches: Batch[], opts: { withEvents?: boolean; records?: () => Record<string, unknown> } = {}) {
  const log: string[] = [];
  const reconnects: number[] = [];
  let n = 0;
  const clock = fakeClock();
  const client: PoolClient = {
    masterAddress: '10.0.0.1',
    call: async <T>(method: string): Promise<T> => {
      log.push(method);
      const recs = opts.records?.() ?? {};
      const cls = method.replace('.get_all_records', '');
      return (recs[cls] ?? {}) as T;
    },
    callAsync: async () => {
      throw new Error('no async calls expected');
    },
    getAllRecords: async () => {
      throw new Error('the wait must not read the whole inventory');
    },
    reconnect: async ({ deadlineMs }) => {
      reconnects.push(deadlineMs - clock.now());
    },
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  };
  if (opts.withEvents !== false) {
    client.eventFrom = async (classes, token, timeoutSeconds) => {
      log.push(`event.from(${token === '' ? 'empty' : token},${timeoutSeconds})`);
      expect(classes).toEqual(['pool', 'host', 'host_metrics']);
      const b = batches[n++];
      if (!b) throw new Error('script exhausted');
      if (b instanceof Error) throw b;
      return { events: b.events, token: b.token ?? `t${n}` };
    };
  }
  return { client, clock, log, reconnects };
}

/** the wait-host check: h2 live with a boot_time other than before the reboot */
const h2Back = (before: string) => (p: LiveHosts): LiveHost | undefined => {
  const h = p.hosts.find((x) => x.name === 'h2');
  return h && h.live && h.bootTime !== before ? h : undefined;
};
const fail = () => new Error('timed out');

describe('waitForPool', () => {
  it('follows events: the batch that makes the host live ends the wait, with no re-read and no poll sleep', async () => {
    const s = scriptedClient([
      { events: fullState(false, '100') }, // down: metrics not live, old boot_time
      { events: [ev('host', 'OpaqueRef:h2', hostRec('h2', '200', '7.6.0'))] }, // xapi starting: boot_time changed, not live yet
      { events: [ev('host_metrics', 'OpaqueRef:m-h2', { live: true })] }, // live
    ]);
    const host = await waitForPool({ client: s.client, clock: s.clock, timeoutMs: 3_600_000, pollMs: 5000, check: h2Back('100'), onTimeout: fail });
    expect(host).toMatchObject({ name: 'h2', live: true, bootTime: '200', product: '7.6.0', isMaster: false });
    expect(s.log).toEqual(['event.from(empty,0)', 'event.from(t1,60)', 'event.from(t2,60)']);
    expect(s.clock.sleeps).toEqual([]);
  });

  it('checks whole batches only: a host record alone never counts as a full pool', async () => {
    const everyHostLive = (p: LiveHosts) => (p.hosts.every((h) => h.live) ? p : undefined);
    const s = scriptedClient([{ events: fullState(false, '100') }, { events: [ev('host_metrics', 'OpaqueRef:m-h2', { live: true })] }]);
    const pool = await waitForPool({ client: s.client, clock: s.clock, timeoutMs: 60_000, pollMs: 5000, check: everyHostLive, onTimeout: fail });
    expect(pool.hosts.map((h) => h.name).sort()).toEqual(['h1', 'h2']);
    expect(s.log).toHaveLength(2);
  });

  it('EVENTS_LOST: starts over from the empty token at once', async () => {
    const s = scriptedClient([
      { events: fullState(false, '100') },
      new XenApiError('EVENTS_LOST', [], 'event.from', '10.0.0.1'),
      { events: fullState(true, '200') },
    ]);
    await waitForPool({ client: s.client, clock: s.clock, timeoutMs: 60_000, pollMs: 5000, check: h2Back('100'), onTimeout: fail });
    expect(s.log).toEqual(['event.from(empty,0)', 'event.from(t1,60)', 'event.from(empty,0)']);
    expect(s.clock.sleeps).toEqual([]);
  });

  it('R3.8 master away: reconnects within windows of pollMs; while it starts, retries after 1 s, not pollMs', async () => {
    const s = scriptedClient([
      { events: fullState(false, '100') },
      new XenApiConnectionError('cannot reach 10.0.0.1: ECONNREFUSED', '10.0.0.1', 'event.from', 'ECONNREFUSED'),
      new XenApiError('HOST_STILL_BOOTING', [], 'event.from', '10.0.0.1'),
      { events: fullState(true, '200') },
    ]);
    const said: string[] = [];
    await waitForPool({
      client: s.client,
      clock: s.clock,
      timeoutMs: 3_600_000,
      pollMs: 5000,
      check: h2Back('100'),
      onTimeout: fail,
      onUnavailable: () => said.push('away'),
      onAvailable: () => said.push('back'),
    });
    expect(s.reconnects).toEqual([5000, 5000]);
    expect(s.clock.sleeps).toEqual([1000]);
    expect(said).toEqual(['away', 'back']);
    // after the outage the watch starts over from the empty token
    expect(s.log).toEqual(['event.from(empty,0)', 'event.from(t1,60)', 'event.from(empty,0)', 'event.from(empty,0)']);
  });

  it('without event.from: re-reads pool, host and host_metrics every pollMs, never the VMs', async () => {
    let reads = 0;
    const s = scriptedClient([], {
      withEvents: false,
      records: () => {
        reads++;
        const back = reads > 6; // the third read (three calls each) sees the host back
        return {
          pool: { 'OpaqueRef:pool': poolRec },
          host: { 'OpaqueRef:h1': hostRec('h1', '100'), 'OpaqueRef:h2': hostRec('h2', back ? '200' : '100') },
          host_metrics: { 'OpaqueRef:m-h1': { live: true }, 'OpaqueRef:m-h2': { live: back } },
        };
      },
    });
    await waitForPool({ client: s.client, clock: s.clock, timeoutMs: 60_000, pollMs: 5000, check: h2Back('100'), onTimeout: fail });
    expect(s.log.filter((m) => m === 'VM.get_all_records')).toEqual([]);
    expect(s.log).toHaveLength(9);
    expect(s.clock.sleeps).toEqual([5000, 5000]);
  });

  it('looks once even when resumed past its deadline, and times out with the last facts otherwise', async () => {
    const back = scriptedClient([{ events: fullState(true, '200') }]);
    await expect(waitForPool({ client: back.client, clock: back.clock, timeoutMs: 0, pollMs: 5000, check: h2Back('100'), onTimeout: fail })).resolves.toMatchObject({ name: 'h2' });

    const down = scriptedClient([{ events: fullState(false, '100') }, { events: [] }]);
    const err = await waitForPool({
      client: down.client,
      clock: down.clock,
      timeoutMs: 0,
      pollMs: 5000,
      check: h2Back('100'),
      onTimeout: ({ last }) => new Error(`h2 live=${last?.hosts.find((h) => h.name === 'h2')?.live}`),
    }).catch((e: Error) => e.message);
    expect(err).toBe('h2 live=false');
    expect(down.log).toEqual(['event.from(empty,0)']);
  });
});

describe('waitForPool on a master that answers garbage', () => {
  it('backs off on the clock: a bounded number of attempts per simulated minute, never a busy loop', async () => {
    const pool = await startFakePool({ hosts: 1 });
    const clock = new FakeClock();
    const client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock });
    // xapi half up: an HTML error page instead of an XML-RPC reply (XenApiProtocolError, "pool unavailable").
    // Without a backoff the clock never moves: stop the test after 200 logins.
    let logins = 0;
    const hammering = new AbortController();
    pool.on('session.login_with_password', () => {
      if (++logins > 200) hammering.abort(new Error(`busy loop: ${logins} logins in ${clock.sleeps.length} sleeps`));
      return HTML500;
    });
    const pollMs = 5000;
    try {
      const waited = waitForPool({
        client,
        clock,
        signal: hammering.signal,
        timeoutMs: 60_000,
        pollMs,
        check: () => undefined,
        onTimeout: ({ lastError, waitedMs }) => new Error(`timed out after ${waitedMs} ms: ${(lastError as Error).name}`),
      });
      await expect(waited).rejects.toThrow('timed out after 60000 ms: XenApiProtocolError');
      // one window of pollMs per reconnect: the watch's own login, then the reconnect's, which treats the unreadable
      // reply like a host down and backs off on the clock (1 s, 2 s, 2 s: 4 logins in a 5 s window), at most, in each
      expect(logins).toBeLessThanOrEqual((1 + 4) * (60_000 / pollMs) + 2);
      expect(logins).toBeGreaterThanOrEqual(60_000 / pollMs); // and it kept looking all along
    } finally {
      client.close();
      await pool.stop();
    }
  });
});
