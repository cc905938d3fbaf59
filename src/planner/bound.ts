import type { PlacementResult } from './placement';
import type { SearchReport } from './order';

/**
 * Why a plan needs more live migrations than its own lower bound, in one line (issue 13), or undefined when it
 * does not. Says what the placement observed (which VMs had to wait on a host upgraded later, and why no host on
 * the target took them) and how far the search went: an exhaustive search proves no order does better; a search
 * that stopped at its budget or tried candidate orders only says a better plan may exist.
 */
export function boundNote(placement: Pick<PlacementResult, 'planned' | 'lowerBound' | 'parked'>, search: SearchReport): string | undefined {
  const extra = placement.planned - placement.lowerBound;
  if (extra <= 0) return undefined;
  const p = placement.parked;
  const parked = p.memory + p.storage + p.network + p.cpu;
  const causes = [
    p.memory ? `room (R2.2) for ${p.memory}` : '',
    p.storage ? `their SRs (R2.5) for ${p.storage}` : '',
    p.network ? `their networks (VM_REQUIRES_NETWORK) for ${p.network}` : '',
    p.cpu ? `their CPU features (R3.4) for ${p.cpu}` : '',
  ].filter(Boolean);
  const why =
    parked > 0
      ? `${parked} VM${parked === 1 ? '' : 's'} had to wait on a host upgraded later (R3.4: never back to an older one), since no upgraded host had ${causes.join(', ')}`
      : 'VMs moved again after their first move, since the hosts able to take them were upgraded later (R3.4)';
  const searched =
    search.outcome === 'exact'
      ? 'an exhaustive search of host orders and placements found nothing better (fewer stops, or as few and fewer migrations)'
      : search.outcome === 'budget'
        ? `the exact search stopped at its budget of ${search.nodes} steps, a better plan may exist`
        : `best of ${search.placements} candidate orders and fits, a better order may exist`;
  return `${extra} migration${extra === 1 ? '' : 's'} above the lower bound: ${why}; ${searched}`;
}
