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
