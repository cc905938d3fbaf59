import { EventWatcher, XenApiClient, XenApiError, XenApiTimeoutError, eventRecord, type EventSource, type XenEvent } from '../../src/xenapi';
import type { EventFromResult } from '../../src/xenapi/types';
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

test('SESSION_INVALID: the watcher logs in again and re-reads from an empty token', async () => {
  const w = new EventWatcher(client, { classes: ['host'], pollSeconds: 5 });
  const resyncs: string[] = [];
  w.on('resync', (r: string) => resyncs.push(r));
  const h1 = pool.hosts[0]!.ref;
  const guard = setTimeout(() => w.stop(), 3000); // bounded if the re-read never comes
  const evs = await collect(w, 4, (_ev, i) => {
    if (i === 1) {
      pool.invalidateSessions();
      pool.mod('host', h1, { name_label: 'renamed' });
    }
  }).finally(() => clearTimeout(guard));
  // call() logged in again by itself; the batch answered to the old token is not trusted: a full re-read follows
  expect(evs.slice(2).map((e) => [e.operation, e.resync])).toEqual([
    ['add', true],
    ['add', true],
  ]);
  expect(evs.slice(2).find((e) => e.ref === h1)!.snapshot!.name_label).toBe('renamed');
  expect(pool.calls('session.login_with_password')).toBe(2);
  expect(resyncs).toHaveLength(1);
  const tokens = pool.requests.filter((r) => r.method === 'event.from').map((r) => r.params[2]);
  expect(tokens[tokens.length - 1]).toBe('');
});

/**
 * A master whose xapi restarted (toolstack restart, host still up) and reloaded its database with a generation below
 * the watcher's token: sessions are gone (SESSION_INVALID), and event.from with the old token finds nothing newer than
 * it (xapi_event.ml from_inner: rows with modified > token only; deletions before the restart are forgotten), so it
 * answers empty batches while the pool has changed. Only event.from("") tells the truth.
 */
class RestartedXapi implements EventSource {
  gen = 10;
  sessionValid = true;
  logins = 0;
  readonly tokens: string[] = [];
  readonly objects = new Map<string, { cls: string; rec: Record<string, unknown>; gen: number }>([
    ['OpaqueRef:h1', { cls: 'host', rec: { uuid: 'h1', name_label: 'h1' }, gen: 1 }],
    ['OpaqueRef:h2', { cls: 'host', rec: { uuid: 'h2', name_label: 'h2' }, gen: 2 }],
    ['OpaqueRef:vm', { cls: 'vm', rec: { uuid: 'vm', name_label: 'vm' }, gen: 3 }],
  ]);
  onCall?: (n: number) => void;
  private session = 'OpaqueRef:s1';

  async eventFrom(_classes: string[], token: string): Promise<EventFromResult> {
    this.tokens.push(token);
    this.onCall?.(this.tokens.length);
    await new Promise((r) => setImmediate(r));
    if (!this.sessionValid) throw new XenApiError('SESSION_INVALID', [this.session], 'event.from', 'master');
    const tok = (g: number) => `${String(g).padStart(20, '0')},${String(0).padStart(20, '0')}`;
    if (token === '') {
      return { events: [...this.objects].map(([ref, o]) => ({ class: o.cls, operation: 'add', ref, snapshot: o.rec })), token: tok(this.gen) };
    }
    const since = Number(token.split(',')[0]);
    const events = [...this.objects].filter(([, o]) => o.gen > since).map(([ref, o]) => ({ class: o.cls, operation: 'mod', ref, snapshot: o.rec }));
    return { events, token: events.length > 0 ? tok(this.gen) : token };
  }

  /** xapi restarts: sessions lost, generation reloaded from disk (lower), then the pool changes under the new counter */
  restart(): void {
    this.sessionValid = false;
    this.gen = 4;
    this.objects.delete('OpaqueRef:vm');
    this.gen += 1;
    this.objects.get('OpaqueRef:h1')!.rec = { uuid: 'h1', name_label: 'renamed after the restart' };
    this.objects.get('OpaqueRef:h1')!.gen = this.gen;
  }

  async login(): Promise<void> {
    this.logins += 1;
    this.sessionValid = true;
    this.session = `OpaqueRef:s${this.logins + 1}`;
  }

  async reconnect(): Promise<void> {
    throw new Error('not expected');
  }
}

test('SESSION_INVALID after a quick xapi restart: the watcher re-reads from "" instead of trusting its old token', async () => {
  const src = new RestartedXapi();
  const w = new EventWatcher(src, { classes: ['host', 'vm'], pollSeconds: 5, clock });
  const resyncs: string[] = [];
  w.on('resync', (r: string) => resyncs.push(r));
  // bounded: with the old token the restarted xapi answers empty batches for ever
  src.onCall = (n) => {
    if (n === 2) src.restart();
    if (n > 12) w.stop();
  };
  const evs = await collect(w, 6);
  expect(src.logins).toBe(1);
  expect(src.tokens.slice(0, 3)).toEqual(['', `${'10'.padStart(20, '0')},${'0'.padStart(20, '0')}`, '']);
  expect(evs.slice(3).map((e) => [e.class, e.operation, e.ref, e.resync])).toEqual([
    ['host', 'add', 'OpaqueRef:h1', true],
    ['host', 'add', 'OpaqueRef:h2', true],
    ['vm', 'del', 'OpaqueRef:vm', true],
  ]);
  expect(evs[3]!.snapshot!.name_label).toBe('renamed after the restart');
  expect(resyncs).toEqual([expect.stringContaining('SESSION_INVALID')]);
});

test('a re-login inside the client (call() retried event.from after SESSION_INVALID) also leads to a re-read from ""', async () => {
  const w = new EventWatcher(client, { classes: ['host'], pollSeconds: 5 });
  const h1 = pool.hosts[0]!.ref;
  let restarted = false;
  let calls = 0;
  const pad = (n: number) => String(n).padStart(20, '0');
  const evs = await collect(w, 4, (_ev, i) => {
    if (i !== 1) return;
    // xapi restarted: sessions gone, database reloaded with a generation below the watcher's token
    restarted = true;
    pool.invalidateSessions();
    pool.mod('host', h1, { name_label: 'renamed after the restart' });
    pool.on('event.from', async (params) => {
      calls += 1;
      if (calls > 12) w.stop();
      if (params[1] === '') {
        const events = pool.hosts.map((h) => ({ class: 'host', operation: 'add', ref: h.ref, snapshot: pool.record(h.ref) }));
        return { events, valid_ref_counts: {}, token: `${pad(1)},${pad(0)}` };
      }
      await new Promise((r) => setTimeout(r, 5));
      return { events: [], valid_ref_counts: {}, token: params[1] };
    });
  });
  expect(restarted).toBe(true);
  expect(pool.calls('session.login_with_password')).toBe(2);
  expect(evs.slice(2).map((e) => [e.operation, e.resync])).toEqual([
    ['add', true],
    ['add', true],
  ]);
  expect(evs.slice(2).find((e) => e.ref === h1)!.snapshot!.name_label).toBe('renamed after the restart');
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
