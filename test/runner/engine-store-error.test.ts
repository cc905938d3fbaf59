/**
 * A store error while the engine records the end of a step (done / failed / awaiting approval) or of the run: the
 * step's side effects already happened, so the write is tried again (never the step), and a store that stays
 * unavailable leaves the run recoverable with the operator told in its thread.
 */
import { openStore, type Store } from '../../src/store';
import { StepFailure } from '../../src/runner/errors';
import type { PoolClient } from '../../src/runner/ports';
import type { StepRegistry } from '../../src/runner/steps';
import type { Run } from '../../src/domain/types';
import { makePlan, makeRun, fastClock, scriptedSteps } from './helpers';
import { engineOn, executions, failingStore as failing } from './store-failures';

const client = { reconnect: async () => undefined } as unknown as PoolClient;

/** A store whose updateRun fails while `failing(before, after)` says so for the change it would make. */
const failingStore = (inner: Store, update: (before: Run, after: Run) => boolean, how: 'lost' | 'after-commit') => failing(inner, { update }, how);

const becomes = (stepId: string, state: string, times = 1) => {
  let left = times;
  return (before: Run, after: Run) => {
    const was = before.steps.find((s) => s.id === stepId)?.state;
    const now = after.steps.find((s) => s.id === stepId)?.state;
    if (was === state || now !== state || left === 0) return false;
    left--;
    return true;
  };
};

const setup = async (registry: StepRegistry, store: Store) => engineOn(store, registry, client);

describe('Engine: a store error while the end of a step is recorded', () => {
  it.each(['lost', 'after-commit'] as const)('a "done" write that fails once (%s) is written again, the step is not executed again, the run goes on', async (how) => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, becomes('h1:disable', 'done'), how);
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBe(1);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')!.state).toBe('done');
    // driven on to the next gate, as without the error
    expect(after.state).toBe('awaiting-approval');
    expect(after.steps.find((s) => s.id === 'h1:approval')!.state).toBe('awaiting-approval');
    expect(executions(seen, 'h1:disable')).toBe(1);
    // one audit record of the step's end, also when the first write had in fact been committed
    expect((await inner.listAudit(run.id)).filter((e) => e.message === 'h1:disable done')).toHaveLength(1);
    await inner.close();
  });

  it('a "failed" write that fails once is written again: the run is failed and the alert goes out', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, failures } = failingStore(inner, becomes('h1:disable', 'failed'), 'lost');
    const { registry, seen } = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable') throw new StepFailure('HOST_BUSY');
      return undefined;
    });
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBe(1);
    const after = (await inner.getRun(run.id))!;
    expect(after.state).toBe('failed');
    expect(after.steps.find((s) => s.id === 'h1:disable')!.state).toBe('failed');
    expect(executions(seen, 'h1:disable')).toBe(1);
    expect(t.notifier.calls.filter((c) => c.method === 'stepFailed' && c.stepId === 'h1:disable')).toHaveLength(1);
  });

  it('a store that stays unavailable: the operator is told in the thread, the run stays recoverable, and a restarted runner continues it', async () => {
    const clock = fastClock();
    const inner = await openStore({ path: ':memory:', clock });
    const { store, failures } = failingStore(inner, becomes('h1:disable', 'done', Number.POSITIVE_INFINITY), 'lost');
    const { registry, seen } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan());
    await inner.createRun(run);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBeGreaterThan(1); // tried again before giving up
    expect(executions(seen, 'h1:disable')).toBe(1); // the step itself was not executed again
    expect(t.engine.isDriving(run.id)).toBe(false);
    const left = (await inner.getRun(run.id))!;
    expect(left.state).toBe('running');
    expect(left.steps.find((s) => s.id === 'h1:disable')!.state).toBe('running');
    // the thread says what happened, truthfully: done on the pool, not recorded, and what brings the run back
    const said = t.notifier.calls.filter((c) => c.method === 'runEvent' && c.runId === run.id).map((c) => c.text ?? '');
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/h1:disable is done, but the bot could not record it/);
    expect(said[0]).toMatch(/connection terminated unexpectedly/);
    expect(said[0]).toMatch(/still shows h1:disable as running/);
    expect(said[0]).toMatch(/restart of the bot or a Resume/);
    // the lease is not left held: the run can be taken up as soon as the store answers
    expect(await inner.getLease('pool-t')).toBeUndefined();

    // the store answers again; a restarted bot resumes the step (it reads the pool first) and goes on
    const restarted = await setup(registry, inner);
    expect(await restarted.engine.recoverRuns()).toEqual([run.id]);
    await restarted.engine.whenIdle(run.id);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')!.state).toBe('done');
    expect(after.state).toBe('awaiting-approval');
    await inner.close();
  });

  it("the run's own end: a \"done\" write that fails once is written again and the run is finished once", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    let once = true;
    const { store, failures } = failingStore(
      inner,
      (before, after) => {
        if (before.state === 'done' || after.state !== 'done' || !once) return false;
        once = false;
        return true;
      },
      'lost',
    );
    const { registry } = scriptedSteps();
    const t = await setup(registry, store);
    const run = makeRun(makePlan(['h1']));
    for (const s of run.steps) s.state = 'done';
    await inner.createRun(run);
    // the end audit reads the pool: this test's client reads nothing, so it records the pool as unreadable
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.count).toBe(1);
    expect((await inner.getRun(run.id))!.state).toBe('done');
    expect(t.notifier.calls.filter((c) => c.method === 'runFinished')).toHaveLength(1);
    expect((await inner.listAudit(run.id)).filter((e) => e.kind === 'state' && e.message.startsWith(`run ${run.id} `))).toHaveLength(1);
    await inner.close();
  });
});
