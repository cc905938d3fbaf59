/**
 * Decode threads (issue 13, src/xenapi/decode-pool.ts): a pool read decoded on threads gives exactly what the
 * event loop gives, over both transports; records that break their schema fail the same way; a thread that dies
 * fails only the replies it held, and the next read works; the process neither exits while a reply is being
 * decoded nor stays up for idle threads. The threads run the compiled thread script (dist/, built by the tests'
 * global setup), so these tests are also the check that it is built and loads. (Objects from a thread are made in
 * Node's realm, not the test's: compared with toEqual, never instanceof.)
 */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { syntheticScenario } from '../../bench/plan';
import { readSnapshot } from '../../src/inventory';
import { parseScenario, startSimulator, type SimPool } from '../../src/sim';
import { RECORD_CLASSES, XenApiClient, XenApiConnectionError } from '../../src/xenapi';
import { DecodePool, DecodeThreadError, decodeThreadsFromEnv } from '../../src/xenapi/decode-pool';
import { threadDecodes } from '../../src/observe/metrics';
import { RecordParseError } from '../../src/xenapi/records';
import { RecordBatches } from '../../src/xenapi/record-batches';
import { DECODE_WORKER, decodeThreads } from '../helpers/decode-threads';
import { reply, startFakeHost, type FakeHost } from '../helpers/fake-host';

const ROOT = join(__dirname, '..', '..');

/** xsupgrade_xenapi_thread_decodes_total{outcome} now */
async function decodes(outcome: string): Promise<number> {
  return (await threadDecodes.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe('a pool read on decode threads', () => {
  let sim: SimPool;
  const threads = decodeThreads(2);
  const loop = new DecodePool({ threads: 0 });
  beforeAll(async () => {
    // 3 hosts × 300 VMs: the VM, VBD and VIF replies hold more records than one batch of a thread's answer
    sim = await startSimulator(parseScenario(syntheticScenario(3, 300), 'decode-threads'));
  });
  afterAll(async () => {
    await threads.close();
    await sim.stop();
  });

  const client = (transport: 'xmlrpc' | 'jsonrpc', decodePool: DecodePool) =>
    new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, transport, decodePool });

  test.each(['xmlrpc', 'jsonrpc'] as const)('over %s: every class reads the same as on the event loop', async (transport) => {
    const onThreads = client(transport, threads);
    const onLoop = client(transport, loop);
    try {
      await onThreads.login();
      const before = threads.handedOver;
      onThreads.resetCallCount();
      for (const cls of RECORD_CLASSES) {
        const [a, b] = await Promise.all([onThreads.getAllRecords(cls), onLoop.getAllRecords(cls)]);
        expect(a).toEqual(b);
      }
      // every reply went to a thread (everyReply)
      expect(threads.handedOver - before).toBe(onThreads.callCount);
      expect(onThreads.callCount).toBe(RECORD_CLASSES.length);
      expect(Object.keys(await onThreads.getAllRecords('VM')).length).toBeGreaterThan(900);
    } finally {
      await onThreads.logout();
      await onLoop.logout();
    }
  });

  test.each(['xmlrpc', 'jsonrpc'] as const)('over %s: a thread’s records come as serialized batches, and the snapshot made from them is the event loop’s', async (transport) => {
    const onThreads = client(transport, threads);
    const onLoop = client(transport, loop);
    try {
      const vms = await onThreads.getAllRecordBatches('VM');
      // kept as the thread sent them (bytes, off the loop's heap), several batches: none deserialized until read
      expect(vms.count).toBeGreaterThan(1);
      expect(Object.keys(await vms.whole())).toHaveLength(Object.keys(await onLoop.getAllRecords('VM')).length);
      const clock = { now: () => 1, sleep: async () => undefined, scale: 1 };
      expect(await readSnapshot(onThreads, clock)).toEqual(await readSnapshot(onLoop, clock));
      // the members the client may reconnect to are read from the host records' batches as from whole records
      expect(onThreads.knownMembers.length).toBeGreaterThan(1);
      expect([...onThreads.knownMembers].sort()).toEqual([...onLoop.knownMembers].sort());
    } finally {
      await onThreads.logout();
      await onLoop.logout();
    }
  });

});

test('text split across the bytes handed to a thread reads whole: multi-byte characters on every boundary', async () => {
  // 3-byte and 2-byte characters, 300 KB of them: the thread turns bytes into text in pieces (decode-worker.ts), so
  // pieces end inside characters, wherever the socket and the pool cut the reply too
  const text = 'é→x'.repeat(50_000);
  const body = `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>${text}</value></member></struct></value></param></params></methodResponse>`;
  const host = await startFakeHost((_req, res) => reply(res, 'text/xml', body));
  const pool = decodeThreads(1);
  const c = new XenApiClient({ url: host.url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport: 'xmlrpc', decodePool: pool });
  try {
    const before = pool.handedOver;
    expect(await c.call('system.listMethods')).toBe(text);
    expect(pool.handedOver - before).toBe(1);
  } finally {
    c.close();
    await pool.close();
    await host.close();
  }
});

test('a thread that dies fails the reply it held, and the next reply starts a new thread', async () => {
  // a host that sends half of a large reply, then waits to be told to send the rest
  let release: () => void = () => undefined;
  const half = `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value><array><data>${'<value>x</value>'.repeat(20_000)}`;
  const rest = '</data></array></value></member></struct></value></param></params></methodResponse>';
  const host = await startFakeHost((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(half + rest) });
    res.write(half);
    release = () => res.end(rest);
  });
  const pool = decodeThreads(1);
  const c = new XenApiClient({ url: host.url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport: 'xmlrpc', decodePool: pool });
  const before = { failed: await decodes('thread-failed'), ok: await decodes('ok') };
  try {
    const first = c.call('system.listMethods');
    while (pool.handedOver === 0) await new Promise((r) => setTimeout(r, 5));
    await pool.close();
    release();
    await expect(first).rejects.toThrow(DecodeThreadError);
    await expect(first).rejects.toThrow(/^the decode thread stopped \(exit code \d+\) before the reply was decoded$/);
    const second = c.call('system.listMethods');
    while (pool.handedOver === 1) await new Promise((r) => setTimeout(r, 5));
    release();
    expect(await second).toHaveLength(20_000);
    expect(pool.handedOver).toBe(2);
    // /metrics says so: one read lost to a thread, one decoded
    expect((await decodes('thread-failed')) - before.failed).toBe(1);
    expect((await decodes('ok')) - before.ok).toBe(1);
  } finally {
    c.close();
    await pool.close();
    await host.close();
  }
});

test('a thread that never answers: the call ends at its timeout, as if the host had not answered', async () => {
  const host = await startFakeHost((_req, res) => reply(res, 'text/xml', '<?xml version="1.0"?><methodResponse><params><param><value>x</value></param></params></methodResponse>'));
  const pool = new DecodePool({ threads: 1, everyReply: true, workerFile: join(__dirname, '..', 'helpers', 'silent-decode-worker.js') });
  const c = new XenApiClient({
    url: host.url,
    username: 'root',
    password: 'pw',
    tls: { mode: 'insecure-http' },
    transport: 'xmlrpc',
    decodePool: pool,
    requestTimeoutMs: 300,
  });
  const abandoned = await decodes('abandoned');
  try {
    const e = await c.call('system.listMethods').catch((err: unknown) => err as Error);
    expect(e).toBeInstanceOf(XenApiConnectionError);
    expect((e as Error).message).toMatch(/no answer from 127\.0\.0\.1 within 300 ms/);
    expect(pool.handedOver).toBe(1);
    expect((await decodes('abandoned')) - abandoned).toBe(1);
  } finally {
    c.close();
    await pool.close();
    await host.close();
  }
});

describe('a reply broken in ways only the record schemas see', () => {
  let host: FakeHost;
  beforeAll(async () => {
    const metrics = (n: number, live: string) =>
      `<member><name>OpaqueRef:m${n}</name><value><struct><member><name>live</name><value>${live}</value></member><member><name>memory_total</name><value>1024</value></member></struct></value></member>`;
    // the second record's `live` is a struct, not a boolean: well-formed XML-RPC, a wrong record
    const body = `<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value><struct>${metrics(1, '<boolean>1</boolean>')}${metrics(2, '<struct></struct>')}</struct></value></member></struct></value></param></params></methodResponse>`;
    host = await startFakeHost((_req, res) => reply(res, 'text/xml', body));
  });
  afterAll(() => host.close());

  test.each([
    ['on a decode thread', decodeThreads(1)],
    ['on the event loop', new DecodePool({ threads: 0 })],
  ])('%s: the record, the field and what was wrong are named', async (_where, pool) => {
    const c = new XenApiClient({ url: host.url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport: 'xmlrpc', decodePool: pool });
    const unreadable = await decodes('unreadable');
    try {
      const e = (await c.getAllRecords('host_metrics').catch((err: unknown) => err)) as RecordParseError;
      expect(e).toBeInstanceOf(RecordParseError);
      expect([e.cls, e.ref, e.field]).toEqual(['host_metrics', 'OpaqueRef:m2', 'live']);
      expect(e.detail).toMatch(/Expected boolean/);
      expect((await decodes('unreadable')) - unreadable).toBe(pool.threads > 0 ? 1 : 0);
    } finally {
      c.close();
      await pool.close();
    }
  });
});

describe('the process and its threads', () => {
  test('it stays up while a reply is decoded on a thread, and exits once the threads are idle', async () => {
    // the compiled pool in a child process: nothing but the decode keeps its event loop alive
    const script = `
      const { DecodePool } = require(${JSON.stringify(join(ROOT, 'dist/src/xenapi/decode-pool.js'))});
      const pool = new DecodePool({ threads: 2, minBytes: 0 });
      const text = '{"result":' + JSON.stringify(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => ['r' + i, { uuid: 'u' + i }]))) + '}';
      async function* body() { yield Buffer.from(text); }
      pool.decode(body(), { format: 'json', maxDepth: 32, maxBytes: 1e8 }, text.length, () => new Error('too large'))
        .then((r) => console.log(Object.keys(r.value.result).length));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 20_000 });
    expect(stdout.trim()).toBe('2000');
  });

  const linux = process.platform === 'linux';
  const hasChrt = linux && spawnSync('chrt', ['--help'], { stdio: 'ignore' }).status === 0;
  (linux ? test : test.skip)(`a decode thread yields the CPU to the event loop: nice 10${hasChrt ? ', and SCHED_IDLE (chrt)' : ' (no chrt here: not SCHED_IDLE)'}`, async () => {
    // the compiled pool in a child process: its threads are the decode thread and Node's own (at the process's nice 0)
    const script = `
      const { readdirSync, readFileSync } = require('node:fs');
      const { DecodePool } = require(${JSON.stringify(join(ROOT, 'dist/src/xenapi/decode-pool.js'))});
      const pool = new DecodePool({ threads: 1, minBytes: 0 });
      const text = '{"result":' + JSON.stringify({ r1: { uuid: 'u1' } }) + '}';
      async function* body() { yield Buffer.from(text); }
      pool.decode(body(), { format: 'json', maxDepth: 32, maxBytes: 1e8 }, text.length, () => new Error('too large')).then(() => {
        // field 19 of /proc/<pid>/task/<tid>/stat is the nice value, field 41 the scheduling policy (5: SCHED_IDLE)
        const threads = readdirSync('/proc/self/task').map((tid) => readFileSync('/proc/self/task/' + tid + '/stat', 'utf8'))
          .map((st) => st.slice(st.lastIndexOf(')') + 2).split(' ')).map((f) => ({ nice: Number(f[16]), policy: Number(f[38]) }));
        console.log(JSON.stringify(threads));
        return pool.close();
      });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 20_000 });
    const threads = JSON.parse(stdout) as Array<{ nice: number; policy: number }>;
    const lowered = threads.filter((t) => t.nice === 10);
    expect(lowered).toHaveLength(1); // the decode thread, and no other
    expect(lowered[0]!.policy).toBe(hasChrt ? 5 : 0);
    expect(threads.filter((t) => t.nice !== 10).every((t) => t.nice === 0 && t.policy === 0)).toBe(true);
  });

  test('only get_all_records replies go to a thread, and only large ones (or of unknown size)', () => {
    const pool = new DecodePool({ threads: 1, workerFile: DECODE_WORKER });
    expect(pool.wants(2 * 1024 * 1024, true)).toBe(true);
    expect(pool.wants(Number.NaN, true)).toBe(true);
    expect(pool.wants(64 * 1024, true)).toBe(true);
    expect(pool.wants(32 * 1024, true)).toBe(false);
    // event.from and the like: decoded on the loop, in its slices (a thread would send them back as one message)
    expect(pool.wants(20 * 1024 * 1024, false)).toBe(false);
    expect(new DecodePool({ threads: 0, workerFile: DECODE_WORKER }).wants(2 * 1024 * 1024, true)).toBe(false);
  });

  test('XSUPGRADE_XENAPI_DECODE_THREADS: a number of threads, 0 for none; anything else is refused by name', () => {
    expect(decodeThreadsFromEnv({ XSUPGRADE_XENAPI_DECODE_THREADS: '0' })).toBe(0);
    expect(decodeThreadsFromEnv({ XSUPGRADE_XENAPI_DECODE_THREADS: '3' })).toBe(3);
    expect(decodeThreadsFromEnv({})).toBeGreaterThanOrEqual(1);
    expect(decodeThreadsFromEnv({})).toBeLessThanOrEqual(4);
    expect(() => decodeThreadsFromEnv({ XSUPGRADE_XENAPI_DECODE_THREADS: 'two' })).toThrow(/XSUPGRADE_XENAPI_DECODE_THREADS must be a whole number/);
    expect(() => decodeThreadsFromEnv({ XSUPGRADE_XENAPI_DECODE_THREADS: '64' })).toThrow(/XSUPGRADE_XENAPI_DECODE_THREADS must be between 0 and 16/);
  });
});

describe.each(['jsonrpc', 'xmlrpc'] as const)('records sent while the reply is still being read, over %s', (transport) => {
  // host_metrics: 2,000 records (JSON-RPC ~170 KB: three pieces; XML-RPC ~600 KB, each record sent as it is read),
  // five batches; the last record may be broken, and the first ref may come again at the end, batches later
  const xmlValue = (v: unknown): string => (typeof v === 'boolean' ? `<boolean>${v ? 1 : 0}</boolean>` : `<string>${String(v)}</string>`);
  const xmlMember = (name: string, value: string): string => `<member><name>${name}</name><value>${value}</value></member>`;
  const metrics = (n: number, live: unknown) =>
    transport === 'jsonrpc'
      ? `"OpaqueRef:m${n}":{"live":${JSON.stringify(live)},"memory_total":"1024","other_config":{"a":"b"}}`
      : xmlMember(`OpaqueRef:m${n}`, `<struct>${xmlMember('live', xmlValue(live))}${xmlMember('memory_total', '1024')}${xmlMember('other_config', `<struct>${xmlMember('a', 'b')}</struct>`)}</struct>`);
  let lastLive: unknown = true;
  let firstAgain: unknown = undefined;
  /** how the XML-RPC reply ends: whole, with a second Status after its records, or cut short */
  let xmlEnd: 'whole' | 'status-again' | 'cut' = 'whole';
  const body = () => {
    const members = [...Array.from({ length: 1999 }, (_, i) => metrics(i, true)), metrics(1999, lastLive)];
    if (firstAgain !== undefined) members.push(metrics(0, firstAgain));
    if (transport === 'jsonrpc') return `{"jsonrpc":"2.0","result":{${members.join(',')}},"id":1}`;
    const envelope = `<struct>${xmlMember('Status', 'Success')}${xmlMember('Value', `<struct>${members.join('')}</struct>`)}${xmlEnd === 'status-again' ? xmlMember('Status', 'Failure') : ''}</struct>`;
    const text = `<?xml version="1.0"?><methodResponse><params><param><value>${envelope}</value></param></params></methodResponse>`;
    return xmlEnd === 'cut' ? text.slice(0, text.lastIndexOf('</struct>')) : text;
  };
  let host: FakeHost;
  beforeAll(async () => {
    host = await startFakeHost((_req, res) => reply(res, transport === 'jsonrpc' ? 'application/json' : 'text/xml', body()));
  });
  afterAll(() => host.close());
  beforeEach(() => {
    lastLive = true;
    firstAgain = undefined;
    xmlEnd = 'whole';
  });

  const clientOn = (pool: DecodePool) => new XenApiClient({ url: host.url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport, decodePool: pool });

  test('a reply refused by its last record fails whole, though batches of it were already sent; the next reply on that thread reads whole', async () => {
    const pool = decodeThreads(1);
    const c = clientOn(pool);
    try {
      lastLive = 'maybe';
      const e = (await c.getAllRecords('host_metrics').catch((err: unknown) => err)) as RecordParseError;
      expect(e).toBeInstanceOf(RecordParseError);
      expect([e.cls, e.ref, e.field]).toEqual(['host_metrics', 'OpaqueRef:m1999', 'live']);
      lastLive = false;
      const before = pool.handedOver;
      const records = await c.getAllRecords('host_metrics');
      expect(Object.keys(records)).toHaveLength(2000);
      expect(Object.keys(records)[0]).toBe('OpaqueRef:m0');
      expect(records['OpaqueRef:m1999']).toEqual({ live: false, memory_total: 1024 });
      expect(pool.handedOver - before).toBe(1); // on the one thread, after the refused reply's batches
    } finally {
      c.close();
      await pool.close();
    }
  });

  test('a ref given again batches later: its last record counts, in its first place, as in JSON.parse', async () => {
    const pool = decodeThreads(1);
    const c = clientOn(pool);
    try {
      firstAgain = false;
      const records = await c.getAllRecords('host_metrics');
      expect(Object.keys(records)).toHaveLength(2000);
      expect(Object.keys(records)[0]).toBe('OpaqueRef:m0');
      expect(records['OpaqueRef:m0']).toEqual({ live: false, memory_total: 1024 });
      // and when that last record is wrong, the reply is refused, though the first one was sent already
      firstAgain = 'again';
      const e = (await c.getAllRecords('host_metrics').catch((err: unknown) => err)) as RecordParseError;
      expect([e.cls, e.ref, e.field]).toEqual(['host_metrics', 'OpaqueRef:m0', 'live']);
    } finally {
      c.close();
      await pool.close();
    }
  });

  if (transport === 'xmlrpc') {
    test.each([
      ['cut short after its records', 'cut', /unclosed <struct> at the end of the document/],
      ['a second Status after its records', 'status-again', /^UNKNOWN_ERROR \(host_metrics\.get_all_records on 127\.0\.0\.1\)$/],
    ] as const)('a reply %s is refused whole, on a thread as on the event loop, though its records were sent; the next reads whole', async (_what, end, message) => {
      for (const pool of [decodeThreads(1), new DecodePool({ threads: 0 })]) {
        const c = clientOn(pool);
        try {
          await c.login();
          xmlEnd = end;
          const e = (await c.getAllRecords('host_metrics').catch((err: unknown) => err)) as Error;
          expect(e).toBeInstanceOf(Error);
          expect(e.message).toMatch(message);
          xmlEnd = 'whole';
          expect(Object.keys(await c.getAllRecords('host_metrics'))).toHaveLength(2000);
        } finally {
          c.close();
          await pool.close();
        }
      }
    });
  }
});

test('the batch of a reply refused before its batch was read is dropped, not given to the next reply', async () => {
  const pool = new DecodePool({ threads: 1, everyReply: true, workerFile: join(__dirname, '..', 'helpers', 'scripted-decode-worker.js') });
  const job = { format: 'json' as const, maxDepth: 32, maxBytes: 1e6, records: 'VM' as const };
  const decode = (text: string) => pool.decode((async function* () { yield Buffer.from(text); })(), job, text.length, () => new Error('too large'));
  try {
    await expect(decode('refuse')).rejects.toThrow('refused by script');
    const next = await decode('next');
    expect(next.kind).toBe('json');
    const records = (next as { value: { result: unknown } }).value.result;
    expect(records).toBeInstanceOf(RecordBatches);
    expect(await (records as RecordBatches).whole()).toEqual({ 'OpaqueRef:next': {} });
  } finally {
    await pool.close();
  }
});

test('JSON replies on one thread reuse its buffers: longer, shorter, undeclared and under-declared replies all read exactly', async () => {
  // the thread copies each JSON reply into a buffer an earlier reply used (reply-buffers.ts): a shorter reply after a
  // longer one must not read the longer one's tail, and a reply without Content-Length grows its buffer as it comes
  const member = (i: number, live: boolean) => `"OpaqueRef:m${i}":{"live":${live},"memory_total":"${i}"}`;
  const body = (n: number, live: boolean) => `{"jsonrpc":"2.0","result":{${Array.from({ length: n }, (_, i) => member(i, live)).join(',')}},"id":1}`;
  const answers: Array<{ n: number; live: boolean; declare: boolean }> = [
    { n: 5000, live: true, declare: true },
    { n: 30, live: false, declare: true },
    { n: 12_000, live: true, declare: false },
    { n: 7, live: false, declare: false },
  ];
  let next = -1; // the first call is the login
  const host = await startFakeHost((_req, res) => {
    if (next++ < 0) return reply(res, 'application/json', '{"jsonrpc":"2.0","result":"OpaqueRef:session","id":1}');
    const a = answers[next - 1]!;
    const text = body(a.n, a.live);
    if (a.declare) return reply(res, 'application/json', text);
    // chunked, in pieces smaller than the thread's first buffer and larger than it
    res.writeHead(200, { 'content-type': 'application/json' });
    for (let at = 0; at < text.length; at += 40_000) res.write(text.slice(at, at + 40_000));
    res.end();
  });
  const pool = decodeThreads(1);
  const c = new XenApiClient({ url: host.url, username: 'root', password: 'pw', tls: { mode: 'insecure-http' }, transport: 'jsonrpc', decodePool: pool });
  try {
    for (const a of answers) {
      const records = await c.getAllRecords('host_metrics');
      expect(Object.keys(records)).toHaveLength(a.n);
      expect(records[`OpaqueRef:m${a.n - 1}`]).toEqual({ live: a.live, memory_total: a.n - 1 });
    }
    expect(next).toBe(answers.length);
    expect(pool.handedOver).toBe(answers.length + 1); // and the login
  } finally {
    c.close();
    await pool.close();
    await host.close();
  }
});
