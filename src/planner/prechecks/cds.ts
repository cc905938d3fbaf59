import type { HostInfo, PoolSnapshot, Precheck, SuspendedCdCycle, VmInfo } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';
import { stopActionFor } from '../mobility';
import { suspendSrFor } from '../suspend';

/**
 * R2.3: every CD/DVD drive empty. Running and halted VMs: the bot ejects (VBD.eject) in pool-prep.
 * A suspended VM's drive cannot be ejected (VBD.eject answers VM_BAD_POWER_STATE), and a VM suspended with a disc in
 * may fail to resume after the upgrade, losing its suspended state. So, before any host goes down and with the
 * plan's approval, pool-prep resumes it on a host still on the old version, ejects the disc and suspends it again.
 * When no host can do that (storage, memory, suspend SR) or the VM cannot be suspended again, the plan blocks with
 * that way out for the operator.
 */
export function cdChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const out: Precheck[] = [];
  const ejectable: Array<{ vm: string; what: string; vbd: string }> = [];
  const suspended: Array<{ vm: VmInfo; what: string[]; vbds: string[] }> = [];
  for (const vm of snapshot.vms) {
    const inserted = vm.cds.filter((cd) => !cd.empty);
    if (inserted.length === 0) continue;
    const whats = inserted.map((cd) => {
      const sr = cd.sr ? ctx.srs.get(cd.sr) : undefined;
      const local = sr && !sr.shared ? ` on local SR ${sr.name}` : '';
      return cd.isoName ? `ISO "${cd.isoName}"${local}` : 'a host physical drive';
    });
    if (vm.powerState === 'Suspended') suspended.push({ vm, what: whats, vbds: inserted.map((cd) => cd.vbd) });
    else inserted.forEach((cd, i) => ejectable.push({ vm: vm.name, what: whats[i]!, vbd: cd.vbd }));
  }
  if (ejectable.length > 0) {
    out.push({
      id: 'cd-inserted',
      rule: 'R2.3',
      severity: 'warning',
      subjects: { hosts: [], vms: [...new Set(ejectable.map((e) => e.vm))] },
      message: `${listNames(ejectable.map((e) => `${e.vm} has ${e.what}`), 4)} in its CD drive → ejected before the first host`,
      fix: { kind: 'eject-cds', vbds: ejectable.map((e) => e.vbd) },
    });
  }
  const cycles: SuspendedCdCycle[] = [];
  const stuck: string[] = [];
  for (const s of suspended) {
    const host = resumeHostFor(snapshot, ctx, s.vm);
    const desc = `${s.vm.name} (suspended) has ${s.what.join(' and ')}`;
    if (typeof host === 'string') stuck.push(`${desc}: ${host}`);
    else cycles.push({ vm: s.vm.ref, vmName: s.vm.name, host: host.ref, hostName: host.name, vbds: s.vbds });
  }
  if (cycles.length > 0) {
    out.push({
      id: 'cd-in-suspended-vm',
      rule: 'R2.3',
      severity: 'warning',
      subjects: { hosts: [...new Set(cycles.map((c) => c.hostName))], vms: cycles.map((c) => c.vmName) },
      message:
        `${listNames(suspended.filter((s) => cycles.some((c) => c.vm === s.vm.ref)).map((s) => `${s.vm.name} (suspended) has ${s.what.join(' and ')}`), 4)} in its CD drive: ` +
        `it may fail to resume after the upgrade → before the first host goes down: ${listNames(cycles.map((c) => `${c.vmName} resumed on ${c.hostName}`), 4)}, disc ejected, suspended again`,
      fix: { kind: 'cycle-suspended-cds', vms: cycles },
    });
  }
  if (stuck.length > 0) {
    out.push({
      id: 'cd-in-suspended-vm-stuck',
      rule: 'R2.3',
      severity: 'blocker',
      subjects: { hosts: [], vms: suspended.filter((s) => !cycles.some((c) => c.vm === s.vm.ref)).map((s) => s.vm.name) },
      message: `${listNames(stuck, 4)}; a VM suspended with a disc in may fail to resume after the upgrade, losing its suspended state`,
      fix: {
        kind: 'manual',
        guidance: 'resume the VM on a host not yet upgraded, eject the disc (`xe vbd-eject`), then suspend or shut it down again; then plan again',
      },
    });
  }
  return out;
}

/** The host pool-prep resumes the VM on, or why none can: still on the old version, live, enabled, sees its disks and ISO, room, suspend SR. */
function resumeHostFor(snapshot: PoolSnapshot, ctx: PrecheckContext, vm: VmInfo): HostInfo | string {
  if (['resume', 'resume_on', 'suspend'].some((op) => vm.blockedOperations.includes(op))) return 'resume or suspend is in its blocked_operations';
  if (stopActionFor(vm) !== 'suspend') return 'it could not be suspended again (no PV drivers / feature-suspend, or PCI passthrough)';
  const candidates = ctx.order.filter(
    (h) =>
      h.live &&
      h.enabled &&
      // xapi checks every VBD's SR, the inserted ISO's too (VM_REQUIRES_SR)
      [...vm.disks.map((d) => d.sr), ...vm.cds.flatMap((cd) => (cd.empty || !cd.sr ? [] : [cd.sr]))].every((sr) => h.attachedSrs.includes(sr)) &&
      h.memoryFree >= vm.memoryNeeded &&
      suspendSrFor(snapshot.pool, h, vm) !== null,
  );
  if (candidates.length === 0) return 'no host still on its old version sees its disks and its ISO, has the memory to resume it and a suspend SR';
  const preferred = candidates.find((h) => h.ref === vm.affinity);
  return preferred ?? [...candidates].sort((a, b) => b.memoryFree - a.memoryFree || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0]!;
}
