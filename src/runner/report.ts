/**
 * The precise report left by an abort (and shown by rehearse): every host's and VM's state as the pool shows it,
 * which step was in progress, and the VMs the run stopped that are not running again.
 */
import type { Run } from '../domain/types';
import { describeHost, readLivePool, type LivePool } from './pool-state';
import type { PoolClient } from './ports';
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
