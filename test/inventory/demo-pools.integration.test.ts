import { resolve } from 'node:path';
import { ScaledClock } from '../../src/clock';
import type { Plan } from '../../src/domain/types';
import { planLivePool } from '../../src/inventory/live-plan';
import { loadUpgradePaths } from '../../src/planner';
import { loadScenario, startSimulator } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';

const PATHS = loadUpgradePaths();
const demo = (f: string): string => resolve(__dirname, '../../manifests/demo', f);

async function planDemo(file: string, mode: 'automatic' | 'manual' | 'update', returnPolicy: 'none' | 'original' = 'none'): Promise<Plan> {
  const clock = new ScaledClock(1000);
  const scenario = loadScenario(demo(file));
  const sim = await startSimulator(scenario, { clock });
  const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock });
  try {
    await client.login();
    const repositoryUrl = scenario.repositories.find((r) => r.reachable)?.url;
    const { plan } = await planLivePool(client, { pool: sim.name, target: '7.6', mode, returnPolicy, paths: PATHS, repositoryUrl }, clock);
    return plan;
  } finally {
    await client.logout().catch(() => undefined);
    await sim.stop();
  }
}
const ids = (p: Plan): string[] => p.prechecks.map((c) => c.id);

describe('the demo pools plan correctly (real client, simulator)', () => {
  it('pool-b: 7.4/7.5 → 7.6 with the update ISO (R1.3); the HVM guest without drivers is shut down', async () => {
    const p = await planDemo('pool-b.yaml', 'update', 'original');
    expect(p.executable).toBe(true);
    expect(p.prechecks.filter((c) => c.id === 'version-path').map((c) => c.rule)).toEqual(['R1.3', 'R1.3']);
    expect(p.hosts[0]).toMatchObject({ name: 'xs-b1', isMaster: true });
    expect(ids(p)).toEqual(expect.arrayContaining(['update-mode', 'cd-inserted', 'vm-lacks-feature']));
    expect(p.prechecks.find((c) => c.id === 'vm-lacks-feature')!.subjects.vms).toEqual(['legacy-hvm']);
    expect(p.steps.some((s) => s.kind === 'move-back')).toBe(true);
    // in automatic mode the same pool is refused: 7.4/7.5 take the update ISO
    const auto = await planDemo('pool-b.yaml', 'automatic');
    expect(auto.prechecks.find((c) => c.id === 'upgrade-mode')).toMatchObject({ severity: 'blocker', rule: 'R1.3' });
  });

  it('standalone: R6, every running VM shut down (no suspend SR: local storage only), nothing migrated', async () => {
    const p = await planDemo('standalone.yaml', 'automatic');
    expect(p.executable).toBe(true);
    expect(p.migrations).toEqual({ planned: 0, lowerBound: 0 });
    const st = p.prechecks.find((c) => c.id === 'standalone')!;
    expect(st).toMatchObject({ rule: 'R6.1', fix: { kind: 'shutdown-vms' } });
    expect(st.subjects.vms.sort()).toEqual(['fileserver', 'printserver']);
    // caught up front (R6.1): the run must not meet VM_NO_SUSPEND_SR mid-host
    expect(p.prechecks.find((c) => c.id === 'no-suspend-sr')).toMatchObject({ rule: 'R6.1', severity: 'warning', subjects: { vms: ['fileserver', 'printserver'] } });
    expect(p.steps.find((s) => s.kind === 'stop-vms')!.description).toMatch(/^Shut down fileserver, printserver \(no suspend SR\)/);
    expect(ids(p)).toContain('standalone-host');
    expect(p.steps.map((s) => s.kind)).toEqual(['backup', 'disable', 'evacuate', 'approval', 'stop-vms', 'upgrade', 'wait-host', 'enable', 'restore-vms', 'pool-finish']);
  });
});
