/**
 * A store error while the engine records the START of a step (the step marked running with its attempt count, and
 * its audit record) or the pool's baseline before the first change: nothing was sent to the pool yet, so the write is
 * tried again, and a store that stays unavailable stops the loop cleanly — lease released, the run's thread told
 * truthfully — instead of crashing it with nobody told.
 */
import { openStore, type Store } from '../../src/store';
import type { PoolClient } from '../../src/runner/ports';
import type { StepRegistry } from '../../src/runner/steps';
import type { Run } from '../../src/domain/types';
import { FakePool } from './fake-pool';
import { fastClock, makePlan, makeRun, scriptedSteps } from './helpers';
import { engineOn, executions, failingStore, thread } from './store-failures';

/** A pool client that reads a small pool (enough for the baseline) and counts its reads of the pool record. */
function readingClient() {
  const pool = new FakePool([{ name: 'h1', master: true, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'] }], [{ name: 'app', host: 'h2', memGiB: 4, disks: ['nfs'] }]);
  const reads = { pool: 0 };
  const client = {
    reconnect: async () => undefined,
    getAllRecords: async (cls: Parameters<FakePool['getAllRecords']>[0]) => {
      if (cls === 'pool') reads.pool++;
      return pool.getAllRecords(cls);
    },
  } as unknown as PoolClient;
  return { client, reads };
}

/** Up to `times` writes that make `stepId` running (from any other state) fail. */
const starts = (stepId: string, times = 1) => {
  let left = times;
  return (before: Run, after: Run) => {
    const was = before.steps.find((s) => s.id === stepId)!;
    const now = after.steps.find((s) => s.id === stepId)!;
    if (now.state !== 'running' || now.attempts === was.attempts || left === 0) return false;
    left--;
    return true;
  };
};

/** Up to `times` writes that record the baseline fail. */
const recordsBaseline = (times = 1) => {
  let left = times;
  return (before: Run, after: Run) => {
    if (before.baseline || !after.baseline || left === 0) return false;
    left--;
    return true;
  };
};

const setup = async (registry: StepRegistry, store: Store, client: PoolClient = readingClient().client) => engineOn(store, registry, client);

describe('Engine: a store error while the start of a step is recorded', () => {
  it.each(['lost', 'after-commit'] as const)('a start write that fails once (%s) is written again: the attempt is counted once, the step runs once, the run goes on', async (how) => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, { update: starts('h1:disable') }, how);
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBe(1);
    const after = (await inner.getRun(run.id))!;
    const disable = after.steps.find((s) => s.id === 'h1:disable')!;
    expect(disable.state).toBe('done');
    expect(disable.attempts).toBe(1); // also when the first write had in fact been committed
    expect(executions(seen, 'h1:disable')).toBe(1);
    expect(after.state).toBe('awaiting-approval');
    expect((await inner.listAudit(run.id)).filter((e) => e.message === 'h1:disable started (attempt 1)')).toHaveLength(1);
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it('a start write the store never takes: nothing is sent, the thread is told, the lease is released, a restarted runner runs the step', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, { update: starts('h1:disable', Number.POSITIVE_INFINITY) }, 'lost');
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBeGreaterThan(1); // tried again before giving up
    expect(executions(seen, 'h1:disable')).toBe(0);
    expect(t.engine.isDriving(run.id)).toBe(false);
    const left = (await inner.getRun(run.id))!;
    expect(left.state).toBe('running');
    expect(left.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'pending', attempts: 0 });
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not record that h1:disable starts \(attempt 1\)/);
    expect(said[0]).toMatch(/connection terminated unexpectedly/);
    expect(said[0]).toMatch(/Nothing was sent to the pool for h1:disable\./);
    expect(said[0]).toMatch(/restart of the bot or a Resume/);
    expect(await inner.getLease('pool-t')).toBeUndefined();

    const restarted = await setup(registry, inner);
    expect(await restarted.engine.recoverRuns()).toEqual([run.id]);
    await restarted.engine.whenIdle(run.id);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'done', attempts: 1 });
    expect(after.state).toBe('awaiting-approval');
    await inner.close();
  });

  it('a resumed step whose start write the store never takes: the thread says nothing was sent in this attempt', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store } = failingStore(inner, { update: starts('h1:disable', Number.POSITIVE_INFINITY) }, 'lost');
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
    Object.assign(run.steps.find((s) => s.id === 'h1:disable')!, { state: 'running', attempts: 1, startedAt: 0 });
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(executions(seen, 'h1:disable')).toBe(0);
    expect(t.engine.isDriving(run.id)).toBe(false);
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not record that h1:disable resumes \(attempt 2\)/);
    expect(said[0]).toMatch(/Nothing was sent to the pool for h1:disable in this attempt\./);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    await inner.close();
  });

  it("a start's audit record the store never takes: the step is not executed, the thread says the start was recorded", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, { audit: (e) => e.message === 'h1:disable started (attempt 1)' }, 'lost');
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBeGreaterThan(1);
    expect(executions(seen, 'h1:disable')).toBe(0);
    expect(t.engine.isDriving(run.id)).toBe(false);
    expect((await inner.getRun(run.id))!.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'running', attempts: 1 });
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/That h1:disable starts \(attempt 1\) was recorded, but its audit record could not be written/);
    expect(said[0]).toMatch(/Nothing was sent to the pool for h1:disable\./);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    await inner.close();
  });
});

describe('Engine: a store error while the baseline is recorded', () => {
  it.each(['lost', 'after-commit'] as const)('a baseline write that fails once (%s) is written again from the same pool read, and the run goes on', async (how) => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, { update: recordsBaseline() }, how);
    const { registry, seen } = scriptedSteps();
    const pool = readingClient();
    const t = await setup(registry, store, pool.client);
    const run = { ...makeRun(makePlan()), baseline: undefined };
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBe(1);
    expect(pool.reads.pool).toBe(1); // the pool was not read again for the retry
    const after = (await inner.getRun(run.id))!;
    expect(after.baseline).toMatchObject({ hosts: [expect.objectContaining({ name: 'h1' }), expect.objectContaining({ name: 'h2' })] });
    expect(after.state).toBe('awaiting-approval');
    expect(executions(seen, 'backup')).toBe(1);
    expect((await inner.listAudit(run.id)).filter((e) => /^pool state recorded before the first change/.test(e.message))).toHaveLength(1);
    await inner.close();
  });

  it('a baseline write the store never takes: no step starts, the thread is told, the lease is released, a restarted runner records it', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, { update: recordsBaseline(Number.POSITIVE_INFINITY) }, 'lost');
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = { ...makeRun(makePlan()), baseline: undefined };
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBeGreaterThan(1);
    expect(seen).toEqual([]);
    expect(t.engine.isDriving(run.id)).toBe(false);
    const left = (await inner.getRun(run.id))!;
    expect(left.baseline).toBeUndefined();
    expect(left.state).toBe('running');
    expect(left.steps.every((s) => s.state === 'pending')).toBe(true);
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not record the pool's state before the first change/);
    expect(said[0]).toMatch(/connection terminated unexpectedly/);
    expect(said[0]).toMatch(/No step has started: nothing was sent to the pool\./);
    expect(said[0]).toMatch(/restart of the bot or a Resume/);
    expect(await inner.getLease('pool-t')).toBeUndefined();

    const restarted = await setup(registry, inner);
    expect(await restarted.engine.recoverRuns()).toEqual([run.id]);
    await restarted.engine.whenIdle(run.id);
    const after = (await inner.getRun(run.id))!;
    expect(after.baseline).toBeDefined();
    expect(after.state).toBe('awaiting-approval');
    await inner.close();
  });
});
