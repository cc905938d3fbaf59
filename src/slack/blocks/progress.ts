import type { HostPlan, Plan, Run, StepKind, StepRecord } from '../../domain/types';
import { isUpdateOnly } from '../../planner/render/updates';

/** What a run's steps mean per host, for the header, approvals and the end summary. Pure. */

export type HostPhase = 'already-done' | 'waiting' | 'in-progress' | 'awaiting-approval' | 'failed' | 'aborted' | 'upgraded' | 'skipped';

export interface HostProgress {
  name: string;
  isMaster: boolean;
  phase: HostPhase;
  /** the step running, waiting or failed, when there is one */
  current?: StepRecord;
  /** at its gate: what approving does to it (waitingForApproval) */
  waitingFor?: string;
  /** when the host came back on the target (end of its wait-host step) */
  upgradedAt?: number;
  /**
   * Skipped (Skip host) after its upgrade (or its updates, R3.10) was started: that step, and the steps not done.
   * Without it, a skipped host never started its upgrade.
   */
  skippedAfter?: { started: 'upgrade' | 'apply-updates'; notDone: StepKind[] };
  from: string;
  to: string;
}

const ACTIVE: Record<StepKind, string> = {
  backup: 'backing up the pool database',
  'pool-prep': 'preparing the pool',
  disable: 'disabling the host',
  evacuate: 'evacuating VMs',
  'stop-vms': 'stopping VMs that cannot move',
  approval: 'waiting for approval',
  upgrade: 'upgrading',
  'wait-host': 'waiting for the host to come back',
  enable: 'enabling the host',
  'restore-vms': 'restarting the VMs it stopped',
  'move-back': 'moving VMs back',
  'pool-finish': 'finishing the pool',
  'upload-updates': 'uploading the update ISOs',
  'apply-updates': 'applying its updates',
};

export function activeWords(kind: StepKind): string {
  return ACTIVE[kind] ?? kind;
}

/**
 * shutdown: upgraded by hand from the media (manual, R3.7: host.shutdown); installer: rebooted into the installer
 * (automatic, R3.9); update: upgraded by an update ISO, then rebooted (R1.3); reboot, toolstack, none: a host already
 * on the target getting its updates (R3.10)
 */
export type GateEffect = 'shutdown' | 'installer' | 'update' | 'reboot' | 'toolstack' | 'none';

/**
 * What approving a host's gate lets happen to it, from the plan for it: an upgrade takes it down, as the plan's mode
 * does it (src/runner/steps/upgrade.ts: host.shutdown in manual mode, host.reboot otherwise); a host already on the
 * target only gets its updates (R3.10), with the one restart they need — a reboot, a toolstack restart (VMs keep
 * running), or none. The runner may need less than planned (a livepatch), never more.
 */
export function gateEffect(run: Run, step: StepRecord): GateEffect {
  return hostGateEffect(run.plan, planHostOf(run, step));
}

/** gateEffect for host `hp` of `plan` (the plan message, before there is a run). */
export function hostGateEffect(plan: Plan, hp: HostPlan | undefined): GateEffect {
  const hu = plan.updates?.hosts.find((h) => h.host === hp?.host);
  if (!hp || !hu || !isUpdateOnly(hp)) return UPGRADE_EFFECT[plan.mode];
  return hu.restart === 'host' ? 'reboot' : hu.restart;
}

const UPGRADE_EFFECT: Record<Plan['mode'], GateEffect> = { manual: 'shutdown', automatic: 'installer', update: 'update' };

const WAITING_FOR: Record<GateEffect, string> = {
  shutdown: 'waiting for approval to shut down',
  installer: 'waiting for approval to reboot into the installer',
  update: 'waiting for approval to upgrade and reboot',
  reboot: 'waiting for approval to reboot',
  toolstack: 'waiting for approval to restart its toolstack',
  none: 'waiting for approval to apply its updates',
};

/** A host waiting at its gate, in words that say what approving does to it. */
export function waitingForApproval(run: Run, gate: StepRecord): string {
  return WAITING_FOR[gateEffect(run, gate)];
}

function stepsOf(run: Run, host: HostPlan): StepRecord[] {
  return run.steps.filter((s) => s.host === host.host || (s.host === undefined && s.hostName === host.name));
}

export function hostProgress(run: Run): HostProgress[] {
  return run.plan.hosts.map((h) => {
    const base = { name: h.name, isMaster: h.isMaster, from: h.from.product, to: h.to.product };
    const steps = stepsOf(run, h);
    if (h.alreadyDone || steps.length === 0) return { ...base, phase: 'already-done' as const };
    // seen back on the target (its wait-host done): it stays on the target whatever a later step does
    const back = steps.find((s) => s.kind === 'wait-host' && s.state === 'done');
    const failed = steps.find((s) => s.state === 'failed');
    // a step stopped by an abort did not fail: the host is shown as aborted (issue 11.7)
    if (failed) {
      const phase = run.state === 'aborted' && failed.error?.message.startsWith('interrupted: run aborted') ? ('aborted' as const) : ('failed' as const);
      return { ...base, phase, current: failed, upgradedAt: back?.endedAt };
    }
    const gate = steps.find((s) => s.state === 'awaiting-approval');
    if (gate) return { ...base, phase: 'awaiting-approval' as const, current: gate, waitingFor: waitingForApproval(run, gate) };
    const running = steps.find((s) => s.state === 'running');
    if (running) return { ...base, phase: 'in-progress' as const, current: running, upgradedAt: back?.endedAt };
    if (steps.every((s) => s.state === 'done' || s.state === 'skipped')) {
      const skipped = steps.filter((s) => s.state === 'skipped');
      if (skipped.length === 0) return { ...base, phase: 'upgraded' as const, upgradedAt: back?.endedAt };
      // Skip host marks every step not done: a host skipped after its upgrade started is not "upgraded" unless it
      // was seen back on the target (its wait-host done), and its skipped steps are still to do
      const main = steps.find((s) => s.kind === 'upgrade') ?? steps.find((s) => s.kind === 'apply-updates');
      if (!main || main.state === 'skipped') return { ...base, phase: 'skipped' as const };
      const started = main.kind === 'upgrade' ? ('upgrade' as const) : ('apply-updates' as const);
      return { ...base, phase: 'skipped' as const, upgradedAt: back?.endedAt, skippedAfter: { started, notDone: skipped.map((s) => s.kind) } };
    }
    if (steps.some((s) => s.state !== 'pending')) {
      const next = steps.find((s) => s.state === 'pending');
      return { ...base, phase: 'in-progress' as const, current: next, upgradedAt: back?.endedAt };
    }
    return { ...base, phase: 'waiting' as const };
  });
}

/** Hosts on the target version now (already there, or back from their upgrade). */
export function isOnTarget(p: HostProgress): boolean {
  // a host only getting updates was on the target version before its updates (R3.10)
  return p.phase === 'already-done' || p.phase === 'upgraded' || p.upgradedAt !== undefined || p.skippedAfter?.started === 'apply-updates';
}

/**
 * R3.5: the pool is in mixed mode while some hosts run the target and others the old version.
 * `since` is when the first host came back on the target (undefined if it was mixed before the run).
 */
export function mixedMode(run: Run): { mixed: boolean; since?: number; onTarget: string[]; behind: string[] } {
  const progress = hostProgress(run);
  const onTarget = progress.filter(isOnTarget).map((p) => p.name);
  const behind = progress.filter((p) => !isOnTarget(p)).map((p) => p.name);
  const times = progress.map((p) => p.upgradedAt).filter((t): t is number => t !== undefined);
  const alreadyMixed = progress.some((p) => p.phase === 'already-done') && behind.length > 0;
  return {
    mixed: onTarget.length > 0 && behind.length > 0,
    since: alreadyMixed || times.length === 0 ? undefined : Math.min(...times),
    onTarget,
    behind,
  };
}

/** "2/3": the host's position among the hosts this run upgrades. */
export function hostPosition(run: Run, hostName: string | undefined): string {
  const todo = run.plan.hosts.filter((h) => !h.alreadyDone);
  const i = todo.findIndex((h) => h.name === hostName);
  return i === -1 ? '' : `${i + 1}/${todo.length}`;
}

export function planHostOf(run: Run, step: StepRecord): HostPlan | undefined {
  return run.plan.hosts.find((h) => h.host === step.host || h.name === step.hostName);
}
