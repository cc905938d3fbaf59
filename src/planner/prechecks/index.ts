import type { PoolSnapshot, Precheck, Severity } from '../../domain/types';
import type { PrecheckContext } from '../context';
import type { ToolsGate } from '../../tools/checklist';
import { cdChecks } from './cds';
import { hostHealthChecks } from './host-health';
import { backupNote, standaloneNote, toolsNote } from './notes';
import { pausedVmChecks } from './paused';
import { poolStateChecks } from './pool-state';
import { rbacChecks } from './rbac';
import { repositoryChecks } from './repository';
import { rpuHotfixChecks } from './rpu-hotfix';
import { sanBootChecks } from './san-boot';
import { versionPathChecks } from './version-path';
import { multiHopChecks } from './multi-hop';
import { vmStopChecks } from './vm-stops';

export { versionPathChecks, poolStateChecks, pausedVmChecks, cdChecks, sanBootChecks, hostHealthChecks, vmStopChecks, repositoryChecks };
export { backupNote, toolsNote, standaloneNote };

const RANK: Record<Severity, number> = { blocker: 0, warning: 1, info: 2 };

/**
 * Every precheck, blockers first, then warnings, then notes; within a severity in the order below (stable).
 * A check that throws fails closed: its exception becomes a blocker naming the check.
 */
export function runPrechecks(snapshot: PoolSnapshot, ctx: PrecheckContext, toolsUpgrade: string[], toolsGate?: ToolsGate): Precheck[] {
  const checks: Array<[string, string, () => Precheck[]]> = [
    ['rbac', 'R2', () => rbacChecks(snapshot, ctx)],
    ['version-path', 'R1.4', () => versionPathChecks(snapshot, ctx)],
    ['multi-hop', 'R1.4', () => multiHopChecks(snapshot, ctx)],
    ['pool-state', 'R3.1', () => poolStateChecks(snapshot, ctx)],
    ['host-health', 'R3.1', () => hostHealthChecks(snapshot, ctx)],
    ['san-boot', 'R2.7', () => sanBootChecks(snapshot, ctx)],
    ['repository', 'R3.9', () => repositoryChecks(snapshot, ctx)],
    ['rpu-hotfix', 'R3.9', () => rpuHotfixChecks(snapshot, ctx)],
    ['cds', 'R2.3', () => cdChecks(snapshot, ctx)],
    ['paused', 'R3.7', () => pausedVmChecks(snapshot, ctx)],
    ['vm-stops', 'R2.2', () => vmStopChecks(snapshot, ctx)],
    ['standalone', 'R6.1', () => standaloneNote(snapshot, ctx)],
    ['backup', 'R2.1', () => backupNote(snapshot, ctx)],
    ['tools', 'R5.1', () => toolsNote(snapshot, ctx, toolsUpgrade, toolsGate)],
  ];
  const out: Precheck[] = [];
  for (const [name, rule, run] of checks) {
    try {
      out.push(...run());
    } catch (e) {
      out.push({
        id: `check-failed:${name}`,
        rule,
        severity: 'blocker',
        subjects: { hosts: [], vms: [] },
        message: `the ${name} check could not decide (${(e as Error).message}); refusing rather than guessing`,
        fix: { kind: 'manual', guidance: 'report this with the pool snapshot; plan again once fixed' },
      });
    }
  }
  return out.map((p, i) => ({ p, i })).sort((a, b) => RANK[a.p.severity] - RANK[b.p.severity] || a.i - b.i).map(({ p }) => p);
}
