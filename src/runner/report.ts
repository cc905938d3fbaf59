/**
 * The precise report left by an abort (and shown by rehearse): every host's and VM's state as the pool shows it,
 * which step was in progress, and the VMs the run stopped that are not running again.
 */
import type { Clock } from '../clock';
import type { EndAudit, PoolSnapshot, Run } from '../domain/types';
import { readSnapshot } from '../inventory';
import { baselineOfRun } from './baseline';
import { auditEnd } from './end-audit';
import { auditUpdates } from './updates-audit';
import { describeHost, readLivePool, type LivePool } from './pool-state';
import type { PoolClient, RunStore } from './ports';
import { mayHaveStopped, type StoppedVm } from './steps/stop-vms';

export function stoppedNotRestored(run: Run, pool?: LivePool): Array<{ name: string; host: string; state: string }> {
  const out: Array<{ name: string; host: string; state: string }> = [];
  for (const s of run.steps) {
    if (s.kind !== 'stop-vms') continue;
    for (const [ref, v] of Object.entries((s.data?.stopped ?? {}) as Record<string, StoppedVm>)) {
      if (!mayHaveStopped(v)) continue;
      const live = pool?.vms.find((x) => x.ref === ref);
      if (live?.powerState === 'Running') continue;
      out.push({ name: v.name, host: s.hostName ?? '?', state: live?.powerState ?? 'unknown' });
    }
  }
  return out;
}

/** An earlier run of the pool that disabled HA (R2.4): said at the end when HA was already off before this run. */
async function earlierHaRun(store: Pick<RunStore, 'listRuns'>, run: Run): Promise<string | undefined> {
  const runs = await store.listRuns({ pool: run.pool });
  const earlier = runs
    .filter((r) => r.id !== run.id && r.createdAt <= run.createdAt)
    .sort((a, b) => b.createdAt - a.createdAt)
    .find((r) => (r.steps.find((s) => s.kind === 'pool-prep')?.data?.ha as { wasEnabled?: boolean } | undefined)?.wasEnabled === true);
  return earlier?.id;
}

/** Read the live pool (one snapshot) and audit it against the run's baseline and target (end-audit.ts). */
export async function endAuditOf(deps: { client: PoolClient | undefined; clock: Clock; store: Pick<RunStore, 'listRuns'> }, run: Run): Promise<EndAudit> {
  let snapshot: PoolSnapshot | undefined;
  let readError: string | undefined;
  try {
    if (!deps.client) throw new Error('the pool is not configured in this process');
    snapshot = await readSnapshot(deps.client, deps.clock);
  } catch (err) {
    readError = (err as Error).message ?? String(err);
  }
  let before;
  try {
    before = baselineOfRun(run);
  } catch (err) {
    // a damaged record must not leave the run unfinished: audit without it, and say so
    const audit = auditEnd({ run: { ...run, baseline: undefined }, snapshot, readError, now: deps.clock.now() });
    return { ...audit, leftovers: [`the record of the pool before the run is unreadable (${(err as Error).message}): only what the run stopped was checked`, ...audit.leftovers] };
  }
  const earlier = snapshot && before && !before.haEnabled && !snapshot.pool.haEnabled ? await earlierHaRun(deps.store, run) : undefined;
  const audit = auditEnd({ run, snapshot, readError, earlierHaRun: earlier, now: deps.clock.now() });
  if (!run.plan.updates || readError) return audit;
  const upd = await auditUpdates(deps.client, run);
  return {
    ...audit,
    ...(upd.updates ? { updates: upd.updates } : {}),
    ...(upd.updateFiles ? { updateFiles: upd.updateFiles } : {}),
    leftovers: [...audit.leftovers, ...upd.leftovers],
    changed: [...audit.changed, ...upd.changed],
  };
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
