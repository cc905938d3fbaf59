/** Scenario validation, admin HTTP endpoint, connection-reset and migration faults, db dump, big pools. */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateScenario, loadScenario, parseScenario, startAdminServer, startSimulator, type SimInspect, type SimStats } from '../../src/sim';
import { failureOf, fastClock, login, methodCallXml, ok, rawPost, until, xcall } from './helpers';

describe('scenario validation', () => {
  test('errors name the file and the field path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scn-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'pool: { name: p, password: x }\nhosts:\n  - { name: a, master: true, productVersion: 7.1.1, platformVersion: 2.1.1, memoryGiB: lots }\nvms:\n  - { name: v, host: nowhere }\n',
    );
    expect(() => loadScenario(file)).toThrow(new RegExp(`invalid scenario ${file}`));
    expect(() => loadScenario(file)).toThrow(/hosts\[0\]\.memoryGiB: Expected number/);
    writeFileSync(file, 'pool: { name: p, password: x }\nhosts:\n  - { name: a, master: true, productVersion: 7.1.1, platformVersion: 2.1.1 }\nvms:\n  - { name: v, host: nowhere }\n');
    expect(() => loadScenario(file)).toThrow(/vms\[0\]\.host: unknown host "nowhere"/);
    expect(() => loadScenario(join(dir, 'missing.yaml'))).toThrow(/cannot read scenario/);
    expect(() => parseScenario({ pool: { name: 'p', password: 'x' }, hosts: [{ name: 'a', productVersion: '7.1', platformVersion: '2.1' }] }, 'inline')).toThrow(
      /inline:\n {2}hosts: exactly one host must have master: true/,
    );
  });

  test('the demo scenarios are valid and pool-a fits on N-1 hosts (R2.2)', () => {
    for (const f of ['pool-a', 'pool-b', 'standalone']) expect(() => loadScenario(`manifests/demo/${f}.yaml`)).not.toThrow();
    const a = loadScenario('manifests/demo/pool-a.yaml');
    const running = a.vms.filter((v) => v.power === 'Running').reduce((n, v) => n + v.memoryGiB, 0);
    const smallestTwo = a.hosts.map((h) => h.memoryGiB - h.dom0MemoryGiB - 2).sort((x, y) => x - y).slice(0, 2);
    expect(running).toBeLessThan(smallestTwo[0] + smallestTwo[1]);
  });
});

test('admin endpoint: list, inspect, power off/on, faults, errors', async () => {
  const sim = await startSimulator('manifests/demo/standalone.yaml', { clock: fastClock() });
  const admin = await startAdminServer([sim], { port: 0 });
  try {
    expect(admin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pools = (await (await fetch(`${admin.url}/pools`)).json()) as Array<{ name: string }>;
    expect(pools.map((p) => p.name)).toEqual(['standalone']);
    const detail = (await (await fetch(`${admin.url}/pools/standalone`)).json()) as SimInspect & { stats: SimStats };
    expect(detail.vms.map((v) => v.name).sort()).toEqual(['dev-box', 'fileserver', 'printserver']);
    expect(detail.stats.calls).toEqual({});
    expect((await fetch(`${admin.url}/pools/nope`)).status).toBe(404);
    const bad = await fetch(`${admin.url}/pools/standalone/faults`, { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/fault\.kind/);
    const f = await fetch(`${admin.url}/pools/standalone/faults`, { method: 'POST', body: JSON.stringify({ kind: 'connection-reset', method: 'pool.get_all' }) });
    expect(f.status).toBe(200);
    const s = await login(sim.masterUrl);
    await expect(xcall(sim.masterUrl, 'pool.get_all', [s])).rejects.toThrow(); // reset once
    expect(await ok(sim.masterUrl, 'pool.get_all', [s])).toHaveLength(1);
    expect(sim.stats().calls['pool.get_all']).toBe(2);
    await fetch(`${admin.url}/pools/standalone/faults`, { method: 'POST', body: JSON.stringify({ kind: 'connection-reset', method: 'pool.get_all' }) });
    await fetch(`${admin.url}/pools/standalone/faults`, { method: 'DELETE' });
    expect(await ok(sim.masterUrl, 'pool.get_all', [s])).toHaveLength(1);
    expect((await fetch(`${admin.url}/pools/standalone/hosts/xs-solo/power-on`, { method: 'POST' })).status).toBe(409);
    expect((await fetch(`${admin.url}/pools/standalone/hosts/xs-solo/power-off`, { method: 'POST' })).status).toBe(200);
    await until(() => sim.hosts()[0].power === 'off', 'off');
    await expect(rawPost(sim.masterUrl, methodCallXml('pool.get_all', [s]))).rejects.toThrow(/ECONNREFUSED/);
    await fetch(`${admin.url}/pools/standalone/hosts/xs-solo/power-on`, { method: 'POST' });
    await until(() => sim.hosts()[0].power === 'on', 'on', 4000);
    expect(await failureOf(sim.masterUrl, 'pool.get_all', [s])).toEqual(['SESSION_INVALID', s]); // sessions die with the master
  } finally {
    await admin.stop();
    await sim.stop();
  }
});

test('migration fault: VM_MIGRATE_FAILED [vm, src, dst, msg] once, then the retry succeeds', async () => {
  const sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
  try {
    sim.control.injectFault({ kind: 'migration-fails', vm: 'web-01' });
    expect(() => sim.control.injectFault({ kind: 'migration-fails', vm: 'ghost' })).toThrow(/unknown vm "ghost"/);
    const s = await login(sim.masterUrl);
    const vms = await ok(sim.masterUrl, 'VM.get_all_records', [s]);
    const web = Object.keys(vms).find((r) => vms[r].name_label === 'web-01')!;
    const [a1, a2] = sim.hosts().map((h) => h.ref);
    expect(await failureOf(sim.masterUrl, 'VM.pool_migrate', [s, web, a2, { live: 'true' }])).toEqual([
      'VM_MIGRATE_FAILED',
      web,
      a1,
      a2,
      'Simulated migration failure (scenario fault)',
    ]);
    await ok(sim.masterUrl, 'VM.pool_migrate', [s, web, a2, { live: 'true' }]);
    expect(sim.inspect().vms.find((v) => v.name === 'web-01')!.residentOn).toBe('xs-a2');
  } finally {
    await sim.stop();
  }
});

test('GET /pool/xmldbdump streams the database in xapi format; needs a valid session (plain HTTP simulator)', async () => {
  const sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock(), http: true });
  expect(sim.masterUrl).toMatch(/^http:\/\//);
  try {
    const s = await login(sim.masterUrl);
    expect((await fetch(`${sim.masterUrl}/pool/xmldbdump?session_id=OpaqueRef:bad`)).status).toBe(403);
    const res = await fetch(`${sim.masterUrl}/pool/xmldbdump?session_id=${s}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull();
    const xml = await res.text();
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<database><manifest><pair key="schema_major_vsn" value="5"\/>/);
    expect(xml).toContain('<table name="VM">');
    expect(xml).toContain('name__label="web-01"');
    expect(xml).toMatch(/memory__static_max="\d+"/);
    expect(xml).toContain('<table name="task"/>');
    expect(xml).toMatch(/resident_VMs="\('OpaqueRef:[0-9a-f-]+'/);
  } finally {
    await sim.stop();
  }
});

test('a 64-host x 50-VM pool is served; one get_all_records per class reads it', async () => {
  const scenario = generateScenario({ hosts: 64, vmsPerHost: 50, seed: 7 });
  expect(generateScenario({ hosts: 64, vmsPerHost: 50, seed: 7 })).toEqual(scenario);
  const sim = await startSimulator(scenario, { clock: fastClock() });
  try {
    const s = await ok(sim.masterUrl, 'session.login_with_password', ['root', 'generated']);
    // ~20 MB of XML: count records in the raw text (a full XML-RPC decode of it takes the client seconds)
    const raw = await rawPost(sim.masterUrl, methodCallXml('VM.get_all_records', [s]));
    expect(raw.text.match(/<name>is_control_domain<\/name>/g)).toHaveLength(64 * 50 + 64);
    const hosts = await ok(sim.masterUrl, 'host.get_all_records', [s]);
    expect(Object.keys(hosts)).toHaveLength(64);
    expect(sim.stats().calls['VM.get_all_records']).toBe(1);
  } finally {
    await sim.stop();
  }
});
