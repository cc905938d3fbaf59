import type { Actor, Plan, RecoveryAction, Run, StepRecord, UpgradeMode } from './types';

/**
 * How the runner reports. Implemented by slack/, cli/ and (through Slack) the sandbox.
 * Informational calls are best-effort: a failing notifier never stops or delays a run.
 * Gates are state in the store, never a message: the notifier only announces them.
 */
export interface Notifier {
  /** A run was created (post the run header). */
  runStarted(run: Run): Promise<void>;
  /** Anything in the run changed (refresh the header in place). */
  runUpdated(run: Run): Promise<void>;
  /** A thread reply for an event that matters (host down, host back on 7.6.0, VMs restored). */
  runEvent(run: Run, text: string): Promise<void>;
  /** A gate is waiting for an approver. */
  approvalNeeded(run: Run, step: StepRecord): Promise<void>;
  /** A gate was decided (replace its buttons by who decided and when). */
  approvalDecided(run: Run, step: StepRecord, decision: 'approved' | 'held' | 'aborted', by: string): Promise<void>;
  /** A step failed; `actions` are the recovery actions valid for it. */
  stepFailed(run: Run, step: StepRecord, actions: RecoveryAction[]): Promise<void>;
  /** The run reached done / aborted / rolled-back. */
  runFinished(run: Run): Promise<void>;
  /** A pool-level notice in the pool's channel, outside any run thread (schedules, watchdogs, digest). */
  poolNotice(pool: string, text: string): Promise<void>;
  /**
   * Multi-hop (R1.4): `run` was a non-final hop; `plan` is the next hop's, made from the live pool. Post it in the
   * run's thread with its Start button (the next hop starts only when a human starts it). Optional: a notifier
   * without it gets the plan as a runEvent text.
   */
  hopPlanned?(run: Run, plan: Plan): Promise<void>;
}

export type CoreResult<T> = { ok: true; value: T } | { ok: false; error: string; code: CoreErrorCode };

export type CoreErrorCode =
  | 'not-found'
  | 'forbidden' // not an approver, self-approval, wrong channel
  | 'conflict' // stale or duplicate action, run already active, state changed
  | 'invalid' // bad input
  | 'blocked' // plan has blockers
  | 'unavailable' // pool unreachable
  | 'store-unavailable'; // the bot's own store unreachable (the pool may have been acted on: the error says what)

export interface PoolStatus {
  name: string;
  channel?: string;
  target: string;
  mode: UpgradeMode;
  activeRun?: { id: string; state: string };
  lastPlan?: { id: string; executable: boolean; createdAt: number };
}

export interface RecoveryRequest {
  action: RecoveryAction;
  stepId: string;
  /**
   * the step's attempt whose failure the requester saw (a failure alert's): refused once the step has run again
   * since (a later failure, perhaps of another kind, that the requester has not seen). Absent: the current failure.
   */
  attempt?: number;
  /** for forget-rejoin: the reinstalled host's management address */
  address?: string;
  /**
   * for forget-rejoin over https: the SHA-256 fingerprint of the certificate the host at `address` presented
   * (probeNewHost) and an approver confirmed. The bot logs in there only pinned to it (R4.2, issue 10).
   */
  fingerprint256?: string;
}

/** What the bot saw at a forget & rejoin address before trusting it (nothing sent there, no login). */
export interface NewHostProbe {
  address: string;
  /** absent over plain http (pool tls: insecure-http): the host's identity cannot be verified */
  certificate?: { fingerprint256: string; subject: string; issuer: string; selfSigned: boolean; validFrom: string; validTo: string };
  /** VMs with a disk on the old host's local storage: lost with the reinstall (R2.5, R4.2), never "running again" */
  lostVms: string[];
}

/**
 * The one core API every interface (Slack, CLI, scheduler, sandbox) calls.
 * Authorisation (approvers, self-approval, channel) is enforced here, so no interface can skip it;
 * every refusal is audited.
 */
export interface Core {
  listPools(): Promise<PoolStatus[]>;
  plan(pool: string, opts: { target?: string; mode?: UpgradeMode }, actor: Actor): Promise<CoreResult<Plan>>;
  /** Start from the latest plan of the pool (re-validated: if planHash is given it must match). */
  /** planHash/planMadeAt: the plan the user saw (a Start button); it must be the pool's latest and not started yet */
  start(pool: string, opts: { planHash?: string; planMadeAt?: number }, actor: Actor): Promise<CoreResult<Run>>;
  approve(runId: string, stepId: string, actor: Actor): Promise<CoreResult<Run>>;
  /**
   * Hold a gate (stepId given) or pause the run (no stepId): a run paused this way lets the host in progress
   * finish and stops before the next host shutdown (used by a maintenance window's end).
   */
  hold(runId: string, stepId: string | undefined, actor: Actor): Promise<CoreResult<Run>>;
  resume(runId: string, actor: Actor): Promise<CoreResult<Run>>;
  abort(runId: string, actor: Actor): Promise<CoreResult<Run>>;
  recover(runId: string, req: RecoveryRequest, actor: Actor): Promise<CoreResult<Run>>;
  /**
   * Forget & rejoin, first half (R4.2): connect to `address` and read its certificate, and list the VMs lost with the
   * old host's local storage. Changes nothing; the same rights as recover. The approver confirms the fingerprint,
   * then recover(forget-rejoin, address, fingerprint256) does the rest.
   */
  probeNewHost(runId: string, stepId: string, address: string, actor: Actor): Promise<CoreResult<NewHostProbe>>;
  /** Aborted runs: put back what the run changed on its current host (host enabled, VMs it stopped, HA). */
  restore(runId: string, actor: Actor): Promise<CoreResult<Run>>;
  /** The pool's hosts as the live pool shows them now (version, enabled, live): for watchdogs that must not trust a stale plan. */
  liveHosts(pool: string): Promise<CoreResult<Array<{ name: string; product: string; build: string; enabled: boolean; live: boolean }>>>;
  getRun(runId: string): Promise<Run | undefined>;
  /** active run of a pool, or the latest one */
  status(poolOrRun?: string): Promise<Run[]>;
  history(pool: string, limit?: number): Promise<Run[]>;
}
