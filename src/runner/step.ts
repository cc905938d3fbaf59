/**
 * The contract between the engine and the step modules (the engine imports only these types).
 * A step is level-triggered: execute() re-reads what it touches and finishes whatever is left, so the engine may
 * call it again after a crash or a retry without replaying a side effect.
 */
import type { Logger } from '../log';
import type { HostPlan, PlanStep, Ref, Run, StepKind, StepRecord } from '../domain/types';
import type { StepDeps } from './ports';

export type StepOutcome =
  | { status: 'done'; note?: string }
  /** gates only: the run waits for an approver */
  | { status: 'awaiting-approval' };

export interface StepContext {
  /** the run as read when the step (re)started */
  readonly run: Run;
  /** this step's durable record; `data` is updated in place by saveData */
  readonly step: StepRecord;
  readonly planStep: PlanStep;
  /** the plan's entry for the step's host (host steps only) */
  readonly hostPlan?: HostPlan;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Merge into the step's durable data, written to the store before returning. */
  saveData(patch: Record<string, unknown>): Promise<void>;
  /**
   * Throws (RunInterrupted) when this runner must not touch the pool any more: the run was aborted or ended
   * elsewhere, or another replica holds the pool's lease now (issue 16). act() checks it before every side effect.
   */
  assertLive(): Promise<void>;
  /**
   * Audit then issue a XenAPI side effect (method and target only, never arguments that may hold secrets). `async`:
   * sent as Async.<method> and its task followed (until `deadlineMs`, absolute clock ms, else the client's default).
   */
  act<T = unknown>(method: string, params: unknown[], target: string, opts?: { async?: boolean; deadlineMs?: number }): Promise<T>;
  /** An audit record of a side effect that is not a plain XenAPI call (e.g. the database dump). */
  audit(message: string, detail?: Record<string, unknown>): Promise<void>;
  /** A thread reply; best-effort. */
  say(text: string): Promise<void>;
  /** Named point inside a step; the crash tests stop the process here. No-op otherwise. */
  checkpoint(label: string): Promise<void>;
  /** A host replaced by forget-rejoin (R4.2) maps to its new ref; others map to themselves. */
  resolveHost(ref: Ref): Ref;
  /** Data saved by another step of this run (e.g. upgrade reads stop-vms). */
  dataOf(stepId: string): Record<string, unknown> | undefined;
}

export interface StepModule {
  readonly kind: StepKind;
  execute(ctx: StepContext): Promise<StepOutcome>;
}

export type StepFactory = (deps: StepDeps) => StepModule;
