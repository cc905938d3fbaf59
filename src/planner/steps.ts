import type { HostInfo, Migration, PlanStep, PrecheckFix, UpgradeMode, VmInfo } from '../domain/types';
import { listNames, plural, type HopContext } from './context';
import { DURATIONS, migrationSeconds } from './durations';
import type { UpgradeTarget } from './paths';
import type { HostPlacement } from './placement';

/** Where the VMs go, in words: "xs-a2 (2), xs-a3 (2)" */
export function destinations(migrations: Migration[]): string {
  const count = new Map<string, number>();
  for (const m of migrations) count.set(m.toName, (count.get(m.toName) ?? 0) + 1);
  return [...count.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([n, c]) => `${n} (${c})`)
    .join(', ');
}

/** " (no suspend SR)" when VMs are shut down only because no suspend SR is usable (R2.5, R6.1) */
function noSuspendSrNote(shutdown: HostPlacement['stops']): string {
  const noSr = shutdown.filter((s) => s.noSuspendSr).map((s) => s.vmName);
  if (noSr.length === 0) return '';
  return noSr.length === shutdown.length ? ' (no suspend SR)' : ` (${listNames(noSr, 4)}: no suspend SR)`;
}

export function poolPrepStep(fixes: PrecheckFix[]): PlanStep {
  const words: string[] = [];
  let seconds = DURATIONS.poolPrepBase;
  for (const f of fixes) {
    if (f.kind === 'disable-ha') {
      words.push('disable HA (R2.4; re-enabled at the end)');
      seconds += DURATIONS.disableHa;
    }
    if (f.kind === 'eject-cds') {
      words.push(`eject ${plural(f.vbds.length, 'CD')} (R2.3)`);
      seconds += DURATIONS.ejectCd * f.vbds.length;
    }
    if (f.kind === 'cycle-suspended-cds') {
      words.push(`resume ${listNames(f.vms.map((v) => `${v.vmName} on ${v.hostName}`), 4)}, eject ${f.vms.length === 1 ? 'its disc' : 'their discs'} and suspend ${f.vms.length === 1 ? 'it' : 'them'} again (R2.3)`);
      seconds += f.vms.length * (DURATIONS.resumePerVm + DURATIONS.ejectCd + DURATIONS.suspendPerVm);
    }
  }
  return { id: 'pool-prep', kind: 'pool-prep', description: `Prepare the pool: ${words.join(', ')}`, expectedSeconds: seconds, fixes };
}

export function backupStep(mixedMode = false, lastUsable?: { path: string; runId: string }): PlanStep {
  return {
    id: 'backup',
    kind: 'backup',
    description: mixedMode
      ? `Dump the pool database (pool-dump-database, R2.1): the pool is in mixed mode, so xapi returns a stub with no pool data — not a backup${lastUsable ? `; the last usable backup is ${lastUsable.path} (run ${lastUsable.runId})` : ''}`
      : 'Back up the pool database (pool-dump-database) before any change (R2.1)',
    expectedSeconds: DURATIONS.backup,
  };
}

export function poolFinishStep(haWasEnabled: boolean, toolsCount: number, nonFinalHop?: HopContext, cleanUpdates = false): PlanStep {
  const words = [
    // R3.10: nothing left over; an update a host still lacks keeps its files (runner/update-files.ts)
    ...(cleanUpdates ? ['remove from the SR the update ISOs the run uploads, once every host has them (pool_update.pool_clean; the updates stay listed as applied) (R3.10)'] : []),
    ...(haWasEnabled ? ['re-enable HA (R2.4)'] : []),
    // R5.3: no Tools advice before the last hop; the next hop is re-planned from the live pool and started by a human
    nonFinalHop
      ? `re-read the pool and post the plan of hop ${nonFinalHop.current.index + 1} (to ${nonFinalHop.final.label}), which starts only when someone starts it (R1.4)`
      : toolsCount > 0
        ? `remind: upgrade XenServer Tools in ${plural(toolsCount, 'VM')} (R5.1)`
        : 'remind: check XenServer Tools in the VMs (R5.1)',
  ];
  return {
    id: 'pool-finish',
    kind: 'pool-finish',
    description: `Finish: ${words.join('; ')}`,
    expectedSeconds: DURATIONS.poolFinishBase + (haWasEnabled ? DURATIONS.enableHa : 0),
  };
}

/** What a host's gate lets happen to it, as the upgrade step does it (src/runner/steps/upgrade.ts). */
const GATE_WORDS: Record<UpgradeMode, (host: string, target: string) => string> = {
  manual: (h, t) => `shut down ${h} and upgrade it to ${t}`,
  automatic: (h, t) => `reboot ${h} into the installer and upgrade it to ${t}`,
  update: (h, t) => `upgrade ${h} to ${t} with the update ISO and reboot it`,
};

export function hostSteps(
  host: HostInfo,
  hp: HostPlacement,
  opts: { mode: UpgradeMode; target: UpgradeTarget; vms: Map<string, VmInfo>; moveBack: boolean },
): PlanStep[] {
  const n = host.name;
  const base = { host: host.ref, hostName: n };
  const mem = (ref: string): number => opts.vms.get(ref)?.memoryNeeded ?? 0;
  const steps: PlanStep[] = [];
  steps.push({
    ...base,
    id: `${n}:disable`,
    kind: 'disable',
    description: host.isMaster
      ? `Disable the master ${n} (host.disable; never maintenance mode, which would elect a new master: R3.3)`
      : `Disable ${n} (host.disable) so no VM starts on it (R3.3)`,
    expectedSeconds: DURATIONS.disable,
  });
  steps.push({
    ...base,
    id: `${n}:evacuate`,
    kind: 'evacuate',
    description: hp.migrations.length
      ? `Live-migrate ${plural(hp.migrations.length, 'VM')} off ${n} → ${destinations(hp.migrations)} (R3.1, R3.7)`
      : `Check that no VM still runs on ${n} (nothing to migrate)`,
    expectedSeconds: hp.migrations.reduce((s, m) => s + migrationSeconds(mem(m.vm)), 0),
    migrations: hp.migrations,
  });
  // The human gate comes before any VM downtime (issue 10.7): live migrations above, stops and the shutdown below.
  const stopWords = hp.stops.length
    ? `; first ${listNames(hp.stops.map((x) => `${x.action === 'suspend' ? 'suspend' : 'shut down'} ${x.vmName}`), 4)}`
    : '';
  steps.push({
    ...base,
    id: `${n}:approval`,
    kind: 'approval',
    description: `Approval: ${GATE_WORDS[opts.mode](n, opts.target.product)}${stopWords}`,
    expectedSeconds: DURATIONS.approval,
  });
  if (hp.stops.length) {
    const suspend = hp.stops.filter((s) => s.action === 'suspend');
    const shutdown = hp.stops.filter((s) => s.action === 'shutdown');
    const fixes: PrecheckFix[] = [
      ...(suspend.length ? [{ kind: 'suspend-vms' as const, vms: suspend.map((s) => s.vm) }] : []),
      ...(shutdown.length ? [{ kind: 'shutdown-vms' as const, vms: shutdown.map((s) => s.vm) }] : []),
    ];
    steps.push({
      ...base,
      id: `${n}:stop-vms`,
      kind: 'stop-vms',
      description: [
        suspend.length ? `suspend ${listNames(suspend.map((s) => s.vmName), 4)}` : '',
        shutdown.length ? `shut down ${listNames(shutdown.map((s) => s.vmName), 4)}${noSuspendSrNote(shutdown)}` : '',
      ]
        .filter(Boolean)
        .join('; ')
        .replace(/^./, (c) => c.toUpperCase()) + ` (cannot stay running while ${n} is down)`,
      expectedSeconds: suspend.length * DURATIONS.suspendPerVm + shutdown.length * DURATIONS.shutdownPerVm,
      stops: hp.stops.map(({ vm, vmName, host: h, action, reason }) => ({ vm, vmName, host: h, action, reason })),
      fixes,
    });
  }
  const how: Record<UpgradeMode, string> = {
    automatic: `Prepare ${n} from the install repository (prepare_host_upgrade.py main), then reboot it into the installer (host.reboot)`,
    manual: `Shut ${n} down (host.shutdown); an operator boots it from the ${opts.target.label} media and chooses Upgrade (R3.7, R3.9)`,
    update: `Apply the ${opts.target.label} update ISO to ${n} (pool_update.apply), then reboot it (R1.3)`,
  };
  steps.push({ ...base, id: `${n}:upgrade`, kind: 'upgrade', description: how[opts.mode], expectedSeconds: DURATIONS.upgrade[opts.mode] });
  steps.push({
    ...base,
    id: `${n}:wait-host`,
    kind: 'wait-host',
    description: `Wait for ${n} to come back on ${opts.target.product} (boot_time changes, product_version ${opts.target.product})`,
    expectedSeconds: DURATIONS.waitHost[opts.mode],
  });
  steps.push({ ...base, id: `${n}:enable`, kind: 'enable', description: `Enable ${n} (host.enable)`, expectedSeconds: DURATIONS.enable });
  if (hp.stops.length) {
    const suspend = hp.stops.filter((s) => s.action === 'suspend').length;
    const shutdown = hp.stops.length - suspend;
    steps.push({
      ...base,
      id: `${n}:restore-vms`,
      kind: 'restore-vms',
      description: `Resume/start on ${n} the ${plural(hp.stops.length, 'VM')} stopped for it`,
      expectedSeconds: suspend * DURATIONS.resumePerVm + shutdown * DURATIONS.startPerVm,
      stops: hp.stops.map(({ vm, vmName, host: h, action, reason }) => ({ vm, vmName, host: h, action, reason })),
    });
  }
  if (opts.moveBack && hp.moveBack.length) {
    steps.push({
      ...base,
      id: `${n}:move-back`,
      kind: 'move-back',
      description:
        `Move ${plural(hp.moveBack.length, 'VM')} back to ${n} (return policy original)` +
        (hp.staysAway.length ? `; ${plural(hp.staysAway.length, 'VM')} stay away for lack of room` : ''),
      expectedSeconds: hp.moveBack.reduce((s, m) => s + migrationSeconds(mem(m.vm)), 0),
      migrations: hp.moveBack,
    });
  }
  return steps;
}
