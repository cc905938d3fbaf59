import type { HostInfo, PoolSnapshot, Ref, ReturnPolicy } from '../domain/types';
import type { Mobility } from './mobility';
import { Decision, Fit, PlacementInput, PlacementResult, placeVms } from './placement';
import { EXACT_LIMITS, ExactLimits, exactSearch } from './search';

/**
 * Host order and placement are searched, not fixed (issue 13). The master is always first when it still needs
 * upgrading (R3.2); the best plan has the fewest VM stops, then the fewest live migrations; ties keep the earlier
 * candidate, so the result is deterministic (every budget counts work, never time).
 *
 * 1. Candidate orders, each placed with three fits (placement.ts: 'most-free' spreads the load; 'best-fit' puts each
 *    VM on the fullest upgraded host with room, keeping large holes for large VMs; 'best-fit-all' also lets a VM wait
 *    on the fullest host upgraded later):
 *    - by name (XenCenter's order);
 *    - lightest memory load first: early on only a few hosts are upgraded, so hosts whose VMs fit there go first;
 *    - smallest host first: few VMs to place while little is upgraded, each upgraded host then takes VMs of larger ones;
 *    - heaviest load first; largest host first (the upgraded capacity grows fastest).
 *    A plan that meets the pool's lower bound (poolLowerBound) is optimal and ends the search.
 * 2. Pools within search.ts's limits: the exact search (branch and bound from the best candidate, node budget); what it
 *    finds is replayed by placement.ts.
 * 3. Larger pools: a local search from the best candidate (one host moved earlier at a time), within LOCAL_SEARCH.
 */
export interface OrderChoice {
  order: Ref[];
  placement: PlacementResult;
  strategyName: string;
  search: SearchReport;
}

/** What the search did, for the plan's one-line note and for tests that count work. */
export interface SearchReport {
  /**
   * optimal: the plan meets the pool's lower bound (fewest possible stops, one move per VM kept running, two for the
   * first host's); exact: the exact search covered every order and placement (policy none); budget: the exact search
   * stopped at its node budget; candidates: candidate orders and the local search only (larger pools, policy original)
   */
  outcome: 'optimal' | 'exact' | 'budget' | 'candidates';
  /** full placements computed (candidate orders × fits, local search, the replay of the exact search's plan) */
  placements: number;
  /** nodes of the exact search (0 when it did not run) */
  nodes: number;
}

export interface OrderInput {
  snapshot: PoolSnapshot;
  toUpgrade: HostInfo[];
  targetPlatform: string;
  mobility: Map<Ref, Mobility>;
  returnPolicy: ReturnPolicy;
  /** for tests: the exact search's limits */
  exactLimits?: ExactLimits;
  /** for tests: LOCAL_SEARCH */
  localSearch?: { placements: number; work: number };
}

const byName = (a: HostInfo, b: HostInfo): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0);

const better = (a: PlacementResult, b: PlacementResult): boolean => a.stops < b.stops || (a.stops === b.stops && a.planned < b.planned);

export function chooseOrder(input: OrderInput): OrderChoice {
  const { snapshot, toUpgrade } = input;
  const master = toUpgrade.find((h) => h.isMaster);
  const others = toUpgrade.filter((h) => !h.isMaster).sort(byName);
  const load = (h: HostInfo): number => h.memoryTotal - h.memoryFree;
  const candidates: Array<[string, HostInfo[]]> = [
    ['name', others],
    ['lightest-first', [...others].sort((a, b) => load(a) - load(b) || byName(a, b))],
    ['smallest-first', [...others].sort((a, b) => a.memoryTotal - b.memoryTotal || load(a) - load(b) || byName(a, b))],
    ['heaviest-first', [...others].sort((a, b) => load(b) - load(a) || byName(a, b))],
    ['largest-first', [...others].sort((a, b) => b.memoryTotal - a.memoryTotal || byName(a, b))],
  ];
  const floor = poolLowerBound(input);
  const base: Omit<PlacementInput, 'order'> = { snapshot, targetPlatform: input.targetPlatform, mobility: input.mobility, returnPolicy: input.returnPolicy };
  // local search: placements allowed after the candidates (each costs about hosts × VMs checks)
  const limits = input.localSearch ?? LOCAL_SEARCH;
  const localPlacements = Math.min(limits.placements, Math.floor(limits.work / (snapshot.hosts.length * Math.max(1, snapshot.vms.length))));
  let best: (Omit<OrderChoice, 'search'> & { fit: Fit }) | undefined;
  let placements = 0;
  const consider = (name: string, order: Ref[], fit: Fit, decision?: Decision): boolean => {
    const placement = placeVms({ ...base, order, fit, decision });
    placements++;
    if (best && !better(placement, best.placement)) return false;
    best = { order, placement, strategyName: name, fit };
    return true;
  };
  const atFloor = (): boolean => !!best && best.placement.stops <= floor.stops && best.placement.planned <= floor.migrations;
  const done = (outcome: SearchReport['outcome'], nodes = 0): OrderChoice => {
    const { fit: _fit, ...choice } = best!;
    return { ...choice, search: { outcome, placements, nodes } };
  };

  const seen = new Set<string>();
  for (const [name, rest] of candidates) {
    const order = [...(master ? [master.ref] : []), ...rest.map((h) => h.ref)];
    const key = order.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    for (const fit of FITS) {
      consider(`${name}/${fit}`, order, fit);
      if (atFloor()) return done('optimal');
    }
  }

  const exact = exactSearch(input, { stops: best!.placement.stops, migrations: best!.placement.planned }, input.exactLimits ?? EXACT_LIMITS);
  if (exact) {
    // placement.ts is the source of truth: a replay that does not reproduce the search's cost proves nothing
    const replayed = !exact.found || (consider('exact', exact.found.order, 'most-free', exact.found.decision) && best!.placement.stops === exact.found.cost.stops && best!.placement.planned === exact.found.cost.migrations);
    // the exact search models policy none: with moves back its plan is one more candidate, not a proof
    const outcome = atFloor() ? 'optimal' : input.returnPolicy !== 'none' || !replayed ? 'candidates' : exact.complete ? 'exact' : 'budget';
    return done(outcome, exact.nodes);
  }

  // Pools beyond the exact search: local search from the best candidate, moving one host earlier at a time (first
  // improvement), while the budget lasts.
  const first = master ? 1 : 0;
  const stopAt = placements + localPlacements;
  let improved = true;
  while (improved && !atFloor()) {
    improved = false;
    const { order, fit } = best!;
    for (let i = first + 1; i < order.length && !improved; i++) {
      for (let j = first; j < i && !improved; j++) {
        if (placements >= stopAt) return done('candidates');
        const moved = [...order.slice(0, j), order[i]!, ...order.slice(j, i), ...order.slice(i + 1)];
        improved = consider(`${best!.strategyName.replace(/\+moves$/, '')}+moves`, moved, fit);
      }
    }
  }
  return done(atFloor() ? 'optimal' : 'candidates');
}

const FITS: Fit[] = ['most-free', 'best-fit', 'best-fit-all'];

/**
 * The local search's budget: at most `placements` placements and `work` host × VM checks (one placement costs about
 * hosts × VMs): two more placements for a 64-host pool with 50 VMs per host, 200 for a 16-host pool with 150 VMs.
 */
export const LOCAL_SEARCH = { placements: 200, work: 600_000 };

/**
 * A lower bound on (stops, migrations) over every plan of the pool: the VMs that cannot migrate (mobility, R2.5/R3.7)
 * or have no other host with their SRs and networks are stopped in every plan; every other running VM on a host to
 * upgrade moves at least once (its host goes down, R3.1), and with policy none the master's twice when no host
 * already on the target can take them (whatever receives them goes down later, R3.2/R3.4). A plan with exactly these
 * stops and migrations is optimal. (Policy original: one move per VM; moves back are not counted, so the bound is
 * weaker and rarely ends the search early.)
 */
function poolLowerBound(input: OrderInput): { stops: number; migrations: number } {
  const { snapshot, toUpgrade, mobility } = input;
  const upgrading = new Set(toUpgrade.map((h) => h.ref));
  const running = snapshot.vms.filter((v) => v.residentOn !== null && upgrading.has(v.residentOn) && v.powerState !== 'Paused');
  if (snapshot.hosts.length < 2) return { stops: running.length, migrations: 0 }; // R6.1
  const master = toUpgrade.find((h) => h.isMaster);
  const doneHostTakesVms = snapshot.hosts.some((h) => !upgrading.has(h.ref) && h.live && h.enabled);
  let stops = 0;
  let migrations = 0;
  for (const vm of running) {
    const elsewhere = snapshot.hosts.some(
      (h) => h.ref !== vm.residentOn && vm.disks.every((d) => h.attachedSrs.includes(d.sr)) && (!vm.networks || !h.networks || vm.networks.every((n) => h.networks!.includes(n))),
    );
    if (!mobility.get(vm.ref)?.canMigrate || !elsewhere) stops++;
    else migrations += master && vm.residentOn === master.ref && !doneHostTakesVms && input.returnPolicy === 'none' ? 2 : 1;
  }
  return { stops, migrations };
}
