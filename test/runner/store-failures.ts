/**
 * A store that fails on demand, and an engine on it: the doubles of the engine-store-error*.test.ts files (a store
 * error while the run loop reads or records: retried, or the loop stops cleanly and the run's thread is told).
 */
import type { Store } from '../../src/store';
import { silentLogger, type Logger } from '../../src/log';
import { Engine, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import type { StepRegistry } from '../../src/runner/steps';
import type { AuditEvent, Run } from '../../src/domain/types';
import { fastClock, recordingNotifier, testRunnerConfig } from './helpers';

export interface StoreFaults {
  /** updateRun fails when this says so of the change it would make */
  update?: (before: Run, after: Run) => boolean;
  /** appendAudit fails for the events this names */
  audit?: (event: AuditEvent) => boolean;
  /** getRun fails while this is above 0, each failure counting one down */
  reads: number;
  /** listRuns, likewise */
  lists: number;
}

/**
 * `inner` with the faults of `down` (changeable during a test): 'lost' writes nothing and throws (a locked SQLite file,
 * PostgreSQL down); 'after-commit' writes, then throws (the answer to a COMMIT lost with its connection).
 */
export function failingStore(inner: Store, faults: Partial<StoreFaults> = {}, how: 'lost' | 'after-commit' = 'lost') {
  const down: StoreFaults = { reads: 0, lists: 0, ...faults };
  /** count: the writes that failed (updateRun and appendAudit) */
  const failures = { count: 0, audits: 0, reads: 0, lists: 0 };
  const fail = (): never => {
    throw new Error('store error: connection terminated unexpectedly');
  };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'updateRun') {
        const updateRun: Store['updateRun'] = async (id, mutate, opts) => {
          const before = await target.getRun(id);
          if (before && down.update) {
            const after = structuredClone(before);
            mutate(after);
            if (down.update(before, after)) {
              failures.count++;
              if (how === 'after-commit') await target.updateRun(id, mutate, opts);
              fail();
            }
          }
          return target.updateRun(id, mutate, opts);
        };
        return updateRun;
      }
      if (prop === 'appendAudit') {
        const appendAudit: Store['appendAudit'] = async (event, opts) => {
          if (down.audit?.(event)) {
            failures.count++;
            failures.audits++;
            if (how === 'after-commit') await target.appendAudit(event, opts);
            fail();
          }
          return target.appendAudit(event, opts);
        };
        return appendAudit;
      }
      if (prop === 'getRun') {
        const getRun: Store['getRun'] = async (id) => {
          if (down.reads > 0) {
            down.reads--;
            failures.reads++;
            fail();
          }
          return target.getRun(id);
        };
        return getRun;
      }
      if (prop === 'listRuns') {
        const listRuns: Store['listRuns'] = async (filter) => {
          if (down.lists > 0) {
            down.lists--;
            failures.lists++;
            fail();
          }
          return target.listRuns(filter);
        };
        return listRuns;
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { store, down, failures };
}

/** An engine (runner-a) driving `registry`'s steps on `client`, with a clock that does not wait. */
export function engineOn(store: Store, registry: StepRegistry, client: PoolClient, logger: Logger = silentLogger) {
  const clock = fastClock();
  const notifier = recordingNotifier();
  const config = testRunnerConfig('127.0.0.1');
  const rt: PoolRuntime = { steps: registry, deps: { client, store, clock, notifier, logger, config } };
  const engine = new Engine({ store, clock, notifier, logger, ownerId: 'runner-a', runtime: () => rt, leaseTtlMs: 3_600_000 });
  return { engine, notifier, clock };
}

/** How many times the step ran. */
export const executions = (seen: Array<{ id: string }>, id: string): number => seen.filter((s) => s.id === id).length;

/** What the run's thread was told (runEvent). */
export const thread = (notifier: ReturnType<typeof recordingNotifier>, runId: string): string[] =>
  notifier.calls.filter((c) => c.method === 'runEvent' && c.runId === runId).map((c) => c.text ?? '');

/** A pool client that answers 'OK' to every call sent to it and records each as `method firstParam`. */
export function recordingClient() {
  const sent: string[] = [];
  const client = {
    reconnect: async () => undefined,
    call: async (method: string, params: unknown[]) => {
      sent.push(`${method} ${String(params[0])}`);
      return 'OK';
    },
  } as unknown as PoolClient;
  return { client, sent };
}

/**
 * `store` whose read `method` (getLease: the pool's lease; listAudit: the read-back of an audit record) fails while
 * `down.reads` is above 0, each failure counting it one down and `down.failed` one up.
 */
export function failingReads(store: Store, method: 'getLease' | 'listAudit') {
  const down = { reads: 0, failed: 0 };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === method) {
        const read = target[method] as (...args: unknown[]) => Promise<unknown>;
        return async (...args: unknown[]) => {
          if (down.reads > 0) {
            down.reads--;
            down.failed++;
            throw new Error('store error: connection terminated unexpectedly');
          }
          return read.apply(target, args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { store: wrapped, down };
}
