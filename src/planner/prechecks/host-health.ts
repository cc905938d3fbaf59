import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';

/** Hosts not live (R3.1), not enabled (R3.7), storage not attached (R2.5); inventory that cannot be trusted. */
export function hostHealthChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const out: Precheck[] = [];
  const notLive = snapshot.hosts.filter((h) => !h.live).map((h) => h.name);
  if (notLive.length > 0) {
    out.push({
      id: 'host-not-live',
      rule: 'R3.1',
      severity: 'blocker',
      subjects: { hosts: notLive, vms: [] },
      message: `${listNames(notLive)} not live (host_metrics.live = false): a host is already offline`,
      fix: { kind: 'manual', guidance: 'power the host on and wait until it is live, or remove it from the pool (`xe host-forget`)' },
    });
  }
  const disabled = snapshot.hosts.filter((h) => h.live && !h.enabled).map((h) => h.name);
  if (disabled.length > 0) {
    out.push({
      id: 'host-disabled',
      rule: 'R3.7',
      severity: 'blocker',
      subjects: { hosts: disabled, vms: [] },
      message: `${listNames(disabled)} disabled: someone may be working on it, and it cannot receive VMs`,
      fix: { kind: 'manual', guidance: 'find out why, then `xe host-enable uuid=…` (or resume the run that disabled it)' },
    });
  }
  for (const h of snapshot.hosts) {
    if (h.detachedSrs.length === 0) continue;
    const srs = h.detachedSrs.map((s) => ctx.srs.get(s)?.name ?? s);
    out.push({
      id: 'pbd-detached',
      rule: 'R2.5',
      severity: 'blocker',
      subjects: { hosts: [h.name], vms: [] },
      message: `${h.name} has storage not attached: ${listNames(srs)} (PBD currently_attached = false)`,
      fix: { kind: 'manual', guidance: `plug the PBDs (\`xe pbd-plug uuid=…\`) or repair the SR, then plan again` },
    });
  }
  // fail closed on an inventory the plan cannot reason about
  const names = new Map<string, number>();
  for (const h of snapshot.hosts) names.set(h.name, (names.get(h.name) ?? 0) + 1);
  const dup = [...names.entries()].filter(([, n]) => n > 1).map(([n]) => n);
  if (dup.length > 0) {
    out.push({
      id: 'host-names-unique',
      rule: 'R3.7',
      severity: 'blocker',
      subjects: { hosts: dup, vms: [] },
      message: `several hosts are named ${listNames(dup)}: steps and approvals name hosts, so names must be unique`,
      fix: { kind: 'manual', guidance: 'rename the hosts (`xe host-param-set name-label=…`)' },
    });
  }
  const orphans = snapshot.vms.filter((v) => v.residentOn && !ctx.hosts.has(v.residentOn)).map((v) => v.name);
  const unknownSr = snapshot.vms.filter((v) => v.disks.some((d) => !ctx.srs.has(d.sr))).map((v) => v.name);
  if (orphans.length + unknownSr.length > 0) {
    out.push({
      id: 'inventory-inconsistent',
      rule: 'R3.1',
      severity: 'blocker',
      subjects: { hosts: [], vms: [...orphans, ...unknownSr] },
      message: [
        orphans.length ? `${listNames(orphans)} resident on a host not in the pool` : '',
        unknownSr.length ? `${listNames(unknownSr)} with disks on an unknown SR` : '',
      ]
        .filter(Boolean)
        .join('; ') + ': the plan cannot place these VMs',
      fix: { kind: 'manual', guidance: 'check the pool with `xe vm-list params=all`, then plan again' },
    });
  }
  return out;
}
