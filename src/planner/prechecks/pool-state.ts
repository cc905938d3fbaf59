import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames, plural } from '../context';

/** HA (R2.4), a run already active (R3.1), other tasks (R3.6), rolling-upgrade mode (R3.5). */
export function poolStateChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const out: Precheck[] = [];
  const none = { hosts: [], vms: [] };
  if (ctx.opts.activeRunId) {
    out.push({
      id: 'active-run',
      rule: 'R3.1',
      severity: 'blocker',
      subjects: none,
      message: `run ${ctx.opts.activeRunId} is already active on ${ctx.opts.pool}: one rolling upgrade at a time`,
      fix: { kind: 'manual', guidance: `resume, finish or abort run ${ctx.opts.activeRunId} first` },
    });
  }
  if (snapshot.pool.haEnabled) {
    out.push({
      id: 'ha-enabled',
      rule: 'R2.4',
      severity: 'warning',
      subjects: none,
      message: 'high availability is enabled: it will be disabled before the first host and re-enabled after the last',
      fix: { kind: 'disable-ha' },
    });
  }
  if (snapshot.tasks.length > 0) {
    out.push({
      id: 'tasks-running',
      rule: 'R3.6',
      severity: 'blocker',
      subjects: none,
      message: `${plural(snapshot.tasks.length, 'operation')} in progress on the pool: ${listNames(snapshot.tasks.map((t) => `${t.name} (${Math.round(t.progress * 100)}%)`), 4)}`,
      fix: { kind: 'manual', guidance: 'wait for them to finish (or cancel them with `xe task-cancel`), then plan again' },
    });
  }
  if (snapshot.pool.rollingUpgradeInProgress) {
    out.push({
      id: 'rolling-upgrade-mode',
      rule: 'R3.5',
      severity: 'warning',
      subjects: none,
      message: 'the pool is already in rolling-upgrade mode (mixed versions): this plan resumes the upgrade; finish it soon',
      fix: { kind: 'none' },
    });
  }
  return out;
}
