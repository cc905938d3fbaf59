import { join } from 'node:path';
import { ScaledClock } from '../../src/clock';
import { SimPool, startSimulator } from '../../src/sim';
import { SimAdminServer, startSimAdminServer } from '../../src/sandbox/sim-admin';

describe('simulator admin API for the side panel (real simulator)', () => {
  let sim: SimPool;
  let admin: SimAdminServer;
  beforeAll(async () => {
    sim = await startSimulator(join(__dirname, '../../manifests/demo/pool-a.yaml'), { clock: new ScaledClock(1000) });
    admin = await startSimAdminServer([sim]);
  });
  afterAll(async () => {
    await admin.stop();
    await sim.stop();
  });
  const post = async (path: string, body: unknown = {}) => {
    const r = await fetch(admin.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it('lists pools with host state, version, role and address', async () => {
    const pools = (await (await fetch(`${admin.url}/pools`)).json()) as Array<{ name: string; hosts: Array<Record<string, unknown>> }>;
    expect(pools.map((p) => p.name)).toEqual(['pool-a']);
    expect(pools[0].hosts.map((h) => [h.name, h.role, h.productVersion, h.power])).toEqual([
      ['xs-a1', 'master', '7.1.1', 'on'],
      ['xs-a2', 'slave', '7.1.1', 'on'],
      ['xs-a3', 'slave', '7.1.1', 'on'],
    ]);
  });

  it('powers hosts off and on through the simulator control', async () => {
    expect((await post('/pools/pool-a/hosts/xs-a3/power-off')).status).toBe(200);
    expect(sim.hosts().find((h) => h.name === 'xs-a3')!.power).toBe('off');
    expect((await post('/pools/pool-a/hosts/xs-a3/power-on')).status).toBe(200);
    expect(sim.hosts().find((h) => h.name === 'xs-a3')!.power).not.toBe('off');
  });

  it('validates faults with the simulator schema, naming the field', async () => {
    expect(await post('/pools/pool-a/faults', { kind: 'install-fails' })).toEqual({ status: 400, body: { error: 'host: required for kind install-fails' } });
    expect((await post('/pools/pool-a/faults', { kind: 'install-fails', host: 'xs-a3' })).status).toBe(200);
  });

  it('answers unknown pools, hosts and routes with 404 and what is known', async () => {
    expect(await post('/pools/pool-z/hosts/xs-a3/power-off')).toEqual({ status: 404, body: { error: 'unknown pool pool-z (known: pool-a)' } });
    expect((await post('/pools/pool-a/hosts/xs-z9/power-off')).status).toBe(404);
    expect((await post('/pools/pool-a/hosts/xs-a3/explode')).status).toBe(404);
  });

  it('passes on the simulator refusing to reinstall a host that is still a pool member (R4.2: forget first)', async () => {
    const r = await post('/pools/pool-a/hosts/xs-a2/reinstall');
    expect(r.status).toBe(409);
    expect(String(r.body.error)).toContain('forget it first');
  });
});
