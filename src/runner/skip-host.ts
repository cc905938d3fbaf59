/**
 * What Skip host leaves a host as, judged from the run's records only (never assumed): the failure alert's confirm
 * says it before the click (src/slack/blocks/failure.ts), the run's thread after it (src/core/run-decisions.ts).
 * Skip host marks every step of the host not done as skipped (recovery.ts).
 */
import type { Run, StepRecord } from '../domain/types';

export type SkippedHostState =
  /** the run saw it back on the target (its wait-host is done), at `at` */
  | { kind: 'back-on-target'; at?: number }
  /** it was on the target before the run (it only gets updates) */
  | { kind: 'was-on-target' }
  /** its upgrade was sent (the host taken down) and the run has not seen it back */
  | { kind: 'version-unknown' }
  /** last seen on its old version with its upgrade prepared or applied: its next reboot brings it up upgraded */
  | { kind: 'upgrade-pending'; applied: boolean }
  /** nothing of its upgrade was sent */
  | { kind: 'old-version' };

export function skippedHostState(run: Run, step: StepRecord): SkippedHostState {
  const steps = run.steps.filter((s) => s.host === step.host);
  const back = steps.find((s) => s.kind === 'wait-host' && s.state === 'done');
  if (back) return { kind: 'back-on-target', at: back.endedAt };
  const hp = run.plan.hosts.find((h) => h.host === step.host || h.name === step.hostName);
  if (hp && hp.from.product === hp.to.product && !hp.alreadyDone) return { kind: 'was-on-target' };
  const upgrade = steps.find((s) => s.kind === 'upgrade');
  const data = (upgrade?.data ?? {}) as { shutdownIssued?: boolean; prepared?: boolean; updateApplied?: boolean };
  if (step.kind === 'wait-host' || upgrade?.state === 'done' || data.shutdownIssued) return { kind: 'version-unknown' };
  if (data.prepared || data.updateApplied) return { kind: 'upgrade-pending', applied: !!data.updateApplied };
  return { kind: 'old-version' };
}

/** The host's steps not done (what Skip host skips), by kind. */
export function stepsNotDone(run: Run, step: StepRecord): string[] {
  return run.steps.filter((s) => s.host === step.host && s.state !== 'done').map((s) => s.kind);
}
