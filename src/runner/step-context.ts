/**
 * The StepContext a step module runs with (step.ts): the engine builds one for each execution of a step
 * (Engine.contextFor), and the recovery procedures reuse step modules through it. It is where a step touches the
 * world: assertLive (the run still live and the pool's lease still this runner's, R3.1 / issue 16), saveData, act (the
 * audit record written before each XenAPI side effect, then the call), audit, say (the run's thread, best-effort) and
 * checkpoint (the crash tests' named points), plus the host remap of a forget-rejoin (R4.2).
 *
 * The step's store calls go through the writer it is given — the run loop's store and audit, fenced with its lease
 * once it holds one — and are tried again like the loop's own (store-calls.ts): a store error is no failure of the
 * step on the pool. A store that stays unavailable aborts the loop's controller (when the writer has one) with the
 * StoreUnavailable, so the step sends nothing further; the engine then stops the loop on it (storeStopped in
 * engine.ts), never failing the step.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Notifier } from '../domain/ports';
import { TERMINAL_RUN_STATES, type Ref, type Run, type StepRecord } from '../domain/types';
import type { auditor } from './audit';
import { RunInterrupted } from './errors';
import { midStepText, retryStoreCall, runnerAudit, StoreUnavailable, type Recorded } from './store-calls';
import type { RunStore } from './ports';
import { hostRemap } from './recovery';
import type { PoolRuntime } from './runtime';
import type { StepContext } from './step';

/** What a step's context takes from the engine. */
export interface StepContextDeps {
  clock: Clock;
  logger: Logger;
  /** this runner: the pool's lease must still be its own before a side effect */
  ownerId: string;
  /** named points where the crash tests stop the process (EngineDeps.checkpoint) */
  checkpoint?: (label: string) => Promise<void>;
  /** the engine's best-effort notifier call, queued in order per run (`say`) */
  notify(run: Run, what: keyof Notifier, fn: (n: Notifier) => Promise<void>): void;
}

/**
 * Where the step's store calls go: the run loop's store and audit (fenced once the loop holds the lease), and its
 * controller, aborted with a StoreUnavailable when the store stays unavailable for one of them.
 */
export interface StepWriter {
  store: RunStore;
  audit: ReturnType<typeof auditor>;
  controller?: AbortController;
}

/**
 * A StepContext for any step of the run (the recovery procedures reuse step modules through it). `writer` is the run
 * loop's (its store, audit and controller): the step's store calls are tried again as the loop's own (store-calls.ts).
 */
export function buildStepContext(deps: StepContextDeps, run: Run, stepId: string, signal: AbortSignal, rt: PoolRuntime, writer: StepWriter): StepContext {
  const { store, audit } = writer;
  const record = run.steps.find((s) => s.id === stepId);
  const planStep = run.plan.steps.find((s) => s.id === stepId);
  if (!record || !planStep) throw new Error(`run ${run.id} has no step ${stepId}`);
  const step: StepRecord = structuredClone(record);
  const hostPlan = step.host ? run.plan.hosts.find((h) => h.host === step.host) : undefined;
  const log = deps.logger.child({ runId: run.id, pool: run.pool, step: stepId, ...(step.hostName ? { host: step.hostName } : {}) });
  const remap = hostRemap(run);
  // A store error is no failure of the step on the pool: the call is tried again (a write after reading whether the
  // store already shows it). A store that stays unavailable aborts the loop's signal with the StoreUnavailable, so
  // the step sends nothing further even where it takes an error as one item's failure, and the loop stops on it.
  const storeCall = <T>(call: () => Promise<T>, recorded: Recorded<T> | undefined, kind: 'read' | 'write'): Promise<T> =>
    retryStoreCall({ runId: run.id, store, signal, clock: deps.clock, logger: log }, call, recorded, (err) => midStepText(stepId, kind, err)).catch((err: unknown) => {
      if (err instanceof StoreUnavailable) writer.controller?.abort(err);
      throw err;
    });
  /** an audit record of the step, tried again like the loop's (read back first: never appended twice) */
  const stepAudit = async (message: string, detail: Record<string, unknown>): Promise<{ retried: boolean }> => {
    const { append, recorded } = runnerAudit(audit, store, deps.clock, run.id, 'xenapi', message, detail);
    let retried = false;
    const tried = () =>
      append().catch((err: unknown) => {
        retried = true;
        throw err;
      });
    await storeCall(tried, recorded, 'write');
    return { retried };
  };
  const assertLive = async (): Promise<void> => {
    signal.throwIfAborted();
    // the store unreadable: no action is sent (storeCall throws, never returns without the run and its lease)
    const now = await storeCall(() => store.getRun(run.id), undefined, 'read');
    if (!now || TERMINAL_RUN_STATES.includes(now.state)) throw new RunInterrupted(`run ${run.id} is ${now?.state ?? 'gone'}: no further action`);
    // a runner that stalled past its lease may have been taken over: then only the new owner acts on the pool (R3.1)
    const lease = await storeCall(() => store.getLease(run.pool), undefined, 'read');
    if (lease && lease.owner !== deps.ownerId) {
      throw new RunInterrupted(`pool ${run.pool} is now driven by ${lease.owner}: this runner stops without acting`);
    }
  };
  return {
    run,
    step,
    planStep,
    hostPlan,
    log,
    signal,
    assertLive,
    saveData: async (patch) => {
      signal.throwIfAborted();
      const dataOf = (r: Run) => r.steps.find((x) => x.id === stepId)!.data;
      const updated = await storeCall(
        () =>
          store.updateRun(run.id, (r) => {
            const s = r.steps.find((x) => x.id === stepId)!;
            s.data = { ...(s.data ?? {}), ...patch };
          }),
        // a save committed before its answer was lost is kept (merging it again would do no harm either)
        (r) => (Object.entries(patch).every(([k, v]) => isDeepStrictEqual(dataOf(r)?.[k], v)) ? r : undefined),
        'write',
      );
      step.data = structuredClone(dataOf(updated));
    },
    act: async <T>(method: string, params: unknown[], target: string, opts: { async?: boolean; deadlineMs?: number } = {}): Promise<T> => {
      await assertLive(); // an abort from another process stops the next side effect
      // recorded BEFORE the call, fenced: a replica whose lease was taken over gets FencedError here and sends nothing
      const { retried } = await stepAudit(`${method} ${target}`, { method, target, step: stepId });
      // the store did not answer for a while: the run and the lease are checked again before the call
      if (retried) await assertLive();
      log.info({ method, target }, 'xenapi side effect');
      // the task's destroy at its end is a call too: not sent once this runner was taken over or the run ended; an
      // abort stops following the task at once (it is the pool's: left to end there, read again by a re-run)
      const result = opts.async
        ? await rt.deps.client.callAsync<T>(method, params, { deadlineMs: opts.deadlineMs, beforeDestroy: assertLive, signal })
        : await rt.deps.client.call<T>(method, params);
      await deps.checkpoint?.(`${stepId}:did:${method}`);
      return result;
    },
    audit: async (message, detail) => void (await stepAudit(message, { ...detail, step: stepId })),
    say: async (text) => deps.notify(run, 'runEvent', (n) => n.runEvent(run, text)),
    checkpoint: async (label) => {
      await deps.checkpoint?.(`${stepId}:${label}`);
    },
    resolveHost: (ref: Ref) => remap.get(ref) ?? ref,
    dataOf: (id) => run.steps.find((s) => s.id === id)?.data,
  };
}
