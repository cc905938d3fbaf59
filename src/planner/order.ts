import type { HostInfo, PoolSnapshot, Ref, ReturnPolicy } from '../domain/types';
import type { Mobility } from './mobility';
import { exactPlacement } from './exact';
import { PlacementResult, placeVms } from './placement';

/**
 * Host order and placement are searched (issue 13): the master first when it still needs upgrading (R3.2), then
 * - small pools (exact.ts limits, policy none): every order and every target, the optimum (fewest stops, then
 *   fewest migrations);
 * - otherwise the candidate order × fit ('most-free', 'best-fit') that needs the fewest VM stops, then the fewest
 *   live migrations; ties keep the earlier candidate, so the result is deterministic. Candidates:
 *   - by name (XenCenter's order);
 *   - lightest memory load first: early on only a few hosts are upgraded, so hosts whose VMs fit there go first
 *     and no VM has to be parked on a host that will be upgraded later;
 *   - heaviest load first; largest host first (the upgraded capacity grows fastest); smallest host first (few VMs
 *     to place while little is upgraded, and each upgraded host then takes VMs from the larger ones).
 */
export interface OrderChoice {
  order: Ref[];
  placement: PlacementResult;
  strategyName: string;
}

const byName = (a: HostInfo, b: HostInfo): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0);

export function chooseOrder(input: {
  snapshot: PoolSnapshot;
  toUpgrade: HostInfo[];
  targetPlatform: string;
  mobility: Map<Ref, Mobility>;
  returnPolicy: ReturnPolicy;
}): OrderChoice {
  const { snapshot, toUpgrade } = input;
  const master = toUpgrade.find((h) => h.isMaster);
  const others = toUpgrade.filter((h) => !h.isMaster).sort(byName);
  const load = (h: HostInfo): number => h.memoryTotal - h.memoryFree;
  const candidates: Array<[string, HostInfo[]]> = [
    ['name', others],
    ['lightest-first', [...others].sort((a, b) => load(a) - load(b) || byName(a, b))],
    ['heaviest-first', [...others].sort((a, b) => load(b) - load(a) || byName(a, b))],
    ['largest-first', [...others].sort((a, b) => b.memoryTotal - a.memoryTotal || byName(a, b))],
    ['smallest-first', [...others].sort((a, b) => a.memoryTotal - b.memoryTotal || load(a) - load(b) || byName(a, b))],
  ];
  let best: OrderChoice | undefined;
  let bestStops = Infinity;
  const consider = (name: string, order: Ref[], placement: PlacementResult): void => {
    const stops = [...placement.perHost.values()].reduce((n, hp) => n + hp.stops.length, 0);
    if (!best || stops < bestStops || (stops === bestStops && placement.planned < best.placement.planned)) {
      best = { order, placement, strategyName: name };
      bestStops = stops;
    }
  };
  if (input.returnPolicy === 'none') {
    const exact = exactPlacement(input);
    if (exact) consider('exact', exact.order, placeVms({ ...input, snapshot, order: exact.order, prefer: exact.targets }));
  }
  const seen = new Set<string>();
  for (const [name, rest] of candidates) {
    const order = [...(master ? [master.ref] : []), ...rest.map((h) => h.ref)];
    const key = order.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    for (const fit of ['most-free', 'best-fit'] as const) consider(`${name}/${fit}`, order, placeVms({ ...input, snapshot, order, fit }));
  }
  return best!;
}
