import type { HostInfo, PoolSnapshot, Ref } from '../domain/types';
import { compareVersions } from '../domain/versions';
import { cpuCompatible, cpuWords, missingNetworks } from './feasibility';
import type { Mobility } from './mobility';
import { decisionKey, type Decision } from './placement';

/**
 * Exact search over host orders and VM targets (issue 13), for pools small enough to search: branch and bound with
 * memoised states and a node budget, so it always ends after a bounded amount of work and is deterministic (the
 * budget counts nodes, never time).
 *
 * The moves are those of placement.ts: the master first (R3.2); when a host is evacuated each of its running VMs is
 * migrated to a host that is live and enabled (R3.3; a host upgraded earlier is enabled again), on the same or a
 * newer platform than the evacuated host (R3.4), with the SRs of its disks (R2.5), its networks, its CPU features and
 * enough free memory (R2.2); or stopped, and started again on its host once that is upgraded (R3.7). A VM that
 * cannot migrate (mobility) is always stopped; any other VM is stopped only when, after the host's other VMs have
 * moved, no host can receive it. The best plan has the fewest stops, then the fewest live migrations (policy none:
 * moves back are not modelled, the caller replays them).
 *
 * States between two evacuations are memoised in a canonical form: the set of upgraded hosts; for every host still
 * to upgrade, the kinds (memory, mobility, allowed hosts) of the VMs waiting on it besides its own; for every other
 * host, its free memory (VMs there never move again). A state reached again at no lower cost is not searched twice.
 * The bound: every VM still on a host to upgrade costs at least one more migration (or a stop when it cannot move).
 */

/** Cost: stops first, then migrations. */
export interface SearchCost {
  stops: number;
  migrations: number;
}

export interface ExactInput {
  snapshot: PoolSnapshot;
  toUpgrade: HostInfo[];
  targetPlatform: string;
  mobility: Map<Ref, Mobility>;
}

export interface ExactLimits {
  /** most hosts in the pool (bitmask states) */
  hosts: number;
  /** most running VMs on the hosts to upgrade */
  vms: number;
  /** nodes (states and per-VM choices) searched before giving up with the best plan found so far */
  nodes: number;
}

/** 5 hosts and 12 VMs are searched to the end well within the budget (test/planner/optimality.test.ts). */
export const EXACT_LIMITS: ExactLimits = { hosts: 8, vms: 24, nodes: 150_000 };

export interface ExactOutcome {
  /** a plan strictly better than the incumbent, when one was found */
  found?: { order: Ref[]; decision: Decision; cost: SearchCost };
  /** every branch was searched or cut by the bound: no plan is better than the incumbent or `found` */
  complete: boolean;
  /** nodes searched */
  nodes: number;
}

interface Model {
  n: number;
  hostRefs: Ref[];
  /** evacuated in the search: not yet on the target */
  toUpgrade: boolean[];
  live: boolean[];
  enabled: boolean[];
  rank: number[];
  targetRank: number;
  baseFree: number[];
  master: number;
  vmRefs: Ref[];
  mem: number[];
  home: number[];
  mobile: boolean[];
  /** bit t: host t has the VM's SRs, networks and CPU features */
  allowed: number[];
  /** same kind (memory, mobility, allowed hosts): interchangeable */
  kind: number[];
}

/** The model of the pool the search runs on, or undefined when the pool is beyond `limits`. */
function buildModel(input: ExactInput, limits: ExactLimits): Model | undefined {
  const { snapshot, toUpgrade, targetPlatform, mobility } = input;
  const hosts = snapshot.hosts;
  const n = hosts.length;
  if (n < 2 || n > Math.min(limits.hosts, 30)) return undefined;
  const index = new Map(hosts.map((h, i) => [h.ref, i]));
  const upgrading = new Set(toUpgrade.map((h) => h.ref));
  const platforms = [...new Set([...hosts.map((h) => h.version.platform), targetPlatform])].sort(compareVersions);
  const rankOf = (p: string): number => platforms.findIndex((q) => compareVersions(q, p) === 0);
  const cpu = hosts.map((h) => (h.cpuFeatures ? cpuWords(h.cpuFeatures) : null));
  const nets = hosts.map((h) => (h.networks ? new Set(h.networks) : null));
  const srs = hosts.map((h) => new Set(h.attachedSrs));
  const model: Model = {
    n,
    hostRefs: hosts.map((h) => h.ref),
    toUpgrade: hosts.map((h) => upgrading.has(h.ref)),
    live: hosts.map((h) => h.live),
    enabled: hosts.map((h) => h.enabled),
    rank: hosts.map((h) => rankOf(h.version.platform)),
    targetRank: rankOf(targetPlatform),
    baseFree: hosts.map((h) => h.memoryFree),
    master: hosts.findIndex((h) => h.isMaster && upgrading.has(h.ref)),
    vmRefs: [],
    mem: [],
    home: [],
    mobile: [],
    allowed: [],
    kind: [],
  };
  const kinds = new Map<string, number>();
  for (const vm of snapshot.vms) {
    // placement.ts's VMs: running on a host of the pool (a Paused VM is never placed); those on hosts already on the
    // target never move
    const home = vm.residentOn === null ? undefined : index.get(vm.residentOn);
    if (home === undefined || vm.powerState === 'Paused' || !model.toUpgrade[home]) continue;
    let allowed = 0;
    hosts.forEach((_, t) => {
      const ok =
        vm.disks.every((d) => srs[t]!.has(d.sr)) && missingNetworks(vm, nets[t]!).length === 0 && (!vm.cpuFlags || !cpu[t] || cpuCompatible(vm.cpuFlags, cpu[t]!));
      if (ok) allowed |= 1 << t;
    });
    const mobile = mobility.get(vm.ref)?.canMigrate ?? false;
    const kindKey = `${vm.memoryNeeded}/${mobile}/${allowed}`;
    if (!kinds.has(kindKey)) kinds.set(kindKey, kinds.size);
    model.vmRefs.push(vm.ref);
    model.mem.push(vm.memoryNeeded);
    model.home.push(home);
    model.mobile.push(mobile);
    model.allowed.push(allowed);
    model.kind.push(kinds.get(kindKey)!);
  }
  if (model.vmRefs.length > limits.vms) return undefined;
  return model;
}

/**
 * Searches for a plan strictly better than `incumbent` (the best the heuristics found). Returns undefined when the
 * pool is beyond the limits (nothing searched).
 */
export function exactSearch(input: ExactInput, incumbent: SearchCost | undefined, limits: ExactLimits = EXACT_LIMITS): ExactOutcome | undefined {
  const m = buildModel(input, limits);
  if (!m) return undefined;
  const { n, mem, mobile, allowed, kind, home } = m;
  const V = mem.length;
  // a stop outweighs every possible migration: each VM moves at most once per host
  const STOP = V * n + 1;
  const allHosts = m.toUpgrade.reduce((bits, up, h) => (up ? bits | (1 << h) : bits), 0);
  const loc = new Int32Array(V); // host the VM waits on (a host to upgrade), or -1: stopped or on a final host
  for (let v = 0; v < V; v++) loc[v] = home[v]!;
  const free = Float64Array.from(m.baseFree);
  let upgraded = 0;
  /** every VM still on a host to upgrade costs at least this much more */
  let rest = 0;
  for (let v = 0; v < V; v++) rest += mobile[v] ? 1 : STOP;
  let best = incumbent ? incumbent.stops * STOP + incumbent.migrations : Infinity;
  let found: ExactOutcome['found'];
  let nodes = 0;
  let aborted = false;
  const memo = new Map<string, number>();
  const order: number[] = [];
  const choices: Array<[src: number, vm: number, target: number]> = [];

  const final = (t: number): boolean => !m.toUpgrade[t] || (upgraded & (1 << t)) !== 0;
  const eligible = (t: number): boolean => ((upgraded & (1 << t)) !== 0 ? m.live[t]! : m.live[t]! && m.enabled[t]!);
  const rankNow = (t: number): number => ((upgraded & (1 << t)) !== 0 ? m.targetRank : m.rank[t]!);
  /** can host t receive VM v evacuated from src right now */
  const fits = (v: number, src: number, t: number): boolean =>
    t !== src && (allowed[v]! & (1 << t)) !== 0 && eligible(t) && rankNow(t) >= m.rank[src]! && free[t]! >= mem[v]!;

  const stateKey = (): string => {
    const waiting: number[][] = Array.from({ length: n }, () => []);
    for (let v = 0; v < V; v++) if (loc[v]! >= 0 && loc[v] !== home[v]) waiting[loc[v]!]!.push(kind[v]!);
    let key = `${upgraded}`;
    for (let h = 0; h < n; h++) key += final(h) ? `|${free[h]}` : `|${waiting[h]!.sort((a, b) => a - b).join(',')}`;
    return key;
  };

  const record = (g: number): void => {
    best = g;
    const decision: Decision = new Map();
    for (const [src, v, t] of choices) decision.set(decisionKey(m.hostRefs[src]!, m.vmRefs[v]!), t < 0 ? null : m.hostRefs[t]!);
    found = { order: order.map((h) => m.hostRefs[h]!), decision, cost: { stops: Math.floor(g / STOP), migrations: g % STOP } };
  };

  const tick = (): boolean => {
    if (++nodes > limits.nodes) aborted = true;
    return aborted;
  };

  const nextHost = (g: number): void => {
    if (tick()) return;
    if (upgraded === allHosts) {
      if (g < best) record(g);
      return;
    }
    if (g + rest >= best) return;
    const key = stateKey();
    const seen = memo.get(key);
    if (seen !== undefined && seen <= g) return;
    memo.set(key, g);
    const load = (h: number): number => {
      let s = 0;
      for (let v = 0; v < V; v++) if (loc[v] === h) s += mem[v]!;
      return s;
    };
    const candidates =
      m.master >= 0 && (upgraded & (1 << m.master)) === 0
        ? [m.master] // R3.2
        : Array.from({ length: n }, (_, h) => h)
            .filter((h) => !final(h))
            .map((h) => [h, load(h)] as const)
            .sort((a, b) => a[1] - b[1] || a[0] - b[0])
            .map(([h]) => h);
    for (const src of candidates) {
      const residents: number[] = [];
      for (let v = 0; v < V; v++) if (loc[v] === src) residents.push(v);
      // largest first (as placement.ts); VMs of one kind next to each other for the symmetry cut below
      residents.sort((a, b) => mem[b]! - mem[a]! || kind[a]! - kind[b]! || a - b);
      order.push(src);
      evacuate(src, residents, 0, g, -1, []);
      order.pop();
      if (aborted) return;
    }
  };

  /**
   * Chooses a target (or a stop) for residents[i..]. `last` is the choice of the previous resident (host index, n for
   * a stop): VMs of one kind are interchangeable, so their choices are taken in non-decreasing order only.
   */
  const evacuate = (src: number, residents: number[], i: number, g: number, last: number, stopped: number[]): void => {
    if (tick() || g + rest >= best) return;
    if (i === residents.length) {
      // a VM is stopped only when no host can receive it now (placement.ts stops nothing that could move)
      for (const v of stopped) for (let t = 0; t < n; t++) if (fits(v, src, t)) return;
      upgraded |= 1 << src;
      nextHost(g);
      upgraded &= ~(1 << src);
      return;
    }
    const v = residents[i]!;
    const floor = i > 0 && kind[residents[i - 1]!] === kind[v] ? last : -1;
    if (!mobile[v]) {
      loc[v] = -1;
      rest -= STOP;
      choices.push([src, v, -1]);
      evacuate(src, residents, i + 1, g + STOP, n, stopped);
      choices.pop();
      rest += STOP;
      loc[v] = src;
      return;
    }
    const targets: number[] = [];
    for (let t = Math.max(0, floor); t < n; t++) if (fits(v, src, t)) targets.push(t);
    // hosts on the target first, fullest first (best fit); then hosts upgraded later, most free first
    targets.sort((a, b) => Number(final(b)) - Number(final(a)) || (final(a) ? free[a]! - free[b]! : free[b]! - free[a]!) || a - b);
    for (const t of targets) {
      free[t] -= mem[v]!;
      free[src] += mem[v]!;
      const done = final(t);
      loc[v] = done ? -1 : t;
      if (done) rest -= 1;
      choices.push([src, v, t]);
      evacuate(src, residents, i + 1, g + 1, t, stopped);
      choices.pop();
      if (done) rest += 1;
      loc[v] = src;
      free[src] -= mem[v]!;
      free[t] += mem[v]!;
      if (aborted) return;
    }
    loc[v] = -1;
    rest -= 1;
    choices.push([src, v, -1]);
    stopped.push(v);
    evacuate(src, residents, i + 1, g + STOP, n, stopped);
    stopped.pop();
    choices.pop();
    rest += 1;
    loc[v] = src;
  };

  nextHost(0);
  return { ...(found ? { found } : {}), complete: !aborted, nodes: Math.min(nodes, limits.nodes) };
}
