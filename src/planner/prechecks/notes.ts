import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames, plural } from '../context';
import type { ToolsGate } from '../../tools/checklist';

/** R2.1 the database backup the bot takes first; R5.1/R5.3 the Tools upgrade left to do at the end. */
export function backupNote(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  if (ctx.order.length === 0) return [];
  if (snapshot.pool.rollingUpgradeInProgress) {
    // xapi answers pool-dump-database with a stub (every table empty) while the pool is mixed: never call it a backup
    const last = ctx.opts.lastUsableBackup;
    return [
      {
        id: 'backup',
        rule: 'R2.1',
        severity: 'warning',
        subjects: { hosts: [], vms: [] },
        message:
          'no usable backup of the pool database can be taken now: the pool is in mixed mode, so pool-dump-database returns a stub with no pool data. ' +
          (last
            ? `The last usable backup of ${ctx.opts.pool} the bot took is ${last.path} (run ${last.runId}).`
            : `The bot took no usable backup of ${ctx.opts.pool}: a roll-back would have to rely on a backup you took yourself.`),
        fix: { kind: 'none' },
      },
    ];
  }
  return [
    {
      id: 'backup',
      rule: 'R2.1',
      severity: 'info',
      subjects: { hosts: [], vms: [] },
      message: 'the pool database is backed up (pool-dump-database) before the first host; the run records the file and its sha256',
      fix: { kind: 'none' },
    },
  ];
}

export function toolsNote(_snapshot: PoolSnapshot, ctx: PrecheckContext, toolsUpgrade: string[], gate?: ToolsGate): Precheck[] {
  // a middle hop of a chain (R1.4): no Tools advice; the multi-hop precheck 'tools-after-last-hop' says why (R5.3)
  if (ctx.hop?.nonFinal) return [];
  if (!ctx.target || toolsUpgrade.length === 0 || (gate && !gate.ok)) return [];
  return [
    {
      id: 'tools',
      rule: 'R5.1',
      severity: 'info',
      subjects: { hosts: [], vms: toolsUpgrade },
      message: `after the last host: ${plural(toolsUpgrade.length, 'VM')} need their XenServer Tools upgraded (${listNames(toolsUpgrade, 4)}); R5.3: if ${ctx.target.product} is not your final version, wait for the last one`,
      fix: { kind: 'none' },
    },
  ];
}

/** R6: a stand-alone host has no migration target (the VMs it stops are listed by vm-stops as R6.1). */
export function standaloneNote(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  if (snapshot.hosts.length !== 1 || ctx.order.length === 0) return [];
  const h = snapshot.hosts[0];
  const stops = ctx.placement.perHost.get(h.ref)?.stops ?? [];
  const suspendWithCd = stops
    .filter((s) => s.action === 'suspend' && ctx.vms.get(s.vm)?.cds.some((c) => !c.empty))
    .map((s) => s.vmName);
  return [
    {
      id: 'standalone-host',
      rule: 'R6.2',
      severity: 'info',
      subjects: { hosts: [h.name], vms: [] },
      message:
        `stand-alone host ${h.name}: disable it, stop or suspend its ${plural(stops.length, 'running VM')}, upgrade, then start/resume them` +
        (suspendWithCd.length ? `; the CD drives of ${listNames(suspendWithCd, 4)} are emptied before they are suspended (R6.1, R2.3)` : ''),
      fix: { kind: 'none' },
    },
  ];
}
