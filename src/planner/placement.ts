import type { HostInfo, Migration, PoolSnapshot, Ref, ReturnPolicy, VmInfo, VmStop } from '../domain/types';
import { compareVersions } from '../domain/versions';
import { stopActionFor, vmMobility, type Mobility } from './mobility';
import { cpuCompatible, cpuWords, missingNetworks } from './feasibility';
import { suspendSrFor } from './suspend';

/**
 * VM placement for a rolling upgrade: replays the host order on a model of the pool and gives every running VM
 * of each host a target at the moment that host is evacuated.
 *
 * The model at the moment host H (k-th in the order) is evacuated:
 *   - hosts earlier in the order are upgraded (platform = target) and enabled again;
 *   - H is disabled (never a target); hosts later in the order still run their old version;
 *   - hosts not live or not enabled in the snapshot are never targets (until their own upgrade re-enables them).
 * A VM may go to host T only if T's platform version ≥ H's (R3.4: never from an upgraded host to an older one;
 * xapi refuses with NOT_SUPPORTED_DURING_UPGRADE), T has an attached PBD for every SR of its disks (R2.5,
 * VM_REQUIRES_SR) and T has enough free memory as xapi computes it (R2.2, HOST_NOT_ENOUGH_FREE_MEMORY).
 * Preference: upgraded hosts first (a VM placed there never moves again), then the VM's affinity host, then the
 * most free memory, then the host name: deterministic for a given snapshot.
 *
 * The same rules (pickTarget) serve the runner: when the live pool no longer fits the plan during an evacuation,
 * placeEvacuation() checks the planned moves and recomputes them on a fresh snapshot.
 */

/**
 * planned: the placement described above. greedy: a model of xapi's own host.evacuate with no planning, for
 * comparison (bench/plan.ts): any allowed host, the one with the most free memory first (xapi's approximate
 * bin-packing), with no idea which hosts are already upgraded.
 */
export type PlacementStrategy = 'planned' | 'greedy';

export interface PlannedStop extends VmStop {
  /** why: mobility (cannot migrate at all) or capacity (no allowed host had room, storage, networks or CPU features) */
  cause: 'mobility' | 'memory' | 'storage' | 'network' | 'cpu' | 'version' | 'standalone';
  /** null action: neither suspend nor shutdown is allowed for this VM (a blocker) */
  possible: boolean;
  /** it would be suspended, but no suspend SR is usable from its host: shut down instead (R2.5, R6.1) */
  noSuspendSr?: boolean;
}

export interface HostPlacement {
  host: Ref;
  migrations: Migration[];
  stops: PlannedStop[];
  /** policy original: VMs moved back to this host once it is upgraded */
  moveBack: Migration[];
  /** VMs whose home is this host that could not be moved back (capacity), with where they stay */
  staysAway: Array<{ vm: Ref; vmName: string; on: Ref; onName: string }>;
}

export interface PlacementResult {
  order: Ref[];
  perHost: Map<Ref, HostPlacement>;
  /** total live migrations: evacuations + moves back */
  planned: number;
  /**
   * Lower bound on live migrations for the VMs this plan keeps running. Per VM evacuated at least once:
   *   1   it must leave its host once, since that host goes down (R3.1);
   *  +1   if, when it left, no other host was on the target yet (the first host of a pool where nothing is
   *       upgraded: whatever host receives it is upgraded later, and R3.4 forbids nothing, but its new host goes
   *       down too) and the plan keeps it running there (it is not stopped later for lack of room), or if policy
   *       `original` brings it home (it must come back at least once).
   * `planned − lowerBound` counts second moves a perfect placement might have avoided.
   */
  lowerBound: number;
  /** VMs migrated more than once */
  movedTwice: number;
  /** VMs stopped (suspended or shut down) for a host's upgrade */
  stops: number;
  /**
   * VMs sent to a host that is upgraded later although a host on the target was already enabled (each such move
   * costs a move more than the bound), by why no host on the target could take them then. The first host's VMs
   * when nothing is on the target yet are not counted: the bound expects their second move.
   */
  parked: Record<ParkCause, number>;
}

export type Fit = 'most-free' | 'best-fit' | 'best-fit-all';

export type ParkCause = 'memory' | 'storage' | 'network' | 'cpu';

/** A search's choice for one evacuation: `${host ref} ${vm ref}` → target host, or null for a stop (search.ts). */
export type Decision = Map<string, Ref | null>;
export const decisionKey = (host: Ref, vm: Ref): string => `${host} ${vm}`;

export interface PlacementInput {
  snapshot: PoolSnapshot;
  /** hosts to upgrade, in order (already-done hosts are absent) */
  order: Ref[];
  targetPlatform: string;
  mobility: Map<Ref, Mobility>;
  returnPolicy: ReturnPolicy;
  strategy?: PlacementStrategy;
  /**
   * Which of the hosts that fit: 'most-free' (default: spreads the load); 'best-fit' (among hosts on the target the
   * fullest one with room: keeps large holes for large VMs, issue 13; among hosts upgraded later the most free);
   * 'best-fit-all' (the fullest with room among hosts upgraded later too: a VM waits where it leaves the large holes).
   */
  fit?: Fit;
  /**
   * Targets and stops chosen by the exact search (search.ts), replayed here so that the plan's content and wording
   * come from one place. A decided target is used only when it passes the placement rules at that moment; a decided
   * stop is taken only when, after this host's other VMs moved, no host can receive the VM (it is migrated else).
   */
  decision?: Decision;
}

interface HostState {
  info: HostInfo;
  /** platform version as a rank among the pool's platforms and the target (platformRanks) */
  rank: number;
  free: number;
  eligible: boolean;
  srs: Set<Ref>;
  /** networks with a PIF here; null when the snapshot has no network records (not checked) */
  networks: Set<Ref> | null;
  /** cpu_info.features as words; null when unknown (not checked) */
  cpu: number[] | null;
}

const GiB = 1024 ** 3;

/**
 * Platform versions as ranks (compareVersions order; equal versions share a rank), so that placement, which compares
 * versions for every VM and host of every candidate order, compares numbers.
 */
function platformRanks(snapshot: PoolSnapshot, targetPlatform: string): (platform: string) => number {
  const all = [...new Set([...snapshot.hosts.map((h) => h.version.platform), targetPlatform])].sort(compareVersions);
  const rank = new Map<string, number>();
  all.forEach((p, i) => rank.set(p, i > 0 && compareVersions(all[i - 1], p) === 0 ? rank.get(all[i - 1])! : i));
  return (p) => rank.get(p)!;
}
const gib = (b: number): string => `${(b / GiB).toFixed(1)} GiB`;

export function placeVms(input: PlacementInput): PlacementResult {
  const { snapshot, order, targetPlatform, mobility } = input;
  const strategy = input.strategy ?? 'planned';
  const rankOf = platformRanks(snapshot, targetPlatform);
  const targetRank = rankOf(targetPlatform);
  const state = hostStates(snapshot, rankOf);
  const hostsByName = byHostName(state);
  const vms = new Map(snapshot.vms.map((v) => [v.ref, v]));
  const location = new Map<Ref, Ref>();
  /** host → the VMs on it (location, indexed by host) */
  const onHost = new Map<Ref, Set<Ref>>([...state.keys()].map((h) => [h, new Set<Ref>()]));
  const locate = (vm: Ref, host: Ref | undefined): void => {
    const was = location.get(vm);
    if (was !== undefined) onHost.get(was)!.delete(vm);
    if (host === undefined) location.delete(vm);
    else {
      location.set(vm, host);
      onHost.get(host)!.add(vm);
    }
  };
  // a Paused VM can neither migrate nor be suspended (xapi allows both only for Running VMs): never placed, the
  // vm-paused blocker names it with the way out (prechecks/paused.ts)
  for (const v of snapshot.vms) if (v.residentOn && state.has(v.residentOn) && v.powerState !== 'Paused') locate(v.ref, v.residentOn);
  const moves = new Map<Ref, number>();
  const perHost = new Map<Ref, HostPlacement>();
  const standalone = snapshot.hosts.length === 1;
  let planned = 0;
  const returned = new Set<Ref>();
  const mustMoveAgain = new Set<Ref>();
  const stoppedEver = new Set<Ref>();
  const parked: Record<ParkCause, number> = { memory: 0, storage: 0, network: 0, cpu: 0 };
  const onTarget = (t: HostState): boolean => t.rank >= targetRank;
  const decision = strategy === 'planned' ? input.decision : undefined;

  const migrate = (vm: VmInfo, from: HostState, to: HostState, list: Migration[]): void => {
    from.free += vm.memoryNeeded;
    to.free -= vm.memoryNeeded;
    locate(vm.ref, to.info.ref);
    moves.set(vm.ref, (moves.get(vm.ref) ?? 0) + 1);
    list.push({ vm: vm.ref, vmName: vm.name, from: from.info.ref, to: to.info.ref, toName: to.info.name });
    planned++;
  };

  for (const hostRef of order) {
    const src = state.get(hostRef);
    if (!src) continue;
    const hp: HostPlacement = { host: hostRef, migrations: [], stops: [], moveBack: [], staysAway: [] };
    perHost.set(hostRef, hp);
    src.eligible = false; // disabled for its evacuation (R3.3)

    const residents = [...onHost.get(hostRef)!]
      .map((vm) => vms.get(vm)!)
      // largest first: first-fit-decreasing leaves the fewest VMs without room
      .sort((a, b) => b.memoryNeeded - a.memoryNeeded || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : 1));

    const stopped: VmInfo[] = [];
    // no other host on the target yet: whatever receives these VMs is upgraded later, so each moves again
    const noUpgradedTarget = !hostsByName.some((t) => t !== src && t.eligible && onTarget(t));
    const evacuate = (vm: VmInfo, to: HostState): void => {
      if (!noUpgradedTarget && !onTarget(to)) parked[parkCause(vm, src, hostsByName, onTarget)]++;
      migrate(vm, src, to, hp.migrations);
      if (noUpgradedTarget) mustMoveAgain.add(vm.ref);
    };
    // decided stops wait until the host's other VMs have moved: only then is "no host can receive it" checked
    const deferred: Array<() => void> = [];
    for (const vm of residents) {
      const mob = mobility.get(vm.ref);
      const stop = (cause: PlannedStop['cause'], reason: string): void => {
        // R2.5/R6.1: a suspend needs a suspend SR seen from this host; without one xapi refuses (VM_NO_SUSPEND_SR)
        const noSuspendSr = (mob?.stopAction ?? null) === 'suspend' && suspendSrFor(snapshot.pool, src.info, vm) === null;
        const action = noSuspendSr ? stopActionFor(vm, { noSuspendSr }) : (mob?.stopAction ?? null);
        if (noSuspendSr) {
          reason += action ? '; no suspend SR (VM_NO_SUSPEND_SR): shut down instead of suspended' : '; no suspend SR (VM_NO_SUSPEND_SR) and shutdown is blocked';
        }
        hp.stops.push({
          vm: vm.ref,
          vmName: vm.name,
          host: hostRef,
          action: action ?? 'shutdown',
          reason,
          cause,
          possible: action !== null,
          ...(noSuspendSr ? { noSuspendSr } : {}),
        });
        stopped.push(vm);
        stoppedEver.add(vm.ref);
        locate(vm.ref, undefined);
        src.free += vm.memoryNeeded;
      };
      if (standalone) {
        stop('standalone', `R6.1 stand-alone host: no other host to migrate to${mob && !mob.canMigrate ? `; ${mob.reason}` : ''}`);
        continue;
      }
      if (!mob || !mob.canMigrate) {
        stop('mobility', mob?.reason ?? 'R3.7 mobility unknown');
        continue;
      }
      const place = (): void => {
        const pick = pickTarget(vm, src, hostsByName, targetRank, strategy, input.fit);
        if ('cause' in pick) stop(pick.cause, pick.reason);
        else evacuate(vm, pick.to);
      };
      const decided = decision?.get(decisionKey(hostRef, vm.ref));
      if (decided === null) {
        deferred.push(place);
        continue;
      }
      const to = decided === undefined ? undefined : state.get(decided);
      if (to && refusal(vm, src, to) === undefined) evacuate(vm, to);
      else place();
    }
    for (const place of deferred) place();

    // the host is upgraded, enabled again, and the VMs stopped for it are started/resumed on it
    src.rank = targetRank;
    src.eligible = src.info.live; // the enable step re-enables it
    for (const vm of stopped) {
      src.free -= vm.memoryNeeded;
      locate(vm.ref, hostRef);
    }

    if (input.returnPolicy === 'original') {
      const away = snapshot.vms
        .filter((v) => v.residentOn === hostRef && location.has(v.ref) && location.get(v.ref) !== hostRef)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : 1));
      for (const vm of away) {
        const cur = state.get(location.get(vm.ref)!)!;
        // the home host is on the target now, so the move is never to an older version (R3.4)
        const fitsHome = missingNetworks(vm, src.networks).length === 0 && (!vm.cpuFlags || !src.cpu || cpuCompatible(vm.cpuFlags, src.cpu));
        if (src.free >= vm.memoryNeeded && cur.rank <= src.rank && vm.disks.every((d) => src.srs.has(d.sr)) && fitsHome) {
          migrate(vm, cur, src, hp.moveBack);
          returned.add(vm.ref);
        } else {
          hp.staysAway.push({ vm: vm.ref, vmName: vm.name, on: cur.info.ref, onName: cur.info.name });
        }
      }
    }
  }

  const evacuatedOnce = new Set<Ref>();
  for (const hp of perHost.values()) for (const m of hp.migrations) evacuatedOnce.add(m.vm);
  let lowerBound = 0;
  for (const vm of evacuatedOnce) lowerBound += 1 + ((mustMoveAgain.has(vm) && !stoppedEver.has(vm)) || returned.has(vm) ? 1 : 0);
  return {
    order: [...order],
    perHost,
    planned,
    lowerBound,
    movedTwice: [...moves.values()].filter((n) => n > 1).length,
    stops: [...perHost.values()].reduce((n, hp) => n + hp.stops.length, 0),
    parked,
  };
}

/**
 * Why no host on the target took a VM that went to a host upgraded later: the furthest placement check some host
 * on the target passed (one passing every check had room only before this host's other VMs took it: memory).
 */
function parkCause(vm: VmInfo, src: HostState, hostsByName: HostState[], onTarget: (t: HostState) => boolean): ParkCause {
  const rank: Record<Refusal, number> = { ineligible: 0, version: 0, storage: 1, network: 2, cpu: 3, memory: 4 };
  let best = 0;
  for (const t of hostsByName) {
    if (!onTarget(t)) continue;
    const why = refusal(vm, src, t);
    best = Math.max(best, why === undefined ? 4 : rank[why]);
  }
  return best <= 1 ? 'storage' : best === 2 ? 'network' : best === 3 ? 'cpu' : 'memory';
}

/** Every host of the snapshot as a possible target: eligible when live and enabled (R3.3: a disabled host takes no VM). */
function hostStates(snapshot: PoolSnapshot, rankOf: (platform: string) => number): Map<Ref, HostState> {
  return new Map<Ref, HostState>(
    snapshot.hosts.map((h) => [
      h.ref,
      {
        info: h,
        rank: rankOf(h.version.platform),
        free: h.memoryFree,
        eligible: h.live && h.enabled,
        srs: new Set(h.attachedSrs),
        networks: h.networks ? new Set(h.networks) : null,
        cpu: h.cpuFeatures ? cpuWords(h.cpuFeatures) : null,
      },
    ]),
  );
}

function byHostName(state: Map<Ref, HostState>): HostState[] {
  return [...state.values()].sort((a, b) => (a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : a.info.ref < b.info.ref ? -1 : 1));
}

type Refusal = 'ineligible' | 'version' | 'storage' | 'network' | 'cpu' | 'memory';

/**
 * The one feasibility predicate of placement: why host t cannot receive vm evacuated from src right now, or
 * undefined when it can. The source itself or a host not live/enabled never; an older platform never (R3.4); it
 * must have every SR of the VM's disks attached (R2.5, VM_REQUIRES_SR), a PIF on every network of its VIFs (R3.7,
 * VM_REQUIRES_NETWORK), every CPU feature the VM booted with (R3.4, VM_INCOMPATIBLE_WITH_THIS_HOST), and enough free
 * memory as xapi computes it (R2.2, HOST_NOT_ENOUGH_FREE_MEMORY).
 */
function refusal(vm: VmInfo, src: HostState, t: HostState, free = t.free): Refusal | undefined {
  if (t === src || !t.eligible) return 'ineligible';
  if (t.rank < src.rank) return 'version';
  if (!vm.disks.every((d) => t.srs.has(d.sr))) return 'storage';
  if (missingNetworks(vm, t.networks).length > 0) return 'network';
  if (vm.cpuFlags && t.cpu && !cpuCompatible(vm.cpuFlags, t.cpu)) return 'cpu';
  if (free < vm.memoryNeeded) return 'memory';
  return undefined;
}

type Pick = { to: HostState } | { cause: 'version' | 'storage' | 'network' | 'cpu' | 'memory'; reason: string };

/** The target for one VM among hostsByName (name order), or why none can take it: the one rule set of placement. */
function pickTarget(
  vm: VmInfo,
  src: HostState,
  hostsByName: HostState[],
  targetRank: number,
  strategy: PlacementStrategy,
  fit?: PlacementInput['fit'],
): Pick {
  // one pass, no allocation: placement runs this for every VM of every host of every candidate order
  let best: HostState | undefined;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (const t of hostsByName) {
    if (refusal(vm, src, t) !== undefined) continue;
    let k0 = 0;
    let k1 = 0;
    let k2 = -t.free; // greedy (xapi's approximate bin-packing): the most free
    if (strategy === 'planned') {
      // upgraded hosts first (no second move), then the VM's affinity host, then the most free memory (best-fit:
      // the least free with room), then the name (hostsByName order: on a full tie the earlier name stays)
      const upgraded = t.rank >= targetRank;
      k0 = upgraded ? 0 : 1;
      k1 = t.info.ref === vm.affinity ? 0 : 1;
      if (fit === 'best-fit-all' || (fit === 'best-fit' && upgraded)) k2 = t.free;
    }
    if (!best || (k0 - b0 || k1 - b1 || k2 - b2) < 0) {
      best = t;
      b0 = k0;
      b1 = k1;
      b2 = k2;
    }
  }
  return best ? { to: best } : noHost(vm, src, hostsByName);
}

/** Why no host can receive vm from src: the first check every allowed host fails (version, SRs, networks, CPU, memory). */
function noHost(vm: VmInfo, src: HostState, hostsByName: HostState[]): Exclude<Pick, { to: HostState }> {
  let allowed = 0;
  let seesDisks = 0;
  let connected = 0;
  let cpuOk = 0;
  let bestFree = -Infinity;
  const missing = new Set<Ref>();
  for (const t of hostsByName) {
    const why = refusal(vm, src, t);
    if (why === 'ineligible' || why === 'version') continue;
    allowed++;
    if (why === 'storage') continue;
    seesDisks++;
    if (why === 'network') {
      for (const n of missingNetworks(vm, t.networks)) missing.add(n);
      continue;
    }
    connected++;
    if (why === 'cpu') continue;
    cpuOk++;
    bestFree = Math.max(bestFree, t.free);
  }
  if (allowed === 0) return { cause: 'version', reason: 'R3.4 no enabled host on the same or a newer version can receive it' };
  if (seesDisks === 0) return { cause: 'storage', reason: `R2.5 no allowed host has the SRs of its disks attached` };
  if (connected === 0)
    return { cause: 'network', reason: `R3.7 no allowed host has a PIF on its network ${[...missing].sort().join(', ')} (VM_REQUIRES_NETWORK: a VLAN on some hosts only, or an internal network)` };
  if (cpuOk === 0)
    return { cause: 'cpu', reason: 'R3.4 no allowed host offers every CPU feature it booted with (VM_INCOMPATIBLE_WITH_THIS_HOST); it is started again on its upgraded host' };
  return { cause: 'memory', reason: `R2.2 needs ${gib(vm.memoryNeeded)}, the most free on an allowed host is ${gib(Math.max(0, bestFree))}` };
}

// ---------------------------------------------------------------------------------------------
// The runner's evacuation on the live pool
// ---------------------------------------------------------------------------------------------

export interface EvacuationInput {
  /** a fresh snapshot of the live pool (src/inventory readSnapshot) */
  snapshot: PoolSnapshot;
  /** the host being evacuated (already disabled, R3.3) */
  source: Ref;
  /** the running VMs to move off it (VMs the plan stops instead are left out by the caller) */
  vms: Ref[];
  /** the plan's target platform: hosts already on it are preferred (no second move) */
  targetPlatform: string;
  /** the plan's moves for these VMs (targets already mapped to replaced hosts); kept when they still fit */
  planned?: Migration[];
}

export interface UnplacedVm {
  vm: Ref;
  vmName: string;
  /** rule + words, e.g. "R2.5 no allowed host has the SRs of its disks attached" */
  reason: string;
}

export interface EvacuationPlacement {
  /** what to migrate; empty when any VM is unplaced (nothing moves blindly) */
  moves: Migration[];
  /** why the planned moves no longer fit the live pool ([] when they do) */
  misfits: string[];
  /** true when moves were recomputed rather than taken from the plan */
  recomputed: boolean;
  /** VMs no host can receive now, each with the reason */
  unplaced: UnplacedVm[];
}

/**
 * Placement of the VMs still on a host being evacuated, on the live pool: the planned moves when every one of them
 * still passes the placement rules in order (memory counted as it is used up), else a new placement of all of them
 * under the same rules as the plan (pickTarget: R3.4, R2.5, R2.2, mobility, preference for upgraded hosts and
 * affinity). Pure and deterministic.
 */
export function placeEvacuation(input: EvacuationInput): EvacuationPlacement {
  const { snapshot, source, targetPlatform } = input;
  const rankOf = platformRanks(snapshot, targetPlatform);
  const state = hostStates(snapshot, rankOf);
  const hostsByName = byHostName(state);
  const srs = new Map(snapshot.srs.map((s) => [s.ref, s]));
  const src = state.get(source);
  const vmsByRef = new Map(snapshot.vms.map((v) => [v.ref, v]));
  const vms: VmInfo[] = [];
  const unplaced: UnplacedVm[] = [];
  for (const ref of input.vms) {
    const vm = vmsByRef.get(ref);
    if (!vm) unplaced.push({ vm: ref, vmName: ref, reason: 'not in the pool any more' });
    else vms.push(vm);
  }
  if (!src) {
    for (const vm of vms) unplaced.push({ vm: vm.ref, vmName: vm.name, reason: `its host ${source} is not in the pool` });
    return { moves: [], misfits: [], recomputed: false, unplaced };
  }
  // a VM that cannot live-migrate at all is never handed to pool_migrate (R2.5, R2.6, R3.7)
  for (const vm of [...vms]) {
    const mob = vmMobility(vm, srs);
    if (!mob.canMigrate) {
      unplaced.push({ vm: vm.ref, vmName: vm.name, reason: mob.reason });
      vms.splice(vms.indexOf(vm), 1);
    }
  }

  const misfits = checkPlanned(vms, input.planned ?? [], src, state, srs);
  if (misfits.length === 0 && unplaced.length === 0) {
    const planned = new Map((input.planned ?? []).map((m) => [m.vm, m]));
    return { moves: vms.map((v) => planned.get(v.ref)!), misfits, recomputed: false, unplaced };
  }

  const moves: Migration[] = [];
  // largest first, as the plan does: first-fit-decreasing leaves the fewest VMs without room
  const ordered = [...vms].sort((a, b) => b.memoryNeeded - a.memoryNeeded || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : 1));
  for (const vm of ordered) {
    const pick = pickTarget(vm, src, hostsByName, rankOf(targetPlatform), 'planned');
    if ('cause' in pick) {
      unplaced.push({ vm: vm.ref, vmName: vm.name, reason: pick.reason });
      continue;
    }
    pick.to.free -= vm.memoryNeeded;
    moves.push({ vm: vm.ref, vmName: vm.name, from: source, to: pick.to.info.ref, toName: pick.to.info.name });
  }
  return { moves: unplaced.length ? [] : moves, misfits, recomputed: true, unplaced };
}

/** Why the planned moves of these VMs no longer pass the placement rules on the live pool ([] when they all do). */
function checkPlanned(
  vms: VmInfo[],
  planned: Migration[],
  src: HostState,
  state: Map<Ref, HostState>,
  srs: Map<Ref, { name: string }>,
): string[] {
  const reasons: string[] = [];
  const left = new Map([...state.values()].map((t) => [t, t.free]));
  for (const vm of vms) {
    const m = planned.find((p) => p.vm === vm.ref);
    if (!m) {
      reasons.push(`${vm.name} is on ${src.info.name} but not in the plan`);
      continue;
    }
    const t = state.get(m.to);
    if (!t) {
      reasons.push(`${vm.name}: planned target ${m.toName} is not in the pool`);
      continue;
    }
    const why = refusal(vm, src, t, left.get(t)!);
    if (why === 'ineligible') reasons.push(`${vm.name}: planned target ${t.info.name} is ${t === src ? 'its own host' : t.info.live ? 'disabled' : 'not live'}`);
    else if (why === 'version') reasons.push(`${vm.name}: planned target ${t.info.name} is on an older version than ${src.info.name} (R3.4)`);
    else if (why === 'storage') {
      const missing = vm.disks.filter((d) => !t.srs.has(d.sr)).map((d) => srs.get(d.sr)?.name ?? d.sr);
      reasons.push(`${vm.name}: planned target ${t.info.name} does not see SR ${[...new Set(missing)].join(', ')} of its disks (R2.5)`);
    } else if (why === 'network') {
      reasons.push(`${vm.name}: planned target ${t.info.name} has no PIF on its network ${missingNetworks(vm, t.networks).join(', ')} (VM_REQUIRES_NETWORK)`);
    } else if (why === 'cpu') {
      reasons.push(`${vm.name}: planned target ${t.info.name} lacks CPU features it booted with (VM_INCOMPATIBLE_WITH_THIS_HOST)`);
    } else if (why === 'memory') {
      reasons.push(`${vm.name}: not enough free memory left on ${t.info.name} (R2.2: needs ${gib(vm.memoryNeeded)}, ${gib(Math.max(0, left.get(t)!))} free)`);
    } else left.set(t, left.get(t)! - vm.memoryNeeded);
  }
  return reasons;
}
