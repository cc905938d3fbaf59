import type { Plan, PlanHop } from '../../src/domain/types';

type Target = { product: string; platform: string; label: string };

/** The multi-hop fields of a plan that is hop 1 of 2 (R1.4): this hop to `here`, the chain ending on `final`. */
export function middleHopOf(here: Target, final: Target, finalId = final.product): Pick<Plan, 'finalTarget' | 'hops'> {
  const hop = (t: Target, index: number, status: PlanHop['status'], target: string): PlanHop => ({
    index,
    target,
    label: t.label,
    product: t.product,
    platform: t.platform,
    from: [],
    kind: 'base-iso',
    mode: 'automatic',
    media: 'http://repo.example/',
    rule: 'R1.4',
    note: '',
    source: 'test',
    confirmed: true,
    status,
  });
  return { finalTarget: finalId, hops: [hop(here, 1, 'this', here.product), hop(final, 2, 'later', finalId)] };
}
