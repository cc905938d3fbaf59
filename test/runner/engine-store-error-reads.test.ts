/**
 * A store error on the run loop's other store calls: its read of the run at the top of each turn and before each
 * execution of a step, and the audit record of a reconnection mid-step. A read has no side effect, so it is tried
 * again; a store that stays unavailable stops the loop cleanly — lease released, the run's thread told truthfully (mid
 * step, without claiming that nothing was sent) — instead of crashing it with nobody told.
 */
import type { AuditEvent } from '../../src/domain/types';
import { openStore, type Store } from '../../src/store';
import type { PoolClient } from '../../src/runner/ports';
import type { StepRegistry } from '../../src/runner/steps';
import { XenApiConnectionError } from '../../src/xenapi/errors';
import { fastClock, makePlan, makeRun, scriptedSteps } from './helpers';
import { engineOn, executions, failingStore, thread } from './store-failures';
const client = { reconnect: async () => undefined } as unknown as PoolClient;

const setup = async (registry: StepRegistry, store: Store) => engineOn(store, registry, client);
const refused = () => new XenApiConnectionError('cannot reach 127.0.0.1: ECONNREFUSED (VM.clean_shutdown)', '127.0.0.1', 'VM.clean_shutdown', 'ECONNREFUSED');

/** A run whose backup is done: h1:disable runs next, then h1's approval gate stops it. */
async function backedUpRun(inner: Store) {
  const run = makeRun(makePlan());
  for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
  await inner.createRun(run);
  return run;
}

describe('Engine: a store error while the run loop reads the run', () => {
  it.each([1, 3])('a read at the top of a turn that fails %i time(s) is tried again, and the run goes on', async (times) => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    const { registry, seen } = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable') down.reads = times; // the next read is the loop's, once h1:disable is recorded done
      return undefined;
    });
    const t = await setup(registry, store);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.reads).toBe(times);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')!.state).toBe('done');
    expect(after.state).toBe('awaiting-approval');
    expect(executions(seen, 'h1:disable')).toBe(1);
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it('a read at the top of a turn the store never answers: the loop stops, the thread is told, the lease is released, a restarted runner goes on', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    const { registry, seen } = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable') down.reads = Number.POSITIVE_INFINITY;
      return undefined;
    });
    const t = await setup(registry, store);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.reads).toBeGreaterThan(1); // tried again before giving up
    expect(t.engine.isDriving(run.id)).toBe(false);
    const left = (await inner.getRun(run.id))!;
    expect(left.state).toBe('running');
    expect(left.steps.find((s) => s.id === 'h1:disable')!.state).toBe('done');
    expect(left.steps.find((s) => s.id === 'h1:approval')!.state).toBe('pending');
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not read the run from the store/);
    expect(said[0]).toMatch(/connection terminated unexpectedly/);
    expect(said[0]).toMatch(/No further step was started\./);
    expect(said[0]).toMatch(/restart of the bot or a Resume/);
    expect(await inner.getLease('pool-t')).toBeUndefined();

    const restarted = await setup(registry, inner);
    expect(await restarted.engine.recoverRuns()).toEqual([run.id]);
    await restarted.engine.whenIdle(run.id);
    expect((await inner.getRun(run.id))!.state).toBe('awaiting-approval');
    expect(executions(seen, 'h1:disable')).toBe(1);
    await inner.close();
  });

  it('the read before a step runs, never answered: the step is not executed, the thread says nothing was sent for it', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down } = failingStore(inner);
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = await backedUpRun(inner);
    // the start of h1:disable is recorded (state, then its audit record): the next read is the one before it runs
    down.audit = (e) => {
      if (e.message === 'h1:disable started (attempt 1)') down.reads = Number.POSITIVE_INFINITY;
      return false;
    };
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(executions(seen, 'h1:disable')).toBe(0);
    expect(t.engine.isDriving(run.id)).toBe(false);
    expect((await inner.getRun(run.id))!.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'running', attempts: 1 });
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not read the run from the store before h1:disable ran/);
    expect(said[0]).toMatch(/Nothing was sent to the pool for h1:disable\./);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    await inner.close();
  });

  it('the read before a step runs again after the pool did not answer, never answered: the thread does not claim nothing was sent', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down } = failingStore(inner);
    const { registry, seen } = scriptedSteps(async (ctx) => {
      if (ctx.step.id !== 'h1:disable') return undefined;
      down.reads = Number.POSITIVE_INFINITY; // from here on: after the reconnection's audit record
      throw refused();
    });
    const t = await setup(registry, store);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(executions(seen, 'h1:disable')).toBe(1);
    expect(t.engine.isDriving(run.id)).toBe(false);
    expect((await inner.getRun(run.id))!.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'running', attempts: 1 });
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not read the run from the store before h1:disable ran again/);
    expect(said[0]).toMatch(/may already have sent actions to the pool/);
    expect(said[0]).not.toMatch(/[Nn]othing was sent/);
    expect(said[0]).toMatch(/h1:disable runs again and reads the pool first/);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    await inner.close();
  });
});

describe('Engine: a store error while a reconnection mid-step is audited', () => {
  const reconnecting = (e: AuditEvent) => /^h1:disable: the pool did not answer/.test(e.message);

  it('an audit record that fails once is written again, and the step runs again', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    let left = 1;
    down.audit = (e) => reconnecting(e) && left-- > 0;
    const { registry, seen } = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable' && executions(seen, 'h1:disable') === 1) throw refused();
      return undefined;
    });
    const t = await setup(registry, store);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.audits).toBe(1);
    expect(executions(seen, 'h1:disable')).toBe(2);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'done', attempts: 1 });
    expect(after.state).toBe('awaiting-approval');
    expect((await inner.listAudit(run.id)).filter((e) => reconnecting(e))).toHaveLength(1);
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it('an audit record the store never takes: the loop stops, the thread says the step may have sent actions, the lease is released', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    down.audit = reconnecting;
    const { registry, seen } = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable') throw refused();
      return undefined;
    });
    const t = await setup(registry, store);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.audits).toBeGreaterThan(1);
    expect(executions(seen, 'h1:disable')).toBe(1); // not run again without its record
    expect(t.engine.isDriving(run.id)).toBe(false);
    expect((await inner.getRun(run.id))!.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'running', attempts: 1 });
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/h1:disable stopped when the pool did not answer \(.*ECONNREFUSED.*\)/);
    expect(said[0]).toMatch(/may already have sent actions to the pool/);
    expect(said[0]).not.toMatch(/[Nn]othing was sent/);
    expect(said[0]).toMatch(/connection terminated unexpectedly/);
    expect(said[0]).toMatch(/the store still shows h1:disable as running/);
    expect(said[0]).toMatch(/h1:disable runs again and reads the pool first/);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    await inner.close();
  });
});
