/**
 * The precise report left by an abort (and shown by rehearse): every host's and VM's state as the pool shows it,
 * which step was in progress, and the VMs the run stopped that are not running again.
 */
import type { Run } from '../domain/types';
import { describeHost, readLivePool, type LivePool } from './pool-state';
import type { PoolClient } from './ports';
import { hostRemap } from './recovery';
import { isOnTarget, skippedHostRefs } from './steps/common';
import type { StoppedVm } from './steps/stop-vms';

export function stoppedNotRestored(run: Run, pool?: LivePool): Array<{ name: string; host: string; state: string }> {
  const out: Array<{ name: string; host: string; state: string }> = [];
  for (const s of run.steps) {
    if (s.kind !== 'stop-vms') continue;
    for (const [ref, v] of Object.entries((s.data?.stopped ?? {}) as Record<string, StoppedVm>)) {
      if (v.untouched) continue;
      const live = pool?.vms.find((x) => x.ref === ref);
      if (live?.powerState === 'Running') continue;
      out.push({ name: v.name, host: s.hostName ?? '?', state: live?.powerState ?? 'unknown' });
    }
  }
  return out;
}

/**
 * What a run that reached its last step leaves behind, as the pool shows it: hosts whose steps were skipped and that
 * are not enabled on the target, VMs it stopped that are not running, HA that was on before and is off now. An empty
 * list means "every host upgraded"; anything else is said in the run's outcome, never hidden behind "done".
 */
export function leftoversAtEnd(run: Run, pool: LivePool | undefined): string[] {
  const remap = hostRemap(run);
  const skippedHosts = skippedHostRefs(run);
  const stopped = stoppedNotRestored(run, pool);
  if (!pool) {
    return skippedHosts.length || stopped.length ? ['the pool did not answer at the end: check the skipped hosts and the VMs this run stopped'] : [];
  }
  const out: string[] = [];
  for (const ref of skippedHosts) {
    const planned = run.plan.hosts.find((h) => h.host === ref);
    const live = pool.hosts.find((h) => h.ref === (remap.get(ref) ?? ref));
    if (!live) out.push(`${planned?.name ?? ref} skipped and no longer in the pool`);
    else if (!live.live || !live.enabled || (planned && !isOnTarget(live, planned.to))) out.push(`${live.name} skipped: ${describeHost(live)}`);
  }
  // restore-vms recorded them: their disks were on a reinstalled host's local storage (R4.2), VM_REQUIRES_SR observed
  const lost = new Set(run.steps.flatMap((s) => (s.data?.lostWithHost ?? []) as string[]));
  const lostNow = stopped.filter((v) => lost.has(v.name));
  const notRestored = stopped.filter((v) => !lost.has(v.name));
  if (lostNow.length) out.push(`lost with the local storage of the reinstalled host (R4.2, restore from backup): ${lostNow.map((v) => `${v.name} (was on ${v.host})`).join(', ')}`);
  if (notRestored.length) out.push(`stopped by this run and not running again: ${notRestored.map((v) => `${v.name} (${v.state}, was on ${v.host})`).join(', ')}`);
  const ha = run.steps.find((s) => s.kind === 'pool-prep')?.data?.ha as { wasEnabled?: boolean } | undefined;
  if (ha?.wasEnabled && !pool.haEnabled) out.push('HA was enabled before the run and is disabled now (R2.4)');
  return out;
}

export async function runReport(client: PoolClient | undefined, run: Run): Promise<string> {
  const lines: string[] = [];
  const inProgress = run.steps.filter((s) => s.state === 'running' || s.state === 'awaiting-approval' || s.state === 'failed');
  lines.push(`steps: ${run.steps.filter((s) => s.state === 'done').length}/${run.steps.length} done${inProgress.length ? `; stopped at ${inProgress.map((s) => `${s.id} (${s.state})`).join(', ')}` : ''}`);
  let pool: LivePool | undefined;
  try {
    if (client) pool = await readLivePool(client);
  } catch (err) {
    lines.push(`pool unreachable while reporting: ${(err as Error).message}`);
  }
  if (pool) {
    const byRef = new Map(pool.hosts.map((h) => [h.ref, h.name]));
    lines.push('hosts:', ...pool.hosts.map((h) => `  ${describeHost(h)}`));
    lines.push(
      'VMs:',
      ...pool.vms
        .slice()
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((v) => `  ${v.name}: ${v.powerState}${v.residentOn ? ` on ${byRef.get(v.residentOn) ?? v.residentOn}` : ''}`),
    );
  }
  const left = stoppedNotRestored(run, pool);
  if (left.length) lines.push(`stopped by this run and not running again: ${left.map((v) => `${v.name} (${v.state}, was on ${v.host})`).join(', ')}`);
  return lines.join('\n');
}
