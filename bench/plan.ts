/**
 * Planner benchmark (issue 3): for pools of 3, 16 and 64 hosts with 50 VMs per host on the simulator, prints
 * the XenAPI round trips and wall time to build the plan, and the live migrations planned, their lower bound,
 * and what evacuating each host with host.evacuate and no planning would cost.
 *
 * The "no planning" baseline replays xapi's host.evacuate on the same model: hosts in XenCenter's order (master
 * first, then by name), every VM of the host sent to an allowed host (enabled, platform version ≥ the source's,
 * SRs attached, enough memory), the one with the most free memory (xapi's approximate bin-packing), with no
 * preference for upgraded hosts, counting every move, including VMs moved twice or more.
 */
import { ScaledClock } from '../src/clock';
import type { PoolSnapshot } from '../src/domain/types';
import { readSnapshot } from '../src/inventory';
import { buildPlan, loadUpgradePaths } from '../src/planner';
import { mobilityMap } from '../src/planner/mobility';
import { placeVms } from '../src/planner/placement';
import { parseScenario, startSimulator } from '../src/sim';
import type { ScenarioInput } from '../src/sim';
import { XenApiClient } from '../src/xenapi';

export interface PlanBenchRow {
  hosts: number;
  vms: number;
  roundTrips: number;
  readMs: number;
  planMs: number;
  planned: number;
  lowerBound: number;
  hostEvacuate: number;
  hostEvacuateMovedTwice: number;
}

const VM_SIZES_GIB = [2, 4, 8, 4, 2, 6];

/** A pool of `hosts` 7.1.1 hosts, `vmsPerHost` running VMs each on shared NFS; N−1 hosts hold every VM (R2.2). */
export function syntheticScenario(hosts: number, vmsPerHost: number): ScenarioInput {
  const name = (i: number): string => `xs-${String(i + 1).padStart(2, '0')}`;
  return {
    pool: { name: `bench-${hosts}`, password: 'bench' },
    hosts: Array.from({ length: hosts }, (_, i) => ({
      name: name(i),
      master: i === 0,
      productVersion: '7.1.1',
      platformVersion: '2.1.1',
      build: '137272c',
      memoryGiB: 384,
    })),
    srs: [{ name: 'nfs-shared', type: 'nfs', shared: true, sizeGiB: 100000 }],
    vms: Array.from({ length: hosts * vmsPerHost }, (_, k) => ({
      name: `vm-${String(k + 1).padStart(4, '0')}`,
      host: name(Math.floor(k / vmsPerHost)),
      memoryGiB: VM_SIZES_GIB[k % VM_SIZES_GIB.length],
      disks: [{ sr: 'nfs-shared', sizeGiB: 20 }],
    })),
  };
}

/** host.evacuate with no planning (see the header comment). */
export function hostEvacuateBaseline(snapshot: PoolSnapshot, targetPlatform: string): { moves: number; movedTwice: number } {
  const byName = [...snapshot.hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const order = [...byName.filter((h) => h.isMaster), ...byName.filter((h) => !h.isMaster)].map((h) => h.ref);
  const r = placeVms({ snapshot, order, targetPlatform, mobility: mobilityMap(snapshot), returnPolicy: 'none', strategy: 'greedy' });
  return { moves: r.planned, movedTwice: r.movedTwice };
}

export async function benchPlan(sizes: number[] = [3, 16, 64], vmsPerHost = 50, print = true): Promise<PlanBenchRow[]> {
  const paths = loadUpgradePaths();
  const rows: PlanBenchRow[] = [];
  for (const hosts of sizes) {
    const clock = new ScaledClock(1000);
    const sim = await startSimulator(parseScenario(syntheticScenario(hosts, vmsPerHost)), { clock });
    const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock });
    try {
      await client.login();
      client.resetCallCount();
      const t0 = process.hrtime.bigint();
      const snapshot = await readSnapshot(client, clock);
      const t1 = process.hrtime.bigint();
      const plan = buildPlan(snapshot, { pool: sim.name, target: '7.6', mode: 'manual', returnPolicy: 'none', paths });
      const t2 = process.hrtime.bigint();
      const baseline = hostEvacuateBaseline(snapshot, plan.target.platform);
      rows.push({
        hosts,
        vms: snapshot.vms.length,
        roundTrips: client.callCount,
        readMs: Number(t1 - t0) / 1e6,
        planMs: Number(t2 - t1) / 1e6,
        planned: plan.migrations.planned,
        lowerBound: plan.migrations.lowerBound,
        hostEvacuate: baseline.moves,
        hostEvacuateMovedTwice: baseline.movedTwice,
      });
    } finally {
      await client.logout().catch(() => undefined);
      await sim.stop();
    }
  }
  if (print) console.log(formatPlanBench(rows));
  return rows;
}

export function formatPlanBench(rows: PlanBenchRow[]): string {
  const head = '| hosts | VMs | XenAPI round trips | read snapshot | build plan | migrations planned | lower bound | host.evacuate, no planning (VMs moved ≥ 2×) |';
  const sep = '|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${r.hosts} | ${r.vms} | ${r.roundTrips} | ${r.readMs.toFixed(0)} ms | ${r.planMs.toFixed(0)} ms | ${r.planned} | ${r.lowerBound} | ${r.hostEvacuate} (${r.hostEvacuateMovedTwice}) |`,
  );
  return ['Planner: `xsupgrade plan` on simulated pools (50 VMs per host)', '', head, sep, ...lines].join('\n');
}

if (require.main === module) {
  benchPlan().catch((e) => {
    console.error(`bench/plan: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
