import type { HostInfo, PoolSnapshot, Ref, ReturnPolicy } from '../domain/types';
import type { Mobility } from './mobility';
import { PlacementResult, placeVms } from './placement';

/**
 * Host order: the master first when it still needs upgrading (R3.2), then the other hosts in the candidate order
 * that needs the fewest VM stops, then the fewest live migrations; ties keep the earlier candidate, so the result
 * is deterministic. Candidates (all deterministic):
 *   - by name (XenCenter's order);
 *   - lightest memory load first: early on only a few hosts are upgraded, so hosts whose VMs fit there go first
 *     and no VM has to be parked on a host that will be upgraded later;
 *   - heaviest load first; largest host first (the upgraded capacity grows fastest).
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
  ];
  let best: OrderChoice | undefined;
  let bestStops = Infinity;
  const seen = new Set<string>();
  for (const [name, rest] of candidates) {
    const order = [...(master ? [master.ref] : []), ...rest.map((h) => h.ref)];
    const key = order.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    const placement = placeVms({ ...input, snapshot, order });
    const stops = [...placement.perHost.values()].reduce((n, hp) => n + hp.stops.length, 0);
    if (!best || stops < bestStops || (stops === bestStops && placement.planned < best.placement.planned)) {
      best = { order, placement, strategyName: name };
      bestStops = stops;
    }
  }
  return best!;
}
