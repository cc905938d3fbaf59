import { ScaledClock } from '../../src/clock';
import { readSnapshot } from '../../src/inventory';
import { parseScenario, startSimulator, SimPool } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';
import { syntheticScenario, hostEvacuateBaseline } from '../../bench/plan';
import { buildPlan, loadUpgradePaths } from '../../src/planner';

/** The snapshot costs a constant number of XenAPI round trips whatever the pool's size (one per class). */
describe('inventory round trips on a 64-host pool with 50 VMs per host', () => {
  const clock = new ScaledClock(1000);
  let sim: SimPool;
  let client: XenApiClient;
  beforeAll(async () => {
    sim = await startSimulator(parseScenario(syntheticScenario(64, 50)), { clock });
    client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock, requestTimeoutMs: 120_000 });
    await client.login();
  }, 120_000);
  afterAll(async () => {
    await client?.logout().catch(() => undefined);
    await sim?.stop();
  });

  it('reads 64 hosts and 3,200 VMs in one call per class, and plans them', async () => {
    client.resetCallCount();
    const snapshot = await readSnapshot(client, clock);
    expect(client.callCount).toBe(14);
    expect(Object.keys(client.callCounts).sort()).toEqual(
      ['PBD', 'PIF', 'SR', 'VBD', 'VDI', 'VIF', 'VM', 'VM_guest_metrics', 'VM_metrics', 'host', 'host_metrics', 'network', 'pool', 'task'].map((c) => `${c}.get_all_records`).sort(),
    );
    expect(snapshot.hosts).toHaveLength(64);
    expect(snapshot.vms).toHaveLength(3200);
    const plan = buildPlan(snapshot, { pool: sim.name, target: '7.6', mode: 'manual', returnPolicy: 'none', paths: loadUpgradePaths() });
    expect(plan.executable).toBe(true);
    expect(plan.migrations.lowerBound).toBeLessThanOrEqual(plan.migrations.planned);
    // the master's 50 VMs must move twice; every other VM once
    expect(plan.migrations.lowerBound).toBe(3250);
    expect(hostEvacuateBaseline(snapshot, plan.target.platform).moves).toBeGreaterThanOrEqual(plan.migrations.planned);
  }, 120_000);
});
