import type { PoolSnapshot, Ref, SrInfo, VmInfo } from '../domain/types';

/**
 * Can a running VM live-migrate during a rolling pool upgrade, and if not, how is it stopped?
 * CD drives are ignored here: pool-prep ejects every inserted disc first (R2.3), which also removes the
 * "ISO on a local SR" obstacle to migration.
 */
export interface Mobility {
  canMigrate: boolean;
  /** rule + words, e.g. "R2.5 disks on local SR local-a2" (empty when it can migrate) */
  reason: string;
  /** how it is taken off its host when it cannot move (null: neither suspend nor shutdown is allowed) */
  stopAction: 'suspend' | 'shutdown' | null;
  /** a rule-level id for grouping prechecks: local-disk | lacks-feature | pci | blocked */
  cause?: 'local-disk' | 'lacks-feature' | 'pci' | 'blocked';
}

const blocked = (vm: VmInfo, ...ops: string[]): boolean => ops.some((o) => vm.blockedOperations.includes(o));

/**
 * suspend when xapi allows it, else shut down; null when both are blocked (the plan fails closed).
 * noSuspendSr: no suspend SR is usable from the VM's host (VM_NO_SUSPEND_SR), so suspend is not possible either.
 */
export function stopActionFor(vm: VmInfo, opts: { noSuspendSr?: boolean } = {}): 'suspend' | 'shutdown' | null {
  // VM_LACKS_FEATURE and VM_HAS_PCI_ATTACHED refuse suspend as well as migrate
  const canSuspend = !opts.noSuspendSr && !vm.lacksFeatureMigrate && !vm.hasPciPassthrough && !blocked(vm, 'suspend');
  if (canSuspend) return 'suspend';
  const canShutdown = !blocked(vm, 'clean_shutdown', 'hard_shutdown', 'shutdown');
  return canShutdown ? 'shutdown' : null;
}

export function vmMobility(vm: VmInfo, srs: Map<Ref, SrInfo>): Mobility {
  const stopAction = stopActionFor(vm);
  const local = vm.disks.map((d) => srs.get(d.sr)).filter((sr): sr is SrInfo => !!sr && !sr.shared);
  if (local.length > 0) {
    const names = [...new Set(local.map((s) => s.name))].join(', ');
    return { canMigrate: false, cause: 'local-disk', reason: `R2.5 disks on local SR ${names} (R2.6: no storage XenMotion during the upgrade)`, stopAction };
  }
  if (vm.lacksFeatureMigrate) {
    return { canMigrate: false, cause: 'lacks-feature', reason: 'R3.7 HVM guest without PV drivers or feature-suspend (VM_LACKS_FEATURE)', stopAction };
  }
  if (vm.hasPciPassthrough) {
    return { canMigrate: false, cause: 'pci', reason: 'R3.7 PCI passthrough device attached (VM_HAS_PCI_ATTACHED)', stopAction };
  }
  if (blocked(vm, 'pool_migrate')) {
    return { canMigrate: false, cause: 'blocked', reason: 'R3.7 pool_migrate is in blocked_operations', stopAction };
  }
  return { canMigrate: true, reason: '', stopAction };
}

export function mobilityMap(snapshot: PoolSnapshot): Map<Ref, Mobility> {
  const srs = new Map(snapshot.srs.map((s) => [s.ref, s]));
  return new Map(snapshot.vms.map((vm) => [vm.ref, vmMobility(vm, srs)]));
}
