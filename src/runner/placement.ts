/**
 * Placement of the VMs still to move off a host, recomputed when the live state no longer fits the plan.
 * Same rules as the planner: targets are live, enabled, not the source, and on the same or a newer platform
 * version (R3.4); prefer hosts already upgraded (a VM moved there never moves again), then the most free memory;
 * largest VMs first; memory as xapi counts it (dynamic_min + overhead) against host.compute_free_memory (R2.2).
 */
import { compareVersions } from '../domain/versions';
import type { Ref } from '../domain/types';

export interface PlacementVm {
  ref: Ref;
  name: string;
  memory: number;
}

export interface PlacementHost {
  ref: Ref;
  name: string;
  platform: string;
  live: boolean;
  enabled: boolean;
  free: number;
}

export interface PlacementResult {
  assignments: Array<{ vm: Ref; vmName: string; to: Ref; toName: string }>;
  unplaced: Array<{ vm: Ref; vmName: string; reason: string }>;
}

export function placeVms(vms: PlacementVm[], source: { ref: Ref; platform: string }, hosts: PlacementHost[]): PlacementResult {
  const targets = hosts
    .filter((h) => h.ref !== source.ref && h.live && h.enabled && compareVersions(h.platform, source.platform) >= 0)
    .map((h) => ({ ...h }));
  const result: PlacementResult = { assignments: [], unplaced: [] };
  const ordered = [...vms].sort((a, b) => b.memory - a.memory || a.name.localeCompare(b.name));
  for (const vm of ordered) {
    const fits = targets
      .filter((t) => t.free >= vm.memory)
      .sort((a, b) => compareVersions(b.platform, a.platform) || b.free - a.free || a.name.localeCompare(b.name));
    const to = fits[0];
    if (!to) {
      const reason =
        targets.length === 0
          ? 'no live, enabled host on the same or a newer version (R3.4)'
          : `needs ${gib(vm.memory)} GiB, most free on a possible target is ${gib(Math.max(...targets.map((t) => t.free)))} GiB (R2.2)`;
      result.unplaced.push({ vm: vm.ref, vmName: vm.name, reason });
      continue;
    }
    to.free -= vm.memory;
    result.assignments.push({ vm: vm.ref, vmName: vm.name, to: to.ref, toName: to.name });
  }
  return result;
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}
