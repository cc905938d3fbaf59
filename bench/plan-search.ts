/**
 * Planner search benchmark (issue 13): the time to build a plan in memory (no XenAPI: bench/plan.ts measures the read)
 * and what the search did, for the two pools of issue 13 and for 64-host pools, beside the reference measured in the
 * same run: the previous planner's result (four fixed candidate orders, each VM on the upgraded host with the most
 * free memory) and the time of that one fixed-order placement.
 *
 * Pools: the 16-host pool with one large VM and the memory-tight 3-host pool of the issue; 64 hosts × 50 VMs as in
 * bench/plan.ts (uniform: the first candidate meets the bound); 64 hosts × 50 VMs with uneven hosts where nothing meets
 * the bound (every candidate and the local search run: the most work a 64-host plan does); the 16-host shape
 * at 64 hosts; 8 uneven hosts × 24 VMs.
 */
import type { HostInfo, PoolSnapshot, VmInfo } from '../src/domain/types';
import { prng } from '../src/domain/prng';
import { buildPlan, loadUpgradePaths } from '../src/planner';
import { mobilityMap } from '../src/planner/mobility';
import { chooseOrder } from '../src/planner/order';
import { placeVms } from '../src/planner/placement';

export interface PlanSearchRow {
  pool: string;
  hosts: number;
  vms: number;
  outcome: string;
  placements: number;
  nodes: number;
  /** median of the runs, whole buildPlan */
  planMs: number;
  /** one placement in the name order (reference) */
  onePlacementMs: number;
  stops: number;
  planned: number;
  lowerBound: number;
  before: { stops: number; planned: number };
}

const GiB = 1024 ** 3;
const TARGET_PLATFORM = '2.7.0';

/** A 7.1.1 pool on one shared SR: hosts [name, GiB], VMs [host index, GiB]; the first host is the master. */
export function pool(name: string, hosts: number[], vms: Array<[number, number]>): PoolSnapshot {
  const sr = 'OpaqueRef:sr-shared';
  const hostRef = (i: number): string => `OpaqueRef:host-${String(i + 1).padStart(2, '0')}`;
  const vmInfos: VmInfo[] = vms.map(([h, gib], k) => ({
    ref: `OpaqueRef:vm-${String(k + 1).padStart(5, '0')}`,
    uuid: `vm-${k + 1}`,
    name: `vm-${String(k + 1).padStart(5, '0')}`,
    powerState: 'Running',
    residentOn: hostRef(h),
    affinity: null,
    memoryNeeded: gib * GiB,
    disks: [{ vbd: `OpaqueRef:vbd-${k}`, vdi: `OpaqueRef:vdi-${k}`, sr }],
    cds: [],
    toolsVersion: '7.1.0',
    toolsUpToDate: true,
    lacksFeatureMigrate: false,
    hasPciPassthrough: false,
    haPriority: '',
    blockedOperations: [],
  }));
  const hostInfos: HostInfo[] = hosts.map((gib, i) => {
    const resident = vmInfos.filter((v) => v.residentOn === hostRef(i));
    return {
      ref: hostRef(i),
      uuid: `host-${i + 1}`,
      name: `xs-${String(i + 1).padStart(2, '0')}`,
      address: `10.0.0.${i + 1}`,
      isMaster: i === 0,
      live: true,
      enabled: true,
      version: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' },
      apiVersion: { major: 2, minor: 6 },
      memoryTotal: gib * GiB,
      memoryFree: (gib - 1) * GiB - resident.reduce((s, v) => s + v.memoryNeeded, 0),
      residentVms: resident.map((v) => v.ref),
      bootTime: 1_700_000_000,
      sanBoot: false,
      attachedSrs: [sr],
      detachedSrs: [],
    };
  });
  return {
    takenAt: 0,
    pool: { ref: 'OpaqueRef:pool', name, master: hostRef(0), haEnabled: false, rollingUpgradeInProgress: false },
    hosts: hostInfos,
    vms: vmInfos,
    srs: [{ ref: sr, uuid: 'sr', name: 'nfs-shared', type: 'nfs', contentType: 'user', shared: true, attachedHosts: hostInfos.map((h) => h.ref) }],
    tasks: [],
  };
}

export function searchPools(): PoolSnapshot[] {
  const sizes = [2, 4, 8, 4, 2, 6];
  const r = prng(13);
  const rand = (xs: number[]): number => xs[Math.floor(r() * xs.length)]!;
  const perHost = (n: number, vms: (h: number, k: number) => number): Array<[number, number]> =>
    Array.from({ length: n }, (_, h) => Array.from({ length: 50 }, (_, k) => [h, vms(h, k)] as [number, number])).flat();
  return [
    // issue 13: h01 (master) 64 GiB with 12 × 4 GiB, h02 128 GiB with one 48 GiB VM, 14 × 32 GiB with 4 × 4 GiB
    pool('issue-16-hosts', [64, 128, ...Array(14).fill(32)], [...Array.from({ length: 12 }, () => [0, 4] as [number, number]), [1, 48], ...Array.from({ length: 56 }, (_, k) => [2 + Math.floor(k / 4), 4] as [number, number])]),
    // issue 13: 3 hosts, memory-tight
    pool('issue-3-hosts-tight', [16, 32, 32], [[1, 4], [1, 8], [2, 4], [1, 12], [1, 2], [1, 4], [2, 4], [2, 6], [0, 4], [2, 6], [2, 2]]),
    pool('64x50-uniform', Array(64).fill(384), perHost(64, (_, k) => sizes[k % sizes.length]!)),
    // 48 × 2 GiB + 2 × 14 GiB on 128–130 GiB hosts: the master's two large VMs fit nowhere, so nothing meets the bound
    pool('64x50-tight', Array.from({ length: 64 }, (_, i) => 128 + (i % 3)), perHost(64, (_, k) => (k < 48 ? 2 : 14))),
    // the 16-host shape at 64 hosts: 62 small hosts
    pool('64-hosts-one-large-vm', [64, 128, ...Array(62).fill(32)], [...Array.from({ length: 12 }, () => [0, 4] as [number, number]), [1, 48], ...Array.from({ length: 248 }, (_, k) => [2 + Math.floor(k / 4), 4] as [number, number])]),
    pool('8x24-uneven', [16, 24, 20, 16, 24, 16, 20, 24], Array.from({ length: 24 }, (_, k) => [k % 8, rand([2, 4, 6, 8])] as [number, number])),
  ];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function benchPlanSearch(pools: PoolSnapshot[] = searchPools(), runs = 3): PlanSearchRow[] {
  const paths = loadUpgradePaths();
  const rows: PlanSearchRow[] = [];
  for (const s of pools) {
    const mobility = mobilityMap(s);
    const input = { snapshot: s, targetPlatform: TARGET_PLATFORM, mobility, returnPolicy: 'none' as const };
    const byName = [...s.hosts].sort((a, b) => (a.name < b.name ? -1 : 1));
    const nameOrder = [...byName.filter((h) => h.isMaster), ...byName.filter((h) => !h.isMaster)];
    const times: number[] = [];
    const oneTimes: number[] = [];
    let plan;
    for (let i = 0; i < runs; i++) {
      let t = process.hrtime.bigint();
      plan = buildPlan(s, { pool: s.pool.name, target: '7.6', mode: 'manual', returnPolicy: 'none', paths });
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      placeVms({ ...input, order: nameOrder.map((h) => h.ref) });
      oneTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const choice = chooseOrder({ ...input, toUpgrade: s.hosts });
    // the previous planner: four candidate orders, the most free upgraded host, no search
    const load = (h: HostInfo): number => h.memoryTotal - h.memoryFree;
    const others = nameOrder.slice(1);
    const before = [others, [...others].sort((a, b) => load(a) - load(b)), [...others].sort((a, b) => load(b) - load(a)), [...others].sort((a, b) => b.memoryTotal - a.memoryTotal)]
      .map((o) => placeVms({ ...input, order: [nameOrder[0]!, ...o].map((h) => h.ref) }))
      .reduce((a, b) => (b.stops < a.stops || (b.stops === a.stops && b.planned < a.planned) ? b : a));
    rows.push({
      pool: s.pool.name,
      hosts: s.hosts.length,
      vms: s.vms.length,
      outcome: choice.search.outcome,
      placements: choice.search.placements,
      nodes: choice.search.nodes,
      planMs: median(times),
      onePlacementMs: median(oneTimes),
      stops: choice.placement.stops,
      planned: plan!.migrations.planned,
      lowerBound: plan!.migrations.lowerBound,
      before: { stops: before.stops, planned: before.planned },
    });
  }
  return rows;
}

export function formatPlanSearchBench(rows: PlanSearchRow[]): string {
  const head = '| pool | hosts | VMs | search | placements | exact-search steps | build plan (median) | one fixed-order placement (reference) | stops | migrations (lower bound) | previous planner: stops, migrations |';
  const sep = '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${r.pool} | ${r.hosts} | ${r.vms} | ${r.outcome} | ${r.placements} | ${r.nodes} | ${r.planMs.toFixed(0)} ms | ${r.onePlacementMs.toFixed(1)} ms | ${r.stops} | ${r.planned} (${r.lowerBound}) | ${r.before.stops}, ${r.before.planned} |`,
  );
  return ['Planner search: `buildPlan` in memory, the order and placement search (issue 13)', '', head, sep, ...lines].join('\n');
}

if (require.main === module) console.log(formatPlanSearchBench(benchPlanSearch()));
