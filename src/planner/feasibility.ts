import type { Ref, VmInfo } from '../domain/types';

/**
 * Network and CPU parts of placement's feasibility predicate (placement.ts `refusal`), as xapi checks them on
 * VM.pool_migrate and resume (reference xapi-real-behaviour.md top 3 and 5).
 */

/** CPU features as xapi writes them ("1fcbfbff-f7fa3203-…") → 32-bit words */
export function cpuWords(features: string): number[] {
  return features.split('-').map((w) => Number.parseInt(w, 16) >>> 0);
}

/** Cpuid_helpers.assert_vm_is_compatible: every feature the VM booted with is offered by the host. */
export function cpuCompatible(flags: string, host: number[]): boolean {
  return cpuWords(flags).every((w, i) => (w & ~(host[i] ?? 0)) >>> 0 === 0);
}

/**
 * The VM's networks the host has no PIF on (VM_REQUIRES_NETWORK; an internal network, with no PIF anywhere, is
 * never on another host). Nothing is checked when either side was not read (null/absent).
 */
export function missingNetworks(vm: Pick<VmInfo, 'networks'>, hostNetworks: Set<Ref> | null): Ref[] {
  if (!hostNetworks || !vm.networks) return [];
  return vm.networks.filter((n) => !hostNetworks.has(n));
}
