/** Hosts replaced by forget & rejoin (R4.2): the old record's ref → the rejoined host's new ref, from the run's records. */
import type { Ref, Run } from '../domain/types';

/** forget-rejoin: old host ref → the rejoined host's new ref (and the certificate an approver confirmed for it) */
export interface Replacement {
  from: Ref;
  to: Ref;
  fingerprint256?: string;
}

export function hostRemap(run: Run): Map<Ref, Ref> {
  const map = new Map<Ref, Ref>();
  for (const s of run.steps) {
    const r = s.data?.replaced as Replacement | undefined;
    if (r) map.set(r.from, r.to);
  }
  return map;
}

