import type { Plan, PoolBaseline, Run, StepRecord } from '../domain/types';
import type { RunHead } from './types';

/**
 * How a run is laid out in the store (issue 13). A run's plan and baseline are large (about 1.5 MB of plan for a
 * 64-host × 50-VM pool) and never change once written; its steps' records grow with every host (each evacuation
 * records the VMs it moved, for the move-back), yet a write of progress changes one step. Rewriting and re-reading
 * the whole run at each of the ~150 writes and reads per host made a run's CPU grow with the pool. So a run is:
 *
 *   run:<id>               the head: the run's own fields, `stepRevs` (the revision at which each step was last
 *                          written) and `hasBaseline`
 *   runplan:<id>           the plan, written with the head by createRun
 *   runbaseline:<id>       the baseline, written by the update that first records it
 *   runstep:<id>:<index>   one step's record and the revision that wrote it
 *
 * A write puts the head and the steps it changed, in one transaction. A read takes the head and only the records
 * whose revision differs from the copy this process decoded before (PartsCache): a revision is committed once, so
 * a cached copy is never stale, whichever replica wrote it. Heads written before this layout (plan, baseline and
 * steps inline) are read as they are and split at their next update.
 */

/** the run as stored under run:<id> (plan, baseline and steps are inline only in heads written before the split) */
export type StoredRunHead = RunHead & {
  plan?: Plan;
  baseline?: PoolBaseline;
  steps?: StepRecord[];
  hasBaseline?: true;
  stepRevs?: number[];
};

/** runstep:<id>:<index> */
export interface StoredStep {
  rev: number;
  step: StepRecord;
}

/** a step as this process last decoded it (frozen: shared by every run read that has not changed it since) */
export interface CachedStep {
  rev: number;
  step: Readonly<StepRecord>;
}

export interface RunParts {
  plan: Plan;
  baseline?: PoolBaseline;
  /** by step index */
  steps: Array<CachedStep | undefined>;
}

/** the head to store for `run`, whose steps were last written at `stepRevs` */
export function headOf(run: Run, stepRevs: number[]): StoredRunHead {
  const { plan: _plan, baseline, steps: _steps, ...head } = run;
  return baseline ? { ...head, hasBaseline: true, stepRevs } : { ...head, stepRevs };
}

/** the run a head makes with its plan, baseline and steps */
export function joinRun(head: StoredRunHead, plan: Plan, baseline: PoolBaseline | undefined, steps: StepRecord[]): Run {
  const rest = bareHead(head);
  return baseline ? { ...rest, plan, baseline, steps } : { ...rest, plan, steps };
}

/** the run's own fields of a stored head (whatever its layout) */
export function bareHead(head: StoredRunHead): RunHead {
  const { hasBaseline: _has, plan: _plan, baseline: _baseline, steps: _steps, stepRevs: _revs, ...rest } = head;
  return rest;
}

/** a head written before the split: plan, baseline and steps inline */
export function isInlineHead(head: StoredRunHead): head is StoredRunHead & { plan: Plan; steps: StepRecord[] } {
  return head.stepRevs === undefined;
}

/** whether `now` (a shallow copy of `before` handed to a mutate function) differs from it in any own field */
export function shallowChanged(now: object, before: object): boolean {
  const a = Object.keys(now);
  if (a.length !== Object.keys(before).length) return true;
  return a.some((k) => !Object.prototype.hasOwnProperty.call(before, k) || (now as Record<string, unknown>)[k] !== (before as Record<string, unknown>)[k]);
}

/**
 * Frozen, so that code holding a run cannot change a shared plan, baseline or step by accident: such a write throws
 * (modules run in strict mode) instead of changing what every later reader of the run sees.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** The decoded parts of the most recently used runs (a process drives a few runs at a time). */
export class PartsCache {
  private readonly entries = new Map<string, RunParts>();

  constructor(private readonly capacity = 16) {}

  get(runId: string): RunParts | undefined {
    const parts = this.entries.get(runId);
    if (parts) {
      // most recently used last
      this.entries.delete(runId);
      this.entries.set(runId, parts);
    }
    return parts;
  }

  set(runId: string, parts: RunParts): void {
    this.entries.delete(runId);
    this.entries.set(runId, parts);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }
}
