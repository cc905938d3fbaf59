/**
 * The fast encoder: records are encoded once and cached until they change. Cached and fresh encodings must be the
 * same bytes, and every kind of change (field update, map mutation, relation, delete) must show at once.
 */
import { buildPool } from '../../src/sim/build';
import { Sim } from '../../src/sim/engine';
import { generateScenario, parseScenario, startSimulator } from '../../src/sim';
import { Db } from '../../src/sim/db';
import { CLASSES } from '../../src/sim/records';
import { Double, encodeJson, encodeValue, successResponse, successResponseBody, WireValue } from '../../src/sim/wire';
import { jsonRpcResponse } from '../../src/sim/jsonrpc';
import { silentLogger } from '../../src/log';
import { fastClock, login, ok } from './helpers';

/** The plain encoder on a deep copy (floats wrapped), i.e. what the simulator sent before records were cached. */
function reference(db: Db, cls: string, ref: string): string {
  return encodeValue(db.snapshot(cls, ref) as WireValue);
}

test('every cached record encodes to the same bytes as the plain encoder, escaping included', () => {
  const scenario = generateScenario({ hosts: 3, vmsPerHost: 4 });
  scenario.vms[0].name = 'a <b> & "c"\u0001';
  const sim = new Sim(parseScenario(scenario), fastClock(), silentLogger);
  const pool = buildPool(sim, new Map(scenario.hosts.map((h, i) => [h.name, `127.9.9.${i + 1}`])));
  const task = pool.db.create('task', { name_label: 't', progress: 0.25, created: new Date(0) });
  let compared = 0;
  for (const cls of CLASSES)
    for (const ref of pool.db.refs(cls)) {
      expect(pool.db.encoded(cls, ref).xml).toBe(reference(pool.db, cls, ref));
      compared++;
    }
  expect(compared).toBeGreaterThan(50);
  expect(pool.db.encoded('task', task).xml).toContain('<member><name>progress</name><value><double>0.25</double></value></member>');
  expect(pool.db.encoded('VM', pool.db.entries('VM').find(([, r]) => String(r.name_label).startsWith('a '))![0]).xml).toContain(
    '<value>a &lt;b&gt; &amp; &quot;c&quot;</value>',
  );
  expect(encodeValue({ x: [new Double(1), 2, true, new Date(Date.UTC(2017, 3, 7, 8, 28, 32))] })).toBe(
    '<value><struct><member><name>x</name><value><array><data><value><double>1.</double></value><value>2</value><value><boolean>1</boolean></value><value><dateTime.iso8601>20170407T08:28:32Z</dateTime.iso8601></value></data></array></value></member></struct></value>',
  );
});

test('a cached record is re-encoded after each kind of change', () => {
  const db = new Db(['host', 'VM']);
  const h = db.create('host', { name_label: 'h', resident_VMs: [], other_config: {} });
  const before = db.encoded('host', h);
  expect(db.encoded('host', h)).toBe(before); // cached: the same object
  db.update('host', h, { name_label: 'h2' });
  expect(db.encoded('host', h).xml).toContain('<value>h2</value>');
  db.mutate('host', h, (r) => ((r.other_config as Record<string, string>).k = 'v'));
  expect(db.encoded('host', h).xml).toContain('<member><name>k</name><value>v</value></member>');
  // a VM created on the host changes the host's resident_VMs (relation), without an update of the host itself
  const vm = db.create('VM', { name_label: 'vm', resident_on: h });
  expect(db.encoded('host', h).xml).toContain(`<value>${vm}</value>`);
  db.update('VM', vm, { resident_on: 'OpaqueRef:NULL' });
  expect(db.encoded('host', h).xml).not.toContain(vm);
  db.delete('VM', vm);
  expect(() => db.encoded('VM', vm)).toThrow(/HANDLE_INVALID/);
});

const bodyText = (body: string | Buffer[]): string => (typeof body === 'string' ? body : Buffer.concat(body).toString());

test('a class encoded whole (get_all_records) is served again only while none of its records changed', () => {
  const db = new Db(['host', 'VM']);
  const h = db.create('host', { name_label: 'h', resident_VMs: [], other_config: {} });
  const v1 = db.create('VM', { name_label: 'vm1', resident_on: 'OpaqueRef:NULL' });
  const whole = () => db.encodedAll('VM').xml;
  const first = db.encodedAll('VM');
  expect(db.encodedAll('VM')).toBe(first); // unchanged: the same encoding, not joined again
  expect(first.xml).toBe(encodeValue({ [v1]: db.snapshot('VM', v1) as WireValue }));
  db.update('host', h, { name_label: 'h2' }); // another class changed: still the same
  expect(db.encodedAll('VM')).toBe(first);
  db.update('VM', v1, { name_label: 'vm1b' });
  expect(whole()).toContain('<value>vm1b</value>');
  db.mutate('VM', v1, (r) => (r.resident_on = h));
  expect(whole()).toContain(`<value>${h}</value>`);
  const v2 = db.create('VM', { name_label: 'vm2', resident_on: 'OpaqueRef:NULL' });
  expect(whole()).toBe(encodeValue({ [v1]: db.snapshot('VM', v1) as WireValue, [v2]: db.snapshot('VM', v2) as WireValue }));
  db.delete('VM', v1);
  expect(whole()).toBe(encodeValue({ [v2]: db.snapshot('VM', v2) as WireValue }));
  // the replies made of it are the bytes the plain encoders write
  const all = db.encodedAll('VM');
  const plain = { [v2]: db.snapshot('VM', v2) as WireValue };
  expect((successResponseBody(all) as Buffer).toString()).toBe(successResponse(plain));
  expect(successResponseBody(all)).toBe(successResponseBody(all)); // made once
  for (const [dialect, jsonrpc] of [['v1', undefined], ['v1+v2', '2.0'], ['v1+v2', undefined]] as const) {
    const call = { method: 'VM.get_all_records', params: [], id: 7, jsonrpc };
    expect(bodyText(jsonRpcResponse({ kind: 'success', value: all }, call, dialect))).toBe(jsonRpcResponse({ kind: 'success', value: plain }, call, dialect));
  }
  expect(JSON.parse(bodyText(jsonRpcResponse({ kind: 'success', value: all }, { method: 'm', params: [], id: 'x', jsonrpc: '2.0' }, 'v1+v2')))).toEqual({
    jsonrpc: '2.0',
    result: JSON.parse(encodeJson(plain)),
    id: 'x',
  });
});

test('over the wire: get_record, get_all_records and event snapshots follow a live migration', async () => {
  const sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
  try {
    const url = sim.masterUrl;
    const s = await login(url);
    const [a1, a2] = sim.hosts().map((h) => h.ref);
    const vms = await ok(url, 'VM.get_all_records', [s]);
    const web = Object.keys(vms).find((r) => vms[r].name_label === 'web-01')!;
    expect(vms[web].resident_on).toBe(a1);
    const token = (await ok(url, 'event.from', [s, ['vm'], '', 0.0])).token;
    await ok(url, 'VM.pool_migrate', [s, web, a2, { live: 'true' }]);
    expect((await ok(url, 'VM.get_record', [s, web])).resident_on).toBe(a2);
    expect((await ok(url, 'VM.get_all_records', [s]))[web].resident_on).toBe(a2);
    expect(await ok(url, 'host.get_resident_VMs', [s, a2])).toContain(web);
    expect((await ok(url, 'host.get_all_records', [s]))[a1].resident_VMs).not.toContain(web);
    const events = (await ok(url, 'event.from', [s, ['vm'], token, 0.0])).events;
    expect(events.find((e: any) => e.ref === web).snapshot.resident_on).toBe(a2);
  } finally {
    await sim.stop();
  }
});
