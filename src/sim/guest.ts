/**
 * Guest features as xapi 7.1 judges them (xapi_vm_lifecycle.ml `check_op_for_feature`, strict): a running HVM guest
 * WITHOUT PV drivers (no VM_guest_metrics, or an empty PV_drivers_version) needs the feature flags its guest agent
 * writes to VM_guest_metrics.other; a guest with PV drivers has every feature implicitly (reference xenapi.md §3).
 */
import { Db, NULL_REF, Rec } from './db';

/** Operations that need a guest feature, and the flags of which at least one must be "1". */
const NEEDS: Record<string, string[]> = {
  suspend: ['feature-suspend'],
  checkpoint: ['feature-suspend'],
  pool_migrate: ['feature-suspend'],
  migrate_send: ['feature-suspend'],
  clean_shutdown: ['feature-shutdown', 'feature-poweroff'],
  clean_reboot: ['feature-shutdown', 'feature-reboot'],
};

/** Xapi_pv_driver_version.of_guest_metrics ≠ Unknown: the drivers reported their version. */
export function hasPvDrivers(gm: Rec | undefined): boolean {
  const v = gm?.PV_drivers_version as Record<string, string> | undefined;
  return v !== undefined && v.major !== undefined && v.minor !== undefined;
}

/** True when xapi refuses `op` on this VM with VM_LACKS_FEATURE [vm]. */
export function lacksFeatureFor(db: Db, vm: Rec, op: string): boolean {
  const needs = NEEDS[op];
  if (!needs || vm.power_state !== 'Running' || vm.is_control_domain) return false;
  const metrics = db.find('VM_metrics', vm.metrics as string);
  if (metrics && metrics.hvm === false) return false; // PV guests offer every feature
  const gm = vm.guest_metrics === NULL_REF ? undefined : db.find('VM_guest_metrics', vm.guest_metrics as string);
  if (hasPvDrivers(gm)) return false;
  const other = (gm?.other ?? {}) as Record<string, string>;
  return !needs.some((f) => other[f] === '1');
}
