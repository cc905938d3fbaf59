/**
 * EventWatcher: a token is trusted only under the session it was handed out in; a session that keeps changing backs off.
 */
import { EventWatcher, XenApiConnectionError, type EventSource, type XenEvent } from '../../src/xenapi';
import type { EventFromResult } from '../../src/xenapi/types';
import { FakeClock } from './helpers/clocks';

const tok = (g: number) => `${String(g).padStart(20, '0')},${String(0).padStart(20, '0')}`;

/** a pool of two hosts; each event.from may run under a new session (a re-login inside call()) */
class Source implements EventSource {
  calls = 0;
  logins = 0;
  reconnects = 0;
  readonly tokens: string[] = [];
  session = 'OpaqueRef:s1';
  /** called inside each event.from, before its answer */
  during?: (n: number) => void;
  sessionFails?: (n: number) => Error | undefined;
  sessionCalls = 0;
  constructor(readonly clock: FakeClock) {}

  async sessionRef(): Promise<string> {
    this.sessionCalls += 1;
    const err = this.sessionFails?.(this.sessionCalls);
    if (err) throw err;
    return this.session;
  }

  async eventFrom(_classes: string[], token: string): Promise<EventFromResult> {
    this.calls += 1;
    this.tokens.push(token);
    this.during?.(this.calls);
    await new Promise((r) => setImmediate(r));
    if (token === '') {
      return {
        events: ['OpaqueRef:h1', 'OpaqueRef:h2'].map((ref) => ({ class: 'host', operation: 'add', ref, snapshot: { uuid: ref, name_label: ref } })),
        token: tok(10),
      } as EventFromResult;
    }
    return { events: [], token } as EventFromResult;
  }

  async login(): Promise<void> {
    this.logins += 1;
    this.session = `OpaqueRef:s${this.logins + 1}`;
  }

  async reconnect(): Promise<void> {
    this.reconnects += 1;
  }
}

describe('EventWatcher and sessions', () => {
  it('a session that changes on every event.from (xapi restarting again and again, sessions evicted): no tight loop of full re-reads, it backs off like EVENTS_LOST', async () => {
    const clock = new FakeClock();
    const src = new Source(clock);
    let n = 0;
    src.during = () => {
      n += 1;
      src.session = `OpaqueRef:relogin-${n}`; // call() re-logged in after SESSION_INVALID
    };
    const start = clock.now();
    const w = new EventWatcher(src, { classes: ['host'], clock, pollSeconds: 5 });
    const resyncs: string[] = [];
    w.on('resync', (r: string) => {
      resyncs.push(r);
      // bounded either way: a watcher without back-off never moves the clock; stopped after 200 calls
      if (clock.now() - start >= 10 * 60_000 || src.calls >= 200) w.stop();
    });
    await new Promise<void>((resolve) => w.once('end', () => resolve()).start());
    // the EVENTS_LOST streak rule (issue 10.11): about 25 full reads in 10 minutes, not hundreds in no time
    expect(clock.sleeps.length).toBeGreaterThan(0);
    expect(src.calls).toBeLessThanOrEqual(30);
  });

  it('sessionRef throws a connection error (the pool is down): the watcher reconnects and goes on', async () => {
    const clock = new FakeClock();
    const src = new Source(clock);
    src.sessionFails = (k) => (k === 3 ? new XenApiConnectionError('connect ECONNREFUSED', 'h1', 'session.login_with_password', 'ECONNREFUSED') : undefined);
    const w = new EventWatcher(src, { classes: ['host'], clock, pollSeconds: 5 });
    const evs: XenEvent[] = [];
    for await (const ev of w) {
      evs.push(ev);
      if (evs.length >= 4) break;
    }
    expect(src.reconnects).toBe(1);
    expect(evs.map((e) => [e.operation, e.resync])).toEqual([
      ['add', true],
      ['add', true],
      ['add', true],
      ['add', true],
    ]);
  });

  it('a session change during the very first (empty-token) call: the batch is dropped and read again', async () => {
    const clock = new FakeClock();
    const src = new Source(clock);
    src.during = (k) => {
      if (k === 1) src.session = 'OpaqueRef:s-new';
    };
    const w = new EventWatcher(src, { classes: ['host'], clock, pollSeconds: 5 });
    const evs: XenEvent[] = [];
    for await (const ev of w) {
      evs.push(ev);
      if (evs.length >= 2) break;
    }
    expect(src.tokens.slice(0, 2)).toEqual(['', '']);
    expect(evs.map((e) => e.ref)).toEqual(['OpaqueRef:h1', 'OpaqueRef:h2']);
  });

  it('a session change with an old token: re-read, objects gone reported as synthetic del, nothing else', async () => {
    const clock = new FakeClock();
    const src = new Source(clock);
    let gone = false;
    const orig = src.eventFrom.bind(src);
    src.eventFrom = async (c, t) => {
      const r = await orig(c, t);
      if (gone && t === '') r.events = r.events.filter((e) => e.ref !== 'OpaqueRef:h2');
      return r;
    };
    src.during = (k) => {
      if (k === 2) {
        src.session = 'OpaqueRef:s-new';
        gone = true;
      }
    };
    const w = new EventWatcher(src, { classes: ['host'], clock, pollSeconds: 5 });
    const evs: XenEvent[] = [];
    for await (const ev of w) {
      evs.push(ev);
      if (evs.length >= 4) break;
    }
    expect(evs.slice(2).map((e) => [e.ref, e.operation, e.resync])).toEqual([
      ['OpaqueRef:h1', 'add', true],
      ['OpaqueRef:h2', 'del', true],
    ]);
  });
});
