import { EventWatcher, XenApiClient, XenApiTimeoutError, eventRecord, type XenEvent } from '../../src/xenapi';
import { FakeClock } from './helpers/clocks';
import { startFakePool, seedPool, type FakePool } from './helpers/fake-pool';

let pool: FakePool;
let client: XenApiClient;
let clock: FakeClock;

beforeEach(async () => {
  pool = await startFakePool({ hosts: 2 });
  seedPool(pool);
  clock = new FakeClock();
  client = new XenApiClient({
    url: pool.masterUrl,
    username: 'root',
    password: pool.password,
    tls: { mode: 'insecure-http' },
    clock,
    members: pool.hosts.map((h) => h.address),
    backoff: { initialMs: 1000, maxMs: 1000 },
  });
});

afterEach(async () => {
  client.close();
  await pool.stop();
});

/** Pulls events from the watcher until `n` arrived, running `between` after each. */
async function collect(w: EventWatcher, n: number, between: (ev: XenEvent, i: number) => unknown = () => undefined): Promise<XenEvent[]> {
  const out: XenEvent[] = [];
  for await (const ev of w) {
    out.push(ev);
    await between(ev, out.length - 1);
    if (out.length >= n) break;
  }
  return out;
}

test('the watcher starts with the current records, then reports changes; typed records on demand', async () => {
  const w = new EventWatcher(client, { classes: ['host'], pollSeconds: 5 });
  const h2 = pool.hosts[1]!.ref;
  const evs = await collect(w, 3, (_ev, i) => {
    if (i === 1) pool.mod('host', h2, { enabled: false });
  });
  expect(evs.slice(0, 2).map((e) => [e.class, e.operation, e.resync])).toEqual([
    ['host', 'add', true],
    ['host', 'add', true],
  ]);
  expect(evs[2]).toMatchObject({ class: 'host', operation: 'mod', ref: h2, resync: false });
  expect(eventRecord(evs[2]!, 'host')!.enabled).toBe(false);
  expect(pool.requests.filter((r) => r.method === 'event.from').every((r) => r.raw.includes('<double>5.0</double>'))).toBe(true);
});

test('EVENTS_LOST: re-reads everything from a fresh token and goes on', async () => {
  const w = new EventWatcher(client, { classes: ['host'], pollSeconds: 5 });
  const resyncs: string[] = [];
  w.on('resync', (r: string) => resyncs.push(r));
  const evs = await collect(w, 4, (_ev, i) => {
    if (i === 1) pool.failEventsOnce = ['EVENTS_LOST'];
  });
  expect(resyncs).toEqual([expect.stringContaining('EVENTS_LOST')]);
  expect(evs.map((e) => [e.operation, e.resync])).toEqual([
    ['add', true],
    ['add', true],
    ['add', true],
    ['add', true],
  ]);
  const tokens = pool.requests.filter((r) => r.method === 'event.from').map((r) => r.params[2]);
  expect(tokens[0]).toBe('');
  expect(tokens[tokens.length - 1]).toBe('');
});

test('SESSION_INVALID: the watcher logs in again and goes on', async () => {
  const w = new EventWatcher(client, { classes: ['host'], pollSeconds: 5 });
  const h1 = pool.hosts[0]!.ref;
  const evs = await collect(w, 3, (_ev, i) => {
    if (i === 1) {
      pool.invalidateSessions();
      pool.mod('host', h1, { name_label: 'renamed' });
    }
  });
  expect(evs[2]).toMatchObject({ operation: 'mod', ref: h1 });
  expect(pool.calls('session.login_with_password')).toBe(2);
});

test('master restart: the watcher reconnects, re-reads, and reports objects deleted meanwhile', async () => {
  const w = new EventWatcher(client, { classes: ['host', 'vm'], pollSeconds: 5 });
  pool.add('VM', 'OpaqueRef:vm-gone', { uuid: 'v', name_label: 'gone' });
  clock.onSleep = async () => {
    pool.del('OpaqueRef:vm-gone');
    await pool.powerOn('host1');
  };
  const evs = await collect(w, 6, async (_ev, i) => {
    if (i === 2) await pool.powerOff('host1');
  });
  // 3 initial adds, then after the outage a re-read: 2 host adds + a synthetic del for the VM that vanished
  expect(evs.slice(3).map((e) => [e.class, e.operation, e.resync])).toEqual([
    ['host', 'add', true],
    ['host', 'add', true],
    ['vm', 'del', true],
  ]);
  expect(evs[5]!.ref).toBe('OpaqueRef:vm-gone');
  expect(client.masterAddress).toBe(pool.master.address);
  expect(clock.sleeps.length).toBeGreaterThanOrEqual(1);
});

test('waitFor resolves when a host comes back with a new boot_time', async () => {
  const h2 = pool.hosts[1]!.ref;
  const before = '1700000000.0';
  setTimeout(() => pool.mod('host', h2, { enabled: false }), 10);
  setTimeout(() => pool.mod('host', h2, { other_config: { boot_time: '1700009999.0' } }), 30);
  const ev = await client.waitFor(
    (e) => e.class === 'host' && e.ref === h2 && (e.snapshot?.other_config as Record<string, string>)?.boot_time !== before,
    { classes: ['host'], deadlineMs: clock.now() + 60_000, pollSeconds: 5 },
  );
  expect((ev.snapshot!.other_config as Record<string, string>).boot_time).toBe('1700009999.0');
});

test('waitFor: a condition already true resolves from the initial records; a deadline gives XenApiTimeoutError', async () => {
  const h1 = pool.hosts[0]!.ref;
  const ev = await client.waitFor((e) => e.ref === h1, { classes: ['host'], deadlineMs: clock.now() + 1000 });
  expect(ev.operation).toBe('add');
  expect(pool.calls('event.from')).toBe(1);

  const ticking = new FakeClock(0, 10_000);
  const c = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' }, clock: ticking });
  try {
    const err = await c.waitFor(() => false, { classes: ['host'], deadlineMs: 60_000, pollSeconds: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(XenApiTimeoutError);
  } finally {
    c.close();
  }
});

test('callback mode: start() emits events, stop() ends the long poll', async () => {
  const w = new EventWatcher(client, { classes: ['host'], pollSeconds: 30 });
  const seen: XenEvent[] = [];
  const ended = new Promise<void>((r) => w.on('end', r));
  w.on('event', (ev: XenEvent) => {
    seen.push(ev);
    if (seen.length === 2) setTimeout(() => w.stop(), 5);
  });
  w.start();
  await ended;
  expect(seen).toHaveLength(2);
});

// issue 10.11: a pool answering EVENTS_LOST to every event.from made the watcher call it ~850 times a second
describe('EVENTS_LOST again and again', () => {
  it('backs off (doubling, capped) instead of re-reading in a tight loop: counted calls over 10 simulated minutes', async () => {
    const { XapiFailure } = await import('./helpers/fake-pool');
    let calls = 0;
    pool.on('event.from', () => {
      calls += 1;
      throw new XapiFailure(['EVENTS_LOST']);
    });
    const start = clock.now();
    const w = new EventWatcher(client, { classes: ['host'], clock, lostBackoff: { initialMs: 1000, maxMs: 30_000 } });
    let resyncs = 0;
    w.on('resync', () => {
      resyncs += 1;
      // bounded either way: a watcher without back-off never moves the clock and is stopped after 200 calls
      if (clock.now() - start >= 10 * 60_000 || calls >= 200) w.stop();
    });
    await new Promise<void>((resolve) => w.once('end', () => resolve()).start());
    expect(clock.now() - start).toBeGreaterThanOrEqual(10 * 60_000);
    // 1 s, 2 s, 4 s, 8 s, 16 s, then every 30 s: about 25 attempts in 10 minutes (not thousands)
    expect(clock.sleeps.slice(0, 7)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(Math.max(...clock.sleeps)).toBe(30_000);
    expect(calls).toBeGreaterThanOrEqual(20);
    expect(calls).toBeLessThanOrEqual(30);
    expect(resyncs).toBe(calls);
  });

  it('a streak ends with the first incremental batch: the next EVENTS_LOST re-reads at once again', async () => {
    const { XapiFailure } = await import('./helpers/fake-pool');
    let calls = 0;
    // 1 full read, 2 incremental, 3 lost, 4 full, 5 lost again (a streak of 2: back off), 6 full, 7 incremental (ends it), 8 lost, 9 full
    const lostOn = new Set([3, 5, 8]);
    pool.on('event.from', () => {
      calls += 1;
      if (lostOn.has(calls)) throw new XapiFailure(['EVENTS_LOST']);
      return { events: [], valid_ref_counts: {}, token: `${String(calls).padStart(20, '0')},x` };
    });
    const w = new EventWatcher(client, { classes: ['host'], clock, pollSeconds: 1 });
    w.on('resync', () => undefined);
    const it = w[Symbol.asyncIterator]();
    const poll = async () => {
      while (calls < 9) await new Promise((r) => setTimeout(r, 5));
      w.stop();
    };
    await Promise.all([poll(), it.next().catch(() => undefined)]);
    expect(clock.sleeps.filter((s) => s >= 1000)).toEqual([1000]);
  });
});
