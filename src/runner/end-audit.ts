/**
 * The end of a run (done, aborted, rolled back) is an audit of the live pool, not of the plan (issue 11): the pool
 * as it is now is compared with the baseline recorded before the first change (baseline.ts) and with the target.
 * It names every host not on the target or not enabled, every VM that ran before and does not now — with what is
 * known of why, worded as the pool's answer or as the bot's conclusion — HA now versus before, whether the backup
 * can restore the pool, and counts of what really happened. Pure: the engine and the core read the pool.
 */
import type { EndAudit, PoolBaseline, PoolSnapshot, Ref, Run, VmDownCause } from '../domain/types';
import { baselineOfRun } from './baseline';
import { hostRemap } from './remap';
import { isOnTarget, versionText } from './steps/common';
import { isUp, wantedState } from './steps/restore-vms';
import { mayHaveStopped, type StoppedVm } from './steps/stop-vms';

export interface EndAuditInput {
  run: Run;
  /** the live pool at the end; undefined when it did not answer (then `readError` says why) */
  snapshot?: PoolSnapshot;
  readError?: string;
  /** an earlier run of the pool that disabled HA (R2.4), when HA was already off before this one */
  earlierHaRun?: string;
  now: number;
}

interface BackupData {
  path?: string;
  mixedMode?: boolean;
  holdsPoolData?: boolean;
}

/** Whether the run's R2.1 backup can restore the pool: a stub dump (mixed mode) holds no pool data. */
export function backupVerdict(run: Run): EndAudit['backup'] {
  const step = run.steps.find((s) => s.kind === 'backup');
  const data = (step?.data ?? {}) as BackupData;
  if (!step || step.state !== 'done' || !data.path) return { usable: false, why: 'no backup was taken by this run' };
  if (data.mixedMode || data.holdsPoolData === false) {
    return {
      usable: false,
      path: data.path,
      why: `${data.path} is not a backup: the pool was in mixed mode, so xapi returned a stub database holding no pool data (R2.1)`,
    };
  }
  return { usable: true, path: data.path, why: `${data.path} holds the pool database as it was before the run (R2.1)` };
}

/**
 * VMs this run stopped, by ref: stop-vms records of a stop that was carried out, not those of the VMs it found already
 * down, nor of a stop xapi refused (the VM kept running). A stop whose answer never came counts when the pool shows
 * the VM down (an end not read from the pool counts only the stops that answered).
 */
function stoppedByRun(run: Run, snapshot: PoolSnapshot | undefined): Map<Ref, StoppedVm & { forHost: string }> {
  const out = new Map<Ref, StoppedVm & { forHost: string }>();
  const down = (ref: Ref) => ['Halted', 'Suspended'].includes(snapshot?.vms.find((v) => v.ref === ref)?.powerState ?? '');
  for (const s of run.steps) {
    if (s.kind !== 'stop-vms') continue;
    for (const [ref, v] of Object.entries((s.data?.stopped ?? {}) as Record<string, StoppedVm>)) {
      if (mayHaveStopped(v) && (v.stopped !== false || down(ref))) out.set(ref, { ...v, forHost: s.hostName ?? '?' });
    }
  }
  return out;
}

/** Where each VM was last put by the run (evacuations and moves back, in step order), starting from the baseline. */
function lastKnownHosts(run: Run, baseline: PoolBaseline, remap: Map<Ref, Ref>): Map<Ref, Ref | null> {
  const at = new Map<Ref, Ref | null>(baseline.vms.map((v) => [v.ref, v.host]));
  for (const s of run.steps) {
    // where the run moved them, or found them moved by someone else
    if (s.kind === 'evacuate') for (const [vm, m] of Object.entries({ ...(s.data?.elsewhere ?? {}), ...(s.data?.moved ?? {}) } as Record<string, { to: Ref }>)) at.set(vm, m.to);
    if (s.kind === 'move-back' && s.state === 'done' && s.host) {
      for (const m of run.plan.steps.find((p) => p.id === s.id)?.migrations ?? []) at.set(m.vm, remap.get(s.host) ?? s.host);
    }
  }
  return at;
}

const parseBoot = (v: unknown): number | null | undefined => (v === undefined ? undefined : v === null ? null : Number.parseFloat(String(v)));
const sameBoot = (a: number | null | undefined, b: number | null): boolean => a === undefined || (a === null ? b === null : b !== null && Math.abs(a - b) < 0.001);

/**
 * Did the host restart without the bot rebooting it? Evidence, as the pool showed it: its boot_time just before the
 * run's own reboot differs from the baseline's, or its boot_time now differs from the one seen after the run's last
 * reboot of it (its updates' reboot, R3.10, else its upgrade's; the baseline's when the run never rebooted it), or it
 * is not live now.
 */
function restartedOutsideRun(run: Run, baseline: PoolBaseline, live: { ref: Ref; live: boolean; bootTime: number | null }, remap: Map<Ref, Ref>): boolean {
  if (!live.live) return true;
  const planned = [...remap.entries()].find(([, to]) => to === live.ref)?.[0] ?? live.ref;
  if (planned !== live.ref) return false; // a rejoined host: a fresh install, nothing recorded to compare with
  const base = baseline.hosts.find((h) => h.ref === planned)?.bootTime;
  const dataOf = (kind: string) => run.steps.find((s) => s.kind === kind && s.host === planned)?.data;
  const beforeReboot = parseBoot(dataOf('upgrade')?.bootTimeBefore);
  if (base !== undefined && beforeReboot !== undefined && !sameBoot(base, beforeReboot)) return true;
  const updates = dataOf('apply-updates') as { restart?: { method?: string } | null; bootTimeAfter?: number | null } | undefined;
  // the updates' reboot comes after wait-host's: once recorded, only its boot_time (unknown if not saved: no verdict)
  if (updates?.restart?.method === 'host.reboot') return !sameBoot(typeof updates.bootTimeAfter === 'number' ? updates.bootTimeAfter : undefined, live.bootTime);
  const afterReboot = dataOf('wait-host')?.bootTimeAfter;
  const expected = typeof afterReboot === 'number' ? afterReboot : dataOf('upgrade')?.shutdownIssued ? undefined : base;
  return !sameBoot(expected, live.bootTime);
}

export function auditEnd(input: EndAuditInput): EndAudit {
  const { run, snapshot } = input;
  const remap = hostRemap(run);
  const baseline = baselineOfRun(run);
  const backup = backupVerdict(run);
  const stopped = stoppedByRun(run, snapshot);
  const haSaved = run.steps.find((s) => s.kind === 'pool-prep')?.data?.ha as { wasEnabled?: boolean } | undefined;
  const disabledByRun = haSaved?.wasEnabled === true;
  const haBefore = baseline?.haEnabled ?? disabledByRun;
  // live migrations the run recorded as carried out: off each host (evacuate) and home again (move-back)
  const recorded = (kind: string, key: string) => run.steps.filter((s) => s.kind === kind).reduce((n, s) => n + Object.keys((s.data?.[key] ?? {}) as object).length, 0);
  const migrated = recorded('evacuate', 'moved') + recorded('move-back', 'movedBack');
  const target = run.plan.target;

  if (!snapshot) {
    return {
      at: input.now,
      unreadable: input.readError ?? 'no answer',
      ...(baseline ? {} : { noBaseline: true }),
      allOnTarget: false,
      behind: run.plan.hosts.map((h) => h.name),
      hosts: [],
      vms: [],
      ha: { before: haBefore, now: null, disabledByRun },
      backup,
      counts: { migrated, stopped: stopped.size, restarted: 0 },
      changed: [],
      leftovers: [`the pool did not answer at the end (${input.readError ?? 'no answer'}): what this run leaves behind could not be checked`],
    };
  }

  // hosts: every planned host (its new record after forget & rejoin) must be live, enabled and on the target
  const hosts: EndAudit['hosts'] = [];
  const behind: string[] = [];
  for (const hp of run.plan.hosts) {
    const h = snapshot.hosts.find((x) => x.ref === (remap.get(hp.host) ?? hp.host));
    if (!h) {
      behind.push(hp.name);
      hosts.push({ name: hp.name, detail: 'no longer a member of the pool', ref: hp.host });
      continue;
    }
    const onTarget = isOnTarget({ product: h.version.product, build: h.version.build }, hp.to);
    if (!onTarget) behind.push(h.name);
    const issues = [
      ...(h.live ? [] : ['not live']),
      ...(h.enabled ? [] : [baseline?.hosts.find((b) => b.ref === hp.host)?.enabled === false ? 'disabled (it was disabled before the run too)' : 'disabled']),
      ...(onTarget ? [] : [`on ${versionText(h.version)}, not ${target.product}`]),
    ];
    // `behind` and the entry carry the live name; `ref` (the plan's) finds the planned host of a renamed one
    // the build too: a host on the target's product but another build is behind (isOnTarget), and the Tools gate must see why
    if (issues.length) hosts.push({ name: h.name, detail: issues.join(', '), ref: hp.host, version: h.version.product, ...(h.version.build ? { build: h.version.build } : {}) });
  }

  const allOnTarget = behind.length === 0;

  // VMs: every guest that ran before the run, and every one Paused before that the run stopped (or, without a
  // baseline, every VM the run stopped that was up); each is due back as it was before (restore-vms' wantedState)
  const vms: EndAudit['vms'] = [];
  const lostWithHost = new Set(run.steps.flatMap((s) => ((s.data?.lostWithHost as string[] | undefined) ?? [])));
  const replacedOld = new Set(remap.keys());
  const hostName = (ref: Ref | null | undefined): string =>
    (ref && (snapshot.hosts.find((h) => h.ref === ref)?.name ?? baseline?.hosts.find((h) => h.ref === ref)?.name ?? run.plan.hosts.find((h) => h.host === ref)?.name)) || '?';
  const upBefore = baseline
    ? baseline.vms.filter((v) => v.powerState === 'Running' || (v.powerState === 'Paused' && stopped.has(v.ref)))
    : [...stopped.entries()].filter(([, v]) => isUp(v.priorState)).map(([ref, v]) => ({ ref, name: v.name, host: v.host, srs: [] as PoolBaseline['vms'][number]['srs'] }));
  const lastHost = baseline ? lastKnownHosts(run, baseline, remap) : new Map<Ref, Ref | null>();
  /** the VMs the run stopped that run again as before, and those Paused again as before (R3.7/R6.2) */
  let restarted = 0;
  let backPaused = 0;
  for (const b of upBefore) {
    const live = snapshot.vms.find((v) => v.ref === b.ref);
    const byRun = stopped.get(b.ref);
    const was = byRun ? wantedState(byRun) : 'Running';
    if (live?.powerState === was) {
      if (byRun && was === 'Running') restarted++;
      else if (byRun) backPaused++;
      continue;
    }
    const add = (cause: VmDownCause, why: string) => vms.push({ name: live?.name ?? b.name, cause, now: live?.powerState ?? 'gone', why });
    const lostSr = b.srs.find((sr) => !sr.shared && sr.host && replacedOld.has(sr.host));
    if (!live) {
      add('gone', 'no longer exists in the pool');
    } else if (lostWithHost.has(b.name) || lostSr) {
      const sr = lostSr ?? b.srs.find((x) => !x.shared);
      const liveSr = sr ? snapshot.srs.find((x) => x.ref === sr.ref) : undefined;
      const evidence = sr ? (liveSr ? (liveSr.attachedHosts.length ? '' : `; the pool shows ${sr.name} attached to no host`) : `; the pool no longer lists ${sr.name}`) : '';
      add(
        'lost-local-storage',
        `its disks were on the local storage of ${hostName(sr?.host ?? b.host)}, which was reinstalled (forget & rejoin, R4.2)${evidence}: the bot concludes they are gone; restore it from a VM backup`,
      );
    } else if (byRun && isUp(live.powerState)) {
      add('left-as-found', leftAsFoundWhy(byRun, live.powerState));
    } else if (byRun) {
      const how = `${byRun.action === 'suspend' ? 'suspended' : 'shut down'} by this run for ${byRun.forHost}`;
      add('stopped-by-run', was === 'Paused' ? `${how} and not brought back (the pool shows it ${live.powerState}; it was Paused before the run)` : `${how} and not started again (the pool shows it ${live.powerState})`);
    } else {
      const where = lastHost.get(b.ref) ?? b.host;
      const resolved = where ? (remap.get(where) ?? where) : null;
      const h = resolved ? snapshot.hosts.find((x) => x.ref === resolved) : undefined;
      if (h && baseline && restartedOutsideRun(run, baseline, h, remap)) {
        add(
          'host-restarted',
          h.live
            ? `it was on ${h.name}, which restarted during the run without the bot rebooting it (its boot_time changed): the bot concludes ${h.name} lost power or was restarted from outside`
            : `it was on ${h.name}, which is not live now: the bot concludes it went down with ${h.name}`,
        );
      } else {
        const ranOn = `the pool shows it ${live.powerState}${h ? ` (it ran on ${h.name})` : ''}`;
        // Paused is not stopped; the bot never pauses a VM (R3.7/R6.2), so who did is the bot's conclusion
        add(
          'outside',
          live.powerState === 'Paused'
            ? `${ranOn}; this run did not pause it (the bot never pauses a VM): the bot concludes someone else did, presumably on purpose`
            : `${ranOn}; this run never stopped it: it was stopped from outside the bot`,
        );
      }
    }
  }

  // HA: as before the run, and not left off by an earlier run
  const haNow = snapshot.pool.haEnabled;
  let haLine: string | undefined;
  if (haBefore && !haNow) {
    haLine = `HA is off: it was on before the run${disabledByRun ? ' and this run disabled it (R2.4)' : ''}; ${allOnTarget ? 're-enable it (xe pool-ha-enable)' : 'it can be re-enabled once every host is on the target (xapi refuses HA in a mixed pool)'}`;
  } else if (!haBefore && !haNow && input.earlierHaRun) {
    haLine = `HA is off, as it was before this run: run ${input.earlierHaRun} disabled it (R2.4) and it has not been re-enabled since`;
  }

  // what differs from the baseline (the abort summary's "still changed")
  const changed: string[] = [];
  if (baseline) {
    for (const b of baseline.hosts) {
      const h = snapshot.hosts.find((x) => x.ref === (remap.get(b.ref) ?? b.ref));
      if (!h) {
        changed.push(`${b.name} is no longer a member of the pool`);
        continue;
      }
      const what = [
        ...(b.live && !h.live ? ['not live'] : []),
        ...(b.enabled && !h.enabled ? ['disabled'] : []),
        ...(versionText({ product: b.product, build: b.build }) !== versionText(h.version) ? [`on ${versionText(h.version)} (was ${versionText({ product: b.product, build: b.build })})`] : []),
      ];
      if (what.length) changed.push(`${h.name} ${what.join(', ')}`);
    }
    const movedVms = baseline.vms.filter((b) => {
      const v = snapshot.vms.find((x) => x.ref === b.ref);
      return b.powerState === 'Running' && v?.powerState === 'Running' && b.host && v.residentOn !== (remap.get(b.host) ?? b.host);
    });
    if (movedVms.length) changed.push(`${movedVms.length} running VM(s) on another host than before (live-migrated): ${movedVms.map((v) => v.name).slice(0, 8).join(', ')}${movedVms.length > 8 ? ', …' : ''}`);
  }
  changed.push(...vms.map((v) => `${v.name} ${v.now}: ${v.why}`));
  if (haBefore && !haNow) changed.push(`HA off (it was on before the run${disabledByRun ? '; this run disabled it, R2.4' : ''})`);

  const leftovers = [
    ...hosts.map((h) => `${h.name}: ${h.detail}`),
    ...vms.map((v) => `${v.name} (${v.now}): ${v.why}`),
    ...notBroughtBack(run, snapshot, remap, hostName),
    ...(haLine ? [haLine] : []),
  ];
  return {
    at: input.now,
    ...(baseline ? {} : { noBaseline: true }),
    allOnTarget,
    behind,
    hosts,
    vms,
    ha: { before: haBefore, now: haNow, disabledByRun, ...(haLine ? { line: haLine } : {}) },
    backup,
    counts: { migrated, stopped: stopped.size, restarted, ...(backPaused ? { backPaused } : {}) },
    leftovers,
    changed,
  };
}

/**
 * A VM the run stopped, up now in the other state than before the run: the run only ever brings a VM back as it was
 * (R3.7/R6.2: start_paused only for a VM that was Paused, never VM.unpause), so someone else changed it after the stop.
 * restore-vms leaves it as found (leftAsFound) and does not count it restored; neither does the audit.
 */
function leftAsFoundWhy(rec: StoppedVm & { forHost: string }, now: string): string {
  const did = now === 'Paused' ? 'paused it' : 'started or unpaused it';
  const hint = now === 'Paused' ? 'unpause it (xe vm-unpause) if it should run' : 'pause it if it should stay paused';
  return (
    `stopped by this run for ${rec.forHost} (${rec.action === 'suspend' ? 'suspended' : 'shut down'}); the pool shows it ${now}, not ${wantedState(rec)} as before the run: ` +
    `the bot concludes someone ${did} after the run stopped it (the run brings a VM back only as it was), presumably on purpose; it was left as found, not counted as restored: ${hint}`
  );
}

/**
 * Return policy "original": the VMs a skipped move-back (Skip host after the host was evacuated) would have brought
 * home and that run elsewhere now. The VMs the plan itself left where they were (no room back home) are not
 * leftovers: the plan said so before the run.
 */
function notBroughtBack(run: Run, snapshot: PoolSnapshot, remap: Map<Ref, Ref>, hostName: (ref: Ref | null | undefined) => string): string[] {
  if (run.plan.returnPolicy !== 'original') return [];
  const out: string[] = [];
  for (const s of run.steps) {
    if (s.kind !== 'move-back' || s.state !== 'skipped' || !s.host || !s.hostName) continue;
    const home = remap.get(s.host) ?? s.host;
    const planned = (run.plan.steps.find((p) => p.id === s.id)?.migrations ?? []).map((m) => m.vm);
    const moved = Object.keys((run.steps.find((x) => x.id === `${s.hostName}:evacuate`)?.data?.moved ?? {}) as object);
    for (const ref of new Set([...planned, ...moved])) {
      const vm = snapshot.vms.find((v) => v.ref === ref);
      if (vm?.powerState !== 'Running' || vm.residentOn === home) continue;
      out.push(`${vm.name}: running on ${hostName(vm.residentOn)}, not back on ${s.hostName}: its move back was skipped (return policy "original")`);
    }
  }
  return out;
}

/** The outcome line of a run that reached its last step: "done" only when nothing is left over. */
export function doneOutcome(run: Run, audit: EndAudit): string {
  if (audit.leftovers.length) return `done with exceptions: ${audit.leftovers.join('; ')}`;
  return `done: every host on ${run.plan.target.product} and enabled; every VM that ran before runs${audit.ha.now ? '; HA on' : ''}`;
}

/**
 * The first line of an aborted run's outcome once a Restore has run: the abort (its first clause, `abortLine`), then
 * what the pool shows after the Restore, so that the header and `status` no longer say what Restore put back.
 */
export function restoredOutcome(abortLine: string, by: string, audit: EndAudit): string {
  return `${abortLine}; after Restore by ${by}: ${abortedOutcome(by, audit).replace(/^aborted by [^;]*; /, '')}`;
}

/** The first line of an aborted run's outcome: what remains changed, or that nothing does. */
export function abortedOutcome(by: string, audit: EndAudit): string {
  if (audit.unreadable) return `aborted by ${by}; ${audit.leftovers.join('; ')}`;
  if (audit.noBaseline) return `aborted by ${by}; no record of the pool before the run: see the report below`;
  return audit.changed.length
    ? `aborted by ${by}; still changed: ${audit.changed.join('; ')}`
    : `aborted by ${by}; nothing left changed: hosts, running VMs and HA are as they were before the run`;
}
