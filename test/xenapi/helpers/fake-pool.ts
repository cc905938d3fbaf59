import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { I4, decodeCall, encodeFault, encodeResponse, encodeValue } from './xapi-wire';

/**
 * A tiny xapi-shaped pool for unit tests: one real HTTP(S) server per host on its own loopback address, all on
 * the same port (so HOST_IS_SLAVE returns a bare address, like xapi), answering in xapi's exact format.
 * Logic is deliberately small: sessions, redirects, an object store with event.from, tasks, db dump; tests add
 * behaviour per method with `on(method, fn)`.
 */
export class XapiFailure extends Error {
  constructor(readonly desc: string[]) {
    super(desc.join(' '));
  }
}
export const HANG = Symbol('hang');
export const RESET = Symbol('reset');
export const HTML500 = Symbol('html500');
export const FAULT = Symbol('fault');
/** a 200 text/xml answer that is not XML at all */
export const GARBAGE = Symbol('garbage');

export type Handler = (params: unknown[], ctx: { host: FakeHost; session?: string }) => unknown;

export interface FakeHost {
  name: string;
  address: string;
  ref: string;
  up: boolean;
  server: http.Server;
  sockets: Set<net.Socket>;
}

interface Obj {
  cls: string;
  ref: string;
  rec: Record<string, unknown>;
  gen: number;
  createdGen: number;
  deleted: boolean;
}

export interface FakePoolOptions {
  hosts?: number;
  password?: string;
  tls?: { key: string; cert: string };
  /** event.from's timeout (seconds) is waited as timeout*1000/timeScale real ms; default 1000 */
  timeScale?: number;
  /** first three octets of the hosts' loopback addresses (host i gets base.(i+2)); random by default */
  base?: string;
  /** listen on this port (the simulator's, to stand in for one of its hosts); ephemeral by default */
  port?: number;
}

const pad20 = (n: number) => String(n).padStart(20, '0');

export class FakePool {
  readonly username = 'root';
  readonly password: string;
  readonly hosts: FakeHost[] = [];
  port = 0;
  master!: FakeHost;
  readonly sessions = new Set<string>();
  readonly requests: Array<{ host: string; method: string; params: unknown[]; raw: string }> = [];
  readonly overrides = new Map<string, Handler>();
  /** address -> error description answered to every call (emergency mode, HOST_STILL_BOOTING) */
  readonly emergency = new Map<string, string[]>();
  /** address -> what that host answers to every XML-RPC call instead of a reply (a broken xapi: HTML500, GARBAGE…) */
  readonly broken = new Map<string, symbol>();
  dbDump = '<?xml version="1.0"?><database><manifest><pair key="schema_major_vsn" value="5"/></manifest></database>\n';
  failEventsOnce: string[] | undefined;
  private readonly objects = new Map<string, Obj>();
  private gen = 0;
  private readonly waiters = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly timeScale: number;

  constructor(private readonly opts: FakePoolOptions) {
    this.password = opts.password ?? 'xs-Secret-pw-42';
    this.timeScale = opts.timeScale ?? 1000;
  }

  get scheme(): string {
    return this.opts.tls ? 'https' : 'http';
  }

  get masterUrl(): string {
    return this.urlOf(this.master);
  }

  urlOf(h: FakeHost): string {
    return `${this.scheme}://${h.address}:${this.port}`;
  }

  host(name: string): FakeHost {
    const h = this.hosts.find((x) => x.name === name || x.address === name);
    if (!h) throw new Error(`no fake host ${name}`);
    return h;
  }

  on(method: string, fn: Handler): this {
    this.overrides.set(method, fn);
    return this;
  }

  calls(method: string): number {
    return this.requests.filter((r) => r.method === method).length;
  }

  setMaster(name: string): void {
    this.master = this.host(name);
    const pool = [...this.objects.values()].find((o) => o.cls === 'pool');
    if (pool) this.mod('pool', pool.ref, { master: this.master.ref });
  }

  invalidateSessions(): void {
    this.sessions.clear();
  }

  // ---- object store + events ----

  add(cls: string, ref: string, rec: Record<string, unknown>): void {
    this.gen += 1;
    this.objects.set(ref, { cls, ref, rec, gen: this.gen, createdGen: this.gen, deleted: false });
    this.wake();
  }

  mod(cls: string, ref: string, patch: Record<string, unknown>): void {
    const o = this.objects.get(ref);
    if (!o || o.deleted) throw new Error(`no ${cls} ${ref}`);
    this.gen += 1;
    o.rec = { ...o.rec, ...patch };
    o.gen = this.gen;
    this.wake();
  }

  del(ref: string): void {
    const o = this.objects.get(ref);
    if (!o) return;
    this.gen += 1;
    o.deleted = true;
    o.gen = this.gen;
    this.wake();
  }

  record(ref: string): Record<string, unknown> | undefined {
    const o = this.objects.get(ref);
    return o && !o.deleted ? o.rec : undefined;
  }

  exists(ref: string): boolean {
    return this.record(ref) !== undefined;
  }

  createTask(name: string): string {
    const ref = `OpaqueRef:${randomUUID()}`;
    this.add('task', ref, {
      uuid: randomUUID(),
      name_label: name,
      status: 'pending',
      progress: 0,
      result: '',
      error_info: [],
      created: new Date(0),
      finished: new Date(0),
    });
    return ref;
  }

  finishTask(ref: string, outcome: { result?: string } | { error: string[] } | { cancelled: true }): void {
    if ('error' in outcome) this.mod('task', ref, { status: 'failure', progress: 1, error_info: outcome.error });
    else if ('cancelled' in outcome) this.mod('task', ref, { status: 'cancelled', error_info: ['TASK_CANCELLED', ref] });
    else this.mod('task', ref, { status: 'success', progress: 1, result: outcome.result ?? '<value></value>' });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private matches(o: Obj, classes: string[]): boolean {
    return classes.some((c) => c === '*' || c.toLowerCase() === o.cls.toLowerCase() || c === `${o.cls.toLowerCase()}/${o.ref}`);
  }

  private async eventFrom(classes: string[], token: string, timeoutS: number): Promise<unknown> {
    if (this.failEventsOnce) {
      const e = this.failEventsOnce;
      this.failEventsOnce = undefined;
      throw new XapiFailure(e);
    }
    const ev = (o: Obj, operation: string) => ({
      id: String(o.gen),
      timestamp: '0.0',
      class: o.cls.toLowerCase(),
      operation,
      ref: o.ref,
      ...(operation === 'del' ? {} : { snapshot: o.rec }),
    });
    const reply = (events: unknown[]) => ({ events, valid_ref_counts: { task: new I4(1) }, token: `${pad20(this.gen)},${pad20(0)}` });
    if (token === '') {
      return reply([...this.objects.values()].filter((o) => !o.deleted && this.matches(o, classes)).map((o) => ev(o, 'add')));
    }
    const m = /^(\d+),\d+$/.exec(token);
    if (!m) throw new XapiFailure(['EVENT_FROM_TOKEN_PARSE_FAILURE', token]);
    const since = Number(m[1]);
    const until = Date.now() + (timeoutS * 1000) / this.timeScale;
    for (;;) {
      const changed = [...this.objects.values()].filter((o) => o.gen > since && this.matches(o, classes) && !(o.deleted && o.createdGen > since));
      if (changed.length > 0 || Date.now() >= until) {
        return reply(changed.map((o) => ev(o, o.deleted ? 'del' : o.createdGen > since ? 'add' : 'mod')));
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.timers.delete(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.max(1, until - Date.now()));
        this.timers.add(t);
        this.waiters.add(done);
      });
    }
  }

  // ---- dispatch ----

  private async dispatch(host: FakeHost, method: string, params: unknown[]): Promise<unknown> {
    const broken = this.broken.get(host.address);
    if (broken) return broken;
    const emergency = this.emergency.get(host.address);
    if (emergency) throw new XapiFailure(emergency);
    if (method === 'session.login_with_password') {
      if (host !== this.master) throw new XapiFailure(['HOST_IS_SLAVE', this.master.address]);
      const [user, pw] = params as string[];
      const custom = this.overrides.get(method);
      if (custom) return custom(params, { host });
      if (user !== this.username || pw !== this.password) {
        throw new XapiFailure(['SESSION_AUTHENTICATION_FAILED', String(user), 'Authentication failure']);
      }
      const s = `OpaqueRef:${randomUUID()}`;
      this.sessions.add(s);
      return s;
    }
    if (method === 'system.listMethods') return ['session.login_with_password', 'host.get_all_records'];
    const session = String(params[0]);
    if (host !== this.master) throw new XapiFailure(['HOST_IS_SLAVE', this.master.address]);
    if (!this.sessions.has(session)) throw new XapiFailure(['SESSION_INVALID', session]);
    const args = params.slice(1);
    if (method === 'session.logout') {
      this.sessions.delete(session);
      return '';
    }
    const custom = this.overrides.get(method);
    if (custom) return custom(args, { host, session });
    if (method === 'event.from') return this.eventFrom(args[0] as string[], String(args[1]), Number(args[2]));
    if (method === 'task.destroy') {
      if (!this.exists(String(args[0]))) throw new XapiFailure(['HANDLE_INVALID', 'task', String(args[0])]);
      this.del(String(args[0]));
      return '';
    }
    if (method.startsWith('Async.')) {
      const inner = this.overrides.get(method.slice(6));
      if (!inner) throw new XapiFailure(['MESSAGE_METHOD_UNKNOWN', method]);
      const task = this.createTask(method);
      void (async () => {
        try {
          const v = await inner(args, { host, session });
          this.finishTask(task, { result: encodeValue(v) });
        } catch (e) {
          if (e instanceof XapiFailure) this.finishTask(task, { error: e.desc });
          else this.finishTask(task, { error: ['INTERNAL_ERROR', String(e)] });
        }
      })();
      return task;
    }
    const all = /^(\w+)\.get_all_records$/.exec(method);
    if (all) {
      const out: Record<string, unknown> = {};
      for (const o of this.objects.values()) if (!o.deleted && o.cls === all[1]) out[o.ref] = o.rec;
      return out;
    }
    throw new XapiFailure(['MESSAGE_METHOD_UNKNOWN', method]);
  }

  handle = (host: FakeHost) => async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'GET' && req.url?.startsWith('/pool/xmldbdump')) {
      const session = new URL(req.url, 'http://x').searchParams.get('session_id') ?? '';
      this.requests.push({ host: host.address, method: 'GET /pool/xmldbdump', params: [], raw: '' });
      if (!this.sessions.has(session) || host !== this.master) {
        res.writeHead(403).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      // streamed with no length, in pieces, like xapi
      for (let i = 0; i < this.dbDump.length; i += 7) res.write(this.dbDump.slice(i, i + 7));
      res.end();
      return;
    }
    if (req.url === '/jsonrpc') {
      // an XML-RPC-only host, as far as this fake goes: the client falls back to XML-RPC (src/xenapi/wire.ts)
      this.requests.push({ host: host.address, method: 'POST /jsonrpc', params: [], raw });
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    let method: string;
    let params: unknown[];
    try {
      ({ method, params } = await decodeCall(raw));
    } catch {
      res.writeHead(500, { 'Content-Type': 'text/html' }).end('<html><body>Internal error</body></html>');
      return;
    }
    this.requests.push({ host: host.address, method, params, raw });
    let body: string;
    try {
      const value = await this.dispatch(host, method, params);
      if (value === HANG) return; // never answer
      if (value === RESET) {
        req.socket.destroy();
        return;
      }
      if (value === HTML500) {
        res.writeHead(500, { 'Content-Type': 'text/html' }).end('<html><body>Server error</body></html>');
        return;
      }
      if (value === GARBAGE) {
        res.writeHead(200, { 'Content-Type': 'text/xml' }).end('\u0000\u0017 not xml at all');
        return;
      }
      if (value === FAULT) {
        res.writeHead(200, { 'Content-Type': 'text/xml' }).end(encodeFault(-1, `Async.${method}: message is session-only`));
        return;
      }
      body = encodeResponse({ Status: 'Success', Value: value ?? '' });
    } catch (e) {
      if (!(e instanceof XapiFailure)) throw e;
      body = encodeResponse({ Status: 'Failure', ErrorDescription: e.desc });
    }
    res.writeHead(200, { 'Content-Type': 'text/xml' }).end(body);
  };

  async powerOn(name: string): Promise<void> {
    const h = this.host(name);
    if (h.up) return;
    await listen(h.server, h.address, this.port);
    h.up = true;
  }

  async powerOff(name: string): Promise<void> {
    const h = this.host(name);
    if (!h.up) return;
    h.up = false;
    const closed = new Promise<void>((resolve) => h.server.close(() => resolve()));
    for (const s of h.sockets) s.destroy();
    await closed;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.wake();
    await Promise.all(this.hosts.map((h) => this.powerOff(h.name)));
  }
}

function listen(server: http.Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

/** Random 127.x.y.z addresses so parallel jest workers never collide. */
function loopbackBase(): string {
  return `127.${10 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
}

export async function startFakePool(opts: FakePoolOptions = {}): Promise<FakePool> {
  const pool = new FakePool(opts);
  const n = opts.hosts ?? 2;
  for (let attempt = 0; ; attempt++) {
    const base = opts.base ?? loopbackBase();
    pool.hosts.length = 0;
    pool.port = opts.port ?? 0;
    try {
      for (let i = 0; i < n; i++) {
        const sockets = new Set<net.Socket>();
        const host: FakeHost = { name: `host${i + 1}`, address: `${base}.${i + 2}`, ref: `OpaqueRef:${randomUUID()}`, up: false, server: undefined as never, sockets };
        const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }) : http.createServer();
        server.on('request', pool.handle(host));
        server.on('connection', (s: net.Socket) => {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
        });
        server.on('secureConnection', (s: net.Socket) => {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
        });
        host.server = server;
        await listen(server, host.address, pool.port);
        host.up = true;
        if (pool.port === 0) pool.port = (server.address() as net.AddressInfo).port;
        pool.hosts.push(host);
      }
      break;
    } catch (e) {
      await Promise.all(pool.hosts.map((h) => new Promise((r) => h.server.close(r))));
      if (attempt > 5) throw e;
    }
  }
  pool.master = pool.hosts[0]!;
  return pool;
}

/** Host, metrics and pool records in wire form (int64 as strings), for get_all_records and events. */
export function seedPool(pool: FakePool, opts: { bootTime?: string } = {}): void {
  const poolRef = `OpaqueRef:${randomUUID()}`;
  pool.add('pool', poolRef, { uuid: randomUUID(), name_label: 'fake', master: pool.master.ref, other_config: {}, ha_enabled: false });
  for (const h of pool.hosts) {
    const metrics = `OpaqueRef:${randomUUID()}`;
    pool.add('host_metrics', metrics, { uuid: randomUUID(), live: true, memory_total: '274877906944', memory_free: '1000', last_updated: new Date(0) });
    pool.add('host', h.ref, {
      uuid: randomUUID(),
      name_label: h.name,
      address: h.address,
      enabled: true,
      software_version: { product_version: '7.1.1', platform_version: '2.1.1' },
      other_config: { boot_time: opts.bootTime ?? '1700000000.0', agent_start_time: '1700000030.0' },
      resident_VMs: [],
      metrics,
      PBDs: [],
      API_version_major: '2',
      API_version_minor: '6',
      memory_overhead: '1073741824',
    });
  }
}
