import type { HostInfo, PoolSnapshot, Ref, VmInfo } from '../domain/types';

/**
 * Where VM.suspend would write the VM's memory image, as xapi chooses it (Helpers.choose_suspend_sr): the VM's
 * suspend_SR, else pool.suspend_image_SR, else the host's suspend_image_sr — the first one the VM's host has a PBD
 * for. None → VM_NO_SUSPEND_SR. (pool.default_SR plays no part.) The image can only be written when that host's
 * PBD for the chosen SR is attached.
 *
 *   'unknown'  the snapshot did not read these fields (older snapshots): nothing is assumed, suspend stays allowed
 *   Ref        the SR the image goes to
 *   null       no usable suspend SR: the VM must be shut down instead (R2.5, R6.1)
 */
export function suspendSrFor(pool: PoolSnapshot['pool'], host: HostInfo, vm: VmInfo): Ref | null | 'unknown' {
  if (pool.suspendImageSr === undefined && host.suspendImageSr === undefined && vm.suspendSr === undefined) return 'unknown';
  const hasPbd = (sr: Ref): boolean => host.attachedSrs.includes(sr) || host.detachedSrs.includes(sr);
  const chosen = [vm.suspendSr, pool.suspendImageSr, host.suspendImageSr].find((sr): sr is Ref => !!sr && hasPbd(sr));
  return chosen && host.attachedSrs.includes(chosen) ? chosen : null;
}
