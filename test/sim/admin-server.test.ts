/** The simulator's admin HTTP API as the sandbox side panel uses it (ported from the sandbox's former copy). */
import { join } from 'node:path';
import { AdminServer, SimPool, startAdminServer, startSimulator } from '../../src/sim';
import { fastClock, login, methodCallXml, ok, until } from './helpers';

describe('admin API for the sandbox side panel (real simulator)', () => {
  let sim: SimPool;
  let admin: AdminServer;
  beforeAll(async () => {
    sim = await startSimulator(join(__dirname, '../../manifests/demo/pool-a.yaml'), { clock: fastClock(1000) });
    admin = await startAdminServer([sim]);
  });
  afterAll(async () => {
    await admin.stop();
    await sim.stop();
  });
  const post = async (path: string, body: unknown = {}) => {
    const r = await fetch(admin.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const hostView = (name: string) => sim.hosts().find((h) => h.name === name)!;

  it('lists pools with host state, version, role, address and membership', async () => {
    const pools = (await (await fetch(`${admin.url}/pools`)).json()) as Array<{ name: string; masterUrl: string; hosts: Array<Record<string, unknown>> }>;
    expect(pools.map((p) => [p.name, p.masterUrl])).toEqual([['pool-a', sim.masterUrl]]);
    expect(pools[0].hosts.map((h) => [h.name, h.role, h.productVersion, h.power, h.enabled, h.inPool])).toEqual([
      ['xs-a1', 'master', '7.1.1', 'on', true, true],
      ['xs-a2', 'slave', '7.1.1', 'on', true, true],
      ['xs-a3', 'slave', '7.1.1', 'on', true, true],
    ]);
    expect(pools[0].hosts.every((h) => /^127\.\d+\.\d+\.\d+$/.test(String(h.address)))).toBe(true);
  });

  it('powers hosts off and on through the simulator control', async () => {
    expect((await post('/pools/pool-a/hosts/xs-a3/power-off')).status).toBe(200);
    await until(() => hostView('xs-a3').power === 'off', 'off');
    expect((await post('/pools/pool-a/hosts/xs-a3/power-on')).status).toBe(200);
    expect(hostView('xs-a3').power).not.toBe('off');
    await until(() => hostView('xs-a3').power === 'on', 'on', 4000);
  });

  it('validates faults with the simulator schema, naming the field; injects and clears them', async () => {
    expect(await post('/pools/pool-a/faults', { kind: 'install-fails' })).toEqual({ status: 400, body: { error: 'fault.host: required for kind install-fails' } });
    expect(await post('/pools/pool-a/faults', { kind: 'install-fails', host: 'xs-a3' })).toEqual({
      status: 200,
      body: { ok: true, fault: { kind: 'install-fails', host: 'xs-a3', when: 'before', times: 1 } },
    });
    expect((await post('/pools/pool-a/faults', { kind: 'install-fails', host: 'xs-q' })).status).toBe(409);
    expect((await fetch(`${admin.url}/pools/pool-a/faults`, { method: 'DELETE' })).status).toBe(200);
  });

  it('injects the real-pool faults (issue 12): api-error, pbd-plug-fails, emergency-error, validated the same way', async () => {
    expect(await post('/pools/pool-a/faults', { kind: 'api-error', method: 'VM.clean_shutdown' })).toEqual({ status: 400, body: { error: 'fault.code: required for kind api-error' } });
    expect(await post('/pools/pool-a/faults', { kind: 'emergency-error', host: 'xs-a2', code: 'HOST_IS_SLAVE' })).toMatchObject({ status: 400 });
    expect((await post('/pools/pool-a/faults', { kind: 'pbd-plug-fails', host: 'xs-a2', sr: 'no-such-sr' })).status).toBe(409);
    expect(await post('/pools/pool-a/faults', { kind: 'api-error', method: 'VM.clean_shutdown', vm: 'web-01', code: 'VM_SHUTDOWN_TIMEOUT', params: ['x', '1200'] })).toMatchObject({ status: 200 });
    expect((await post('/pools/pool-a/faults', { kind: 'pbd-plug-fails', host: 'xs-a2', sr: 'nfs-shared' })).status).toBe(200);
    expect((await post('/pools/pool-a/faults', { kind: 'emergency-error', host: 'xs-a3', code: 'HOST_UNKNOWN_TO_MASTER' })).status).toBe(200);
    // the api-error fault is live: the next clean shutdown of web-01 fails with it
    const s = await login(sim.masterUrl, 'root', 'xenroot-demo');
    const web = (await ok(sim.masterUrl, 'VM.get_by_name_label', [s, 'web-01']))[0];
    const r = await fetch(sim.masterUrl, { method: 'POST', body: methodCallXml('VM.clean_shutdown', [s, web]) });
    expect(await r.text()).toContain('VM_SHUTDOWN_TIMEOUT');
    expect((await fetch(`${admin.url}/pools/pool-a/faults`, { method: 'DELETE' })).status).toBe(200);
  });

  it('answers unknown pools, hosts and routes with 404 and what is known; bad JSON with 400', async () => {
    expect(await post('/pools/pool-z/hosts/xs-a3/power-off')).toEqual({ status: 404, body: { error: 'unknown pool "pool-z" (known: pool-a)' } });
    expect(await post('/pools/pool-a/hosts/xs-z9/power-off')).toEqual({
      status: 404,
      body: { error: 'unknown host "xs-z9" in pool pool-a (known: xs-a1, xs-a2, xs-a3)' },
    });
    expect((await post('/pools/pool-a/hosts/xs-a3/explode')).status).toBe(404);
    expect((await fetch(`${admin.url}/nothing`)).status).toBe(404);
    const bad = await fetch(`${admin.url}/pools/pool-a/faults`, { method: 'POST', body: '{not json' });
    expect([bad.status, await bad.json()]).toEqual([400, { error: 'body: expected JSON' }]);
    expect((await post('/pools/pool-a/hosts/xs-a2/reinstall', { version: 7 })).status).toBe(400);
  });

  it('reinstall (R4.2): refused for the master and a running member; a slave that is off comes back stand-alone at its address', async () => {
    const master = await post('/pools/pool-a/hosts/xs-a1/reinstall');
    expect(master.status).toBe(409);
    expect(String(master.body.error)).toMatch(/master.*R4\.1/);
    const running = await post('/pools/pool-a/hosts/xs-a2/reinstall');
    expect(running.status).toBe(409);
    expect(String(running.body.error)).toMatch(/running as a member/);

    const s = await login(sim.masterUrl);
    const a2 = hostView('xs-a2');
    expect((await post('/pools/pool-a/hosts/xs-a2/power-off')).status).toBe(200);
    await until(() => hostView('xs-a2').power === 'off', 'xs-a2 off', 4000);
    const r = await post('/pools/pool-a/hosts/xs-a2/reinstall');
    // a fresh install answers with a NEW certificate (what the host's console shows, for the forget & rejoin check)
    expect(r).toEqual({ status: 200, body: { ok: true, address: a2.address, url: a2.url, fingerprint256: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/) } });
    expect((r.body as { fingerprint256: string }).fingerprint256).not.toBe(a2.fingerprint256);
    expect(hostView('xs-a2').fingerprint256).toBe((r.body as { fingerprint256: string }).fingerprint256);
    // it answers at once, as a stand-alone host; the pool still lists its stale record until it is forgotten
    const fresh = await login(a2.url);
    expect(await ok(a2.url, 'host.get_all', [fresh])).toHaveLength(1);
    expect(await ok(sim.masterUrl, 'host.get_name_label', [s, a2.ref])).toBe('xs-a2');
    expect(hostView('xs-a2')).toMatchObject({ inPool: false, power: 'on', productVersion: '7.6.0' });
  });
});
