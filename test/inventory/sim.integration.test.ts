import { resolve } from 'node:path';
import { ScaledClock } from '../../src/clock';
import { readSnapshot } from '../../src/inventory';
import { planLivePool } from '../../src/inventory/live-plan';
import { loadUpgradePaths } from '../../src/planner';
import { startSimulator, SimPool } from '../../src/sim';
import { RECORD_CLASSES, XenApiClient } from '../../src/xenapi';

const PATHS = loadUpgradePaths();
const DEMO = resolve(__dirname, '../../manifests/demo');
const REPO = 'http://repo.example.com/xenserver/7.6/';

async function connect(sim: SimPool, clock: ScaledClock): Promise<XenApiClient> {
  const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock });
  await client.login();
  client.resetCallCount();
  return client;
}

describe('planning the demo pool through the real client and simulator', () => {
  const clock = new ScaledClock(1000);
  let sim: SimPool;
  let client: XenApiClient;
  beforeAll(async () => {
    sim = await startSimulator(resolve(DEMO, 'pool-a.yaml'), { clock });
    client = await connect(sim, clock);
  });
  afterAll(async () => {
    await client?.logout().catch(() => undefined);
    await sim?.stop();
  });

  it('reads the pool in exactly one get_all_records call per class', async () => {
    client.resetCallCount();
    const s = await readSnapshot(client, clock);
    expect(client.callCount).toBe(RECORD_CLASSES.length);
    expect(Object.values(client.callCounts).every((n) => n === 1)).toBe(true);
    expect(s.hosts.map((h) => h.name)).toEqual(['xs-a1', 'xs-a2', 'xs-a3']);
    expect(s.hosts.find((h) => h.isMaster)!.name).toBe('xs-a1');
    expect(s.pool.haEnabled).toBe(true);
    expect(s.vms.filter((v) => v.powerState === 'Running')).toHaveLength(11);
    expect(s.vms.find((v) => v.name === 'build-agent')!.cds[0]).toMatchObject({ empty: false, isoName: 'tools-7.1.iso' });
    // memory as xapi computes it: every host has room left
    for (const h of s.hosts) expect(h.memoryFree).toBeGreaterThan(0);
  });

  it('plans pool-a → 7.6 (automatic): executable, master first, HA/CD/local-storage warnings with fixes', async () => {
    const { plan } = await planLivePool(client, { pool: 'pool-a', target: '7.6', mode: 'automatic', returnPolicy: 'none', paths: PATHS, repositoryUrl: REPO }, clock);
    expect(plan.prechecks.filter((p) => p.severity === 'blocker')).toEqual([]);
    expect(plan.executable).toBe(true);
    expect(plan.hosts[0]).toMatchObject({ name: 'xs-a1', isMaster: true });
    const ids = plan.prechecks.map((p) => p.id);
    expect(ids).toEqual(expect.arrayContaining(['ha-enabled', 'cd-inserted', 'vm-local-storage', 'version-path', 'repository', 'backup', 'tools']));
    expect(plan.prechecks.find((p) => p.id === 'cd-inserted')!.message).toContain('build-agent has ISO "tools-7.1.iso"');
    expect(plan.prechecks.find((p) => p.id === 'vm-local-storage')!.subjects).toEqual({ hosts: ['xs-a2'], vms: ['vm-licence-srv'] });
    expect(plan.toolsUpgrade).toEqual(expect.arrayContaining(['db-01', 'mail-01']));
    expect(plan.migrations.planned).toBeGreaterThanOrEqual(plan.migrations.lowerBound);
  });

  it('an unreachable repository is a blocker carrying the plugin error (R3.9)', async () => {
    const { plan } = await planLivePool(
      client,
      { pool: 'pool-a', target: '7.6', mode: 'automatic', returnPolicy: 'none', paths: PATHS, repositoryUrl: 'http://repo.example.com/xenserver/broken/' },
      clock,
    );
    const repo = plan.prechecks.find((p) => p.id === 'repository')!;
    expect(repo).toMatchObject({ severity: 'blocker', rule: 'R3.9', subjects: { hosts: ['xs-a1', 'xs-a2', 'xs-a3'] } });
    expect(repo.message).toContain('INVALID_URL');
    expect(plan.executable).toBe(false);
  });

  it('the same pool state gives the same plan id', async () => {
    const a = await planLivePool(client, { pool: 'pool-a', target: '7.6', mode: 'manual', returnPolicy: 'none', paths: PATHS }, clock);
    const b = await planLivePool(client, { pool: 'pool-a', target: '7.6', mode: 'manual', returnPolicy: 'none', paths: PATHS }, clock);
    expect(b.plan.id).toBe(a.plan.id);
  });
});
