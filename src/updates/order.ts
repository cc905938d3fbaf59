/**
 * Pure logic of R3.10 (hotfixes after the upgrade, as few reboots as possible): which updates a host gets, in which
 * order (prerequisites first), and what they cost once the host is empty.
 */
import type { AfterApplyGuidance } from './metadata';

export interface OrderableUpdate {
  uuid: string;
  nameLabel: string;
  prerequisites: string[];
}

export class UpdateOrderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpdateOrderError';
  }
}

/**
 * Prerequisites before the updates needing them (a topological order; ties by name, so the order is deterministic).
 * `alreadyApplied`: uuids the host has, which satisfy a prerequisite without being in the set. A prerequisite that is
 * neither, or a cycle, is an error naming the updates.
 */
export function orderUpdates<U extends OrderableUpdate>(updates: U[], alreadyApplied: Iterable<string> = [], knownNames: Map<string, string> = new Map()): U[] {
  const applied = new Set(alreadyApplied);
  const byUuid = new Map(updates.map((u) => [u.uuid, u]));
  const label = (uuid: string): string => byUuid.get(uuid)?.nameLabel ?? knownNames.get(uuid) ?? uuid;
  for (const u of updates) {
    const missing = u.prerequisites.filter((p) => !byUuid.has(p) && !applied.has(p));
    if (missing.length) throw new UpdateOrderError(`${u.nameLabel} needs ${missing.map(label).join(', ')} first, which is neither in the update repository nor applied`);
  }
  const out: U[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (u: U, path: string[]): void => {
    const s = state.get(u.uuid);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(u.nameLabel)), u.nameLabel];
      throw new UpdateOrderError(`the prerequisites form a cycle: ${cycle.join(' → ')}`);
    }
    state.set(u.uuid, 'visiting');
    const deps = u.prerequisites.map((p) => byUuid.get(p)).filter((d): d is U => !!d).sort(byName);
    for (const d of deps) visit(d, [...path, u.nameLabel]);
    state.set(u.uuid, 'done');
    out.push(u);
  };
  for (const u of [...updates].sort(byName)) visit(u, []);
  return out;
}

const byName = (a: OrderableUpdate, b: OrderableUpdate): number => (a.nameLabel < b.nameLabel ? -1 : a.nameLabel > b.nameLabel ? 1 : a.uuid < b.uuid ? -1 : 1);

/**
 * What the host needs once all its updates are applied, while it is empty:
 *   - 'host': one reboot covers every restartHost update;
 *   - 'toolstack': only restartXAPI (xapi restarts; the VMs keep running);
 *   - 'none': nothing, or only restartHVM / restartPV — met by the host being empty: a VM that arrives later by live
 *     migration or start gets a new domain (and device model) on the updated host (an inference, said in the plan).
 * `livepatched`: updates whose precheck answered ok_livepatch_complete (their restartHost is covered live).
 */
export type RestartNeed = 'host' | 'toolstack' | 'none';

export function restartNeed(updates: Array<{ uuid: string; guidance: AfterApplyGuidance[] }>, livepatched: Iterable<string> = []): RestartNeed {
  const live = new Set(livepatched);
  if (updates.some((u) => u.guidance.includes('restartHost') && !live.has(u.uuid))) return 'host';
  if (updates.some((u) => u.guidance.includes('restartXAPI'))) return 'toolstack';
  return 'none';
}

export const RESTART_WORDS: Record<RestartNeed, string> = {
  host: '1 reboot',
  toolstack: 'a toolstack restart, no reboot',
  none: 'no reboot',
};
