import type { PoolSnapshot, Precheck, PrecheckFix } from '../../domain/types';
import { PrecheckContext, listNames, plural } from '../context';
import type { PlannedStop } from '../placement';

/**
 * VMs the plan takes off their host without a migration, grouped by host, cause and action, each group one
 * warning whose fix (suspend-vms / shutdown-vms) is approved with the plan:
 *   - cannot live-migrate: local disks (R2.5, R2.6), no PV drivers / VM_LACKS_FEATURE, PCI passthrough, blocked;
 *   - no allowed host had room at that moment (R2.2 with R3.4) — the plan says which VMs must be suspended;
 *   - no allowed host sees its storage (R2.5) or none runs a version it may move to (R3.4);
 *   - stand-alone host (R6.1).
 * A VM that can be neither suspended nor shut down is a blocker.
 */
const ID: Record<string, string> = {
  'local-disk': 'vm-local-storage',
  'lacks-feature': 'vm-lacks-feature',
  pci: 'vm-pci-passthrough',
  blocked: 'vm-migrate-blocked',
  memory: 'memory',
  storage: 'vm-storage-visibility',
  network: 'vm-network',
  cpu: 'vm-cpu-features',
  version: 'no-target-host',
  standalone: 'standalone',
};
const RULE: Record<string, string> = {
  'local-disk': 'R2.5',
  'lacks-feature': 'R3.7',
  pci: 'R3.7',
  blocked: 'R3.7',
  memory: 'R2.2',
  storage: 'R2.5',
  network: 'R3.7',
  cpu: 'R3.4',
  version: 'R3.4',
  standalone: 'R6.1',
};

export function vmStopChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const out: Precheck[] = [];
  const cannot: PlannedStop[] = [];
  for (const hostRef of ctx.placement.order) {
    const hp = ctx.placement.perHost.get(hostRef);
    if (!hp) continue;
    const hostName = ctx.hostName(hostRef);
    const groups = new Map<string, PlannedStop[]>();
    for (const s of hp.stops) {
      if (!s.possible) {
        cannot.push(s);
        continue;
      }
      const cause = s.cause === 'mobility' ? (ctx.mobility.get(s.vm)?.cause ?? 'blocked') : s.cause;
      const key = `${cause}|${s.action}`;
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const [key, stops] of groups) {
      const [cause, action] = key.split('|') as [string, 'suspend' | 'shutdown'];
      const verb = action === 'suspend' ? 'suspended' : 'shut down';
      const vms = stops.map((s) => s.vmName);
      const fix: PrecheckFix = action === 'suspend' ? { kind: 'suspend-vms', vms: stops.map((s) => s.vm) } : { kind: 'shutdown-vms', vms: stops.map((s) => s.vm) };
      const why =
        cause === 'memory'
          ? `the hosts allowed to receive them at that moment (R3.4) lack free memory (${stops[0].reason.replace(/^R2\.2 /, '')})`
          : cause === 'standalone'
            ? 'a stand-alone host has no migration target'
            : stops[0].reason.replace(/^R[\d.]+ /, '');
      out.push({
        id: ID[cause] ?? 'vm-stop',
        rule: RULE[cause] ?? 'R3.7',
        severity: 'warning',
        subjects: { hosts: [hostName], vms },
        message: `${listNames(vms, 4)} on ${hostName} → will be ${verb} while ${hostName} upgrades and ${action === 'suspend' ? 'resumed' : 'started'} after: ${why}`,
        fix,
      });
    }
  }
  if (cannot.length > 0) {
    out.push({
      id: 'vm-cannot-stop',
      rule: 'R3.7',
      severity: 'blocker',
      subjects: { hosts: [...new Set(cannot.map((s) => ctx.hostName(s.host)))], vms: cannot.map((s) => s.vmName) },
      message: `${listNames(cannot.map((s) => s.vmName), 4)} cannot migrate (${cannot[0].reason}) and can be neither suspended nor shut down`,
      fix: { kind: 'manual', guidance: 'remove suspend or shutdown from blocked_operations (`xe vm-param-remove param-name=blocked-operations`), or shut the VMs down yourself' },
    });
  }
  out.push(...noSuspendSrCheck(snapshot, ctx));
  const memoryStops = ctx.placement.order.flatMap((h) => ctx.placement.perHost.get(h)?.stops ?? []).filter((s) => s.cause === 'memory');
  if (memoryStops.length === 0 && ctx.order.length > 0 && snapshot.hosts.length > 1) {
    out.push({
      id: 'memory',
      rule: 'R2.2',
      severity: 'info',
      subjects: { hosts: [], vms: [] },
      message: `memory: at every step the running VMs of the host going down fit on the hosts allowed to receive them (${plural(ctx.placement.planned, 'live migration')})`,
      fix: { kind: 'none' },
    });
  }
  return out;
}

/**
 * VMs the plan would suspend but shuts down, because no suspend SR is usable from their host (pool.suspend_image_SR
 * unset or not seen there, no VM or host suspend SR): caught here so the run does not meet VM_NO_SUSPEND_SR
 * mid-host (R2.5; R6.1 on a stand-alone host). A warning: shutting down is safe, but it is not what was expected.
 */
function noSuspendSrCheck(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const stops = ctx.placement.order.flatMap((h) => ctx.placement.perHost.get(h)?.stops ?? []).filter((s) => s.noSuspendSr && s.possible);
  if (stops.length === 0) return [];
  const vms = stops.map((s) => s.vmName);
  const hosts = [...new Set(stops.map((s) => ctx.hostName(s.host)))];
  const poolSr = snapshot.pool.suspendImageSr ? (ctx.srs.get(snapshot.pool.suspendImageSr)?.name ?? snapshot.pool.suspendImageSr) : null;
  const why = poolSr ? `the pool's suspend SR ${poolSr} is not attached on ${listNames(hosts, 4)}` : 'the pool has no suspend SR (pool.suspend_image_SR is not set)';
  return [
    {
      id: 'no-suspend-sr',
      rule: snapshot.hosts.length === 1 ? 'R6.1' : 'R2.5',
      severity: 'warning',
      subjects: { hosts, vms },
      message: `${listNames(vms, 4)} cannot be suspended: ${why} (VM_NO_SUSPEND_SR), so the plan shuts ${vms.length === 1 ? 'it' : 'them'} down cleanly instead and starts ${vms.length === 1 ? 'it' : 'them'} after the upgrade`,
      fix: {
        kind: 'manual',
        guidance: 'to suspend instead, set a suspend SR every host sees (`xe pool-param-set uuid=<pool-uuid> suspend-image-SR=<sr-uuid>`) and plan again',
      },
    },
  ];
}
