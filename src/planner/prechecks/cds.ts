import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';

/** R2.3: every CD/DVD drive empty. Running and halted VMs: the bot ejects (VBD.eject) in pool-prep. */
export function cdChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const out: Precheck[] = [];
  const ejectable: Array<{ vm: string; what: string; vbd: string }> = [];
  const suspended: Array<{ vm: string; what: string }> = [];
  for (const vm of snapshot.vms) {
    for (const cd of vm.cds) {
      if (cd.empty) continue;
      const sr = cd.sr ? ctx.srs.get(cd.sr) : undefined;
      const local = sr && !sr.shared ? ` on local SR ${sr.name}` : '';
      const what = cd.isoName ? `ISO "${cd.isoName}"${local}` : 'a host physical drive';
      if (vm.powerState === 'Suspended') suspended.push({ vm: vm.name, what });
      else ejectable.push({ vm: vm.name, what, vbd: cd.vbd });
    }
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
  if (suspended.length > 0) {
    out.push({
      id: 'cd-in-suspended-vm',
      rule: 'R2.3',
      severity: 'warning',
      subjects: { hosts: [], vms: [...new Set(suspended.map((e) => e.vm))] },
      message: `${listNames(suspended.map((e) => `${e.vm} (suspended) has ${e.what}`), 4)}: it may fail to resume after the upgrade`,
      fix: { kind: 'manual', guidance: 'resume the VM, eject the disc (`xe vbd-eject`), then suspend or shut it down again before starting' },
    });
  }
  return out;
}
