/**
 * Transport choice per host (issue 13): JSON-RPC first, XML-RPC for a host that does not serve it, remembered per
 * connection and probed again after a reconnect, so a master upgraded mid-run from one to the other works.
 * Against the simulator, which serves /jsonrpc per version as the brief describes (src/sim/jsonrpc.ts).
 */
import { ScaledClock } from '../../src/clock';
import { startSimulator, type ScenarioInput, type SimPool } from '../../src/sim';
import { XenApiClient, XenApiConnectionError, XenApiError, parseAllRecords } from '../../src/xenapi';

const REPO = 'http://repo.example.com/7.6/';

const pool = (version: string, platform = '2.1.1'): ScenarioInput => ({
  pool: { name: 'tp', password: 'pw-Transport-1' },
  hosts: [
    { name: 'm1', master: true, productVersion: version, platformVersion: platform, build: 'b', memoryGiB: 64 },
    { name: 's2', productVersion: version, platformVersion: platform, build: 'b', memoryGiB: 64 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true }],
  vms: [{ name: 'a', host: 's2', memoryGiB: 4, disks: [{ sr: 'nfs' }] }],
  repositories: [{ url: REPO, version: '7.6.0', platform: '2.7.0', build: 'lima' }],
  timings: { installSeconds: 20000, xapiStartSeconds: 2000, bootSeconds: 200 },
});

let sim: SimPool | undefined;
let client: XenApiClient | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await sim?.stop();
  sim = undefined;
});

async function start(version: string, platform?: string): Promise<{ sim: SimPool; client: XenApiClient }> {
  const clock = new ScaledClock(20000);
  sim = await startSimulator(pool(version, platform), { clock, http: true }); // raw fetch below: plain HTTP
  client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock });
  return { sim, client };
}

async function rawJson(url: string, body: unknown): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${url}/jsonrpc`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

test('a 7.1 host: every call goes over JSON-RPC (v1 replies), the same records as over XML-RPC', async () => {
  const { sim, client } = await start('7.1.1');
  const vms = parseAllRecords('VM', await client.call('VM.get_all_records'));
  expect(client.transport).toBe('jsonrpc');
  expect(sim.stats().calls['session.login_with_password']).toBe(1); // no probe, no second login
  const xml = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, transport: 'xmlrpc' });
  try {
    // the typed fields every consumer reads are equal (passthrough extras keep their wire form: "1" vs 1)
    const typed = (r: typeof vms) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [v.name_label, v.power_state, v.resident_on, v.memory_static_max, v.memory_dynamic_min, v.VBDs]]));
    expect(typed(parseAllRecords('VM', await xml.call('VM.get_all_records')))).toEqual(typed(vms));
    expect(xml.transport).toBe('xmlrpc');
  } finally {
    xml.close();
  }
  // 7.1 answers in the v1 envelope even to a v2 request, with failures as [code, …]
  const r = await rawJson(sim.masterUrl, { jsonrpc: '2.0', method: 'session.login_with_password', params: ['root', 'wrong'], id: 7 });
  expect(r.type).toContain('application/json');
  expect(JSON.parse(r.text)).toEqual({ result: null, error: ['SESSION_AUTHENTICATION_FAILED', 'root', expect.any(String)], id: 7 });
});

test('a 7.6 host answers v2 to a v2 request and v1 to a v1 request; the client reads both, failures included', async () => {
  const { sim, client } = await start('7.6.0', '2.7.0');
  const v2 = JSON.parse((await rawJson(sim.masterUrl, { jsonrpc: '2.0', method: 'pool.get_all', params: ['OpaqueRef:nope'], id: 'x' })).text);
  expect(v2).toEqual({ jsonrpc: '2.0', error: { code: expect.any(Number), message: 'SESSION_INVALID', data: ['OpaqueRef:nope'] }, id: 'x' });
  const v1 = JSON.parse((await rawJson(sim.masterUrl, { method: 'pool.get_all', params: ['OpaqueRef:nope'], id: 1 })).text);
  expect(v1).toEqual({ result: null, error: ['SESSION_INVALID', 'OpaqueRef:nope'], id: 1 });
  const err = await client.call('VM.get_record', ['OpaqueRef:missing']).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XenApiError);
  expect((err as XenApiError).code).toBe('HANDLE_INVALID');
  expect(client.transport).toBe('jsonrpc');
  // ints are JSON numbers and datetimes xapi's text: the record parser takes both forms
  const hosts = parseAllRecords('host', await client.call('host.get_all_records'));
  expect(Object.values(hosts).every((h) => typeof h.memory_overhead === 'number' || h.memory_overhead === undefined)).toBe(true);
  // a task's result is XML-RPC text under JSON-RPC too, decoded by the XML decoder
  const vm = Object.entries(parseAllRecords('VM', await client.call('VM.get_all_records'))).find(([, v]) => v.name_label === 'a')![0];
  const s2 = Object.entries(hosts).find(([, h]) => h.name_label === 's2')![0];
  const m1 = Object.entries(hosts).find(([, h]) => h.name_label === 'm1')![0];
  expect(await client.callAsync('VM.pool_migrate', [vm, m1, { live: 'true' }])).toBe('');
  expect(await client.call('VM.get_resident_on', [vm])).toBe(m1);
  expect(s2).not.toBe(m1);
});

test('a malformed JSON-RPC request gets HTTP 500 with an HTML page, as xapi answers', async () => {
  const { sim } = await start('7.6.0', '2.7.0');
  const r = await rawJson(sim.masterUrl, { method: 'pool.get_all', id: 1 }); // no params
  expect(r.status).toBe(500);
  expect(r.text).toMatch(/params/);
});

test('a 7.2 host answers /jsonrpc in XML: the client uses that answer (the call is not sent twice) and stays on XML-RPC', async () => {
  const { sim, client } = await start('7.2.0', '2.2.0');
  await client.call('pool.get_all');
  expect(client.transport).toBe('xmlrpc');
  const stats = sim.stats().calls;
  expect(stats['session.login_with_password']).toBe(1);
  expect(stats['pool.get_all']).toBe(1);
  expect(client.callCounts).toEqual({ 'session.login_with_password': 1, 'pool.get_all': 1 });
});

test('a master upgraded mid-run from 7.2 (XML-RPC) to 7.6 (JSON-RPC): the transport is probed again after the reconnect', async () => {
  const { sim, client } = await start('7.2.0', '2.2.0');
  const hosts = parseAllRecords('host', await client.call('host.get_all_records'));
  expect(client.transport).toBe('xmlrpc');
  const m1 = Object.entries(hosts).find(([, h]) => h.name_label === 'm1')![0];
  await client.call('host.disable', [m1]);
  await client.call('host.evacuate', [m1]);
  await client.call('host.call_plugin', [m1, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
  await client.call('host.reboot', [m1]);
  // the master goes down: the next call cannot reach it
  let down: unknown;
  for (let i = 0; i < 200 && !down; i++) {
    down = await client.call('pool.get_all').then(
      () => new Promise((r) => setTimeout(() => r(undefined), 10)),
      (e: unknown) => e,
    );
  }
  expect(down).toBeInstanceOf(XenApiConnectionError);
  await client.reconnect({ deadlineMs: client.clock.now() + 24 * 3600_000 });
  const after = parseAllRecords('host', await client.call('host.get_all_records'));
  expect(after[m1]!.software_version.product_version).toBe('7.6.0');
  expect(client.transport).toBe('jsonrpc');
  expect(sim.hosts().find((h) => h.name === 'm1')!.productVersion).toBe('7.6.0');
});

test('a 6.5 host (multi-hop, R1.4) has no /jsonrpc at all (HTTP 404): the client uses XML-RPC, and the host reports API 2.3', async () => {
  const { sim, client } = await start('6.5.0', '1.9.0');
  const r = await rawJson(sim.masterUrl, { method: 'pool.get_all', params: [], id: 1 });
  expect(r.status).toBe(404);
  await client.call('pool.get_all');
  expect(client.transport).toBe('xmlrpc');
  const hosts = parseAllRecords('host', await client.call('host.get_all_records'));
  const m1 = Object.values(hosts).find((h) => h.name_label === 'm1')!;
  expect([m1.API_version_major, m1.API_version_minor]).toEqual([2, 3]);
  expect((m1.software_version as Record<string, string>).product_version).toBe('6.5.0');
  expect((m1.software_version as Record<string, string>).platform_version).toBe('1.9.0');
  expect(sim.stats().calls['http:/jsonrpc'] ?? 0).toBe(0);
});
