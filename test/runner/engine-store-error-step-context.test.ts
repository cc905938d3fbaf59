/**
 * A store error on the store calls a step makes through its context while it runs: the check before each action on
 * the pool that the run is still live and the pool's lease still this runner's (assertLive: the run's read, the
 * lease's read), and the save of what the step found or did (saveData). Nothing failed on the pool: the call is tried
 * again, and a store that stays unavailable stops the loop cleanly — no action sent without the check, no step
 * failure (alert, recovery buttons) for a store outage, the run's thread told truthfully, the lease released.
 */
import { openStore, type Store } from '../../src/store';
import type { StepContext } from '../../src/runner/step';
import { isInterruption } from '../../src/runner/errors';
import { fastClock, interferer, makePlan, makeRun, scriptedSteps, type Interference } from './helpers';
import { engineOn, executions, failingReads, failingStore, recordingClient, thread } from './store-failures';

/** A run whose backup is done: h1:disable runs next, then h1's approval gate stops it. */
async function backedUpRun(inner: Store) {
  const run = makeRun(makePlan());
  for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
  await inner.createRun(run);
  return run;
}

const disable = (ctx: StepContext) => ctx.act('host.disable', [ctx.step.hostName], ctx.step.hostName!);
const stepFailures = (t: ReturnType<typeof engineOn>) => t.notifier.calls.filter((c) => c.method === 'stepFailed');

async function world(behaviour: (ctx: StepContext, faults: { down: ReturnType<typeof failingStore>['down']; lease: { reads: number } }) => Promise<void>, how: 'lost' | 'after-commit' = 'lost') {
  const inner = await openStore({ path: ':memory:', clock: fastClock() });
  const failing = failingStore(inner, {}, how);
  const { store, down: lease } = failingReads(failing.store, 'getLease');
  const { client, sent } = recordingClient();
  const { registry, seen } = scriptedSteps(async (ctx) => {
    if (ctx.step.id === 'h1:disable') await behaviour(ctx, { down: failing.down, lease });
    return undefined;
  });
  const t = engineOn(store, registry, client);
  const run = await backedUpRun(inner);
  return { inner, ...failing, lease, sent, seen, registry, client, t, run };
}

/** The loop stopped cleanly on the store, not on the pool: no step failure, the step still running, the lease released. */
async function stoppedOnTheStore(w: Awaited<ReturnType<typeof world>>) {
  expect(w.t.engine.isDriving(w.run.id)).toBe(false);
  expect(stepFailures(w.t)).toEqual([]);
  const left = (await w.inner.getRun(w.run.id))!;
  expect(left.state).toBe('running');
  expect(left.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'running', attempts: 1 });
  expect(left.steps.find((s) => s.id === 'h1:disable')!.error).toBeUndefined();
  expect(await w.inner.getLease('pool-t')).toBeUndefined();
  const said = thread(w.t.notifier, w.run.id);
  expect(said).toHaveLength(1);
  expect(said[0]).toMatch(/connection terminated unexpectedly/);
  expect(said[0]).toMatch(/This runner stops driving the run here/);
  expect(said[0]).toMatch(/restart of the bot or a Resume/);
  expect(said[0]).not.toMatch(/h1:disable failed/);
  expect(said[0]).not.toMatch(/[Nn]othing was sent/);
  return said[0]!;
}

describe('Engine: a store error while a step checks that it may still act on the pool (assertLive)', () => {
  it.each(['run', 'lease'] as const)("the %s's read failing twice is tried again: the action is sent once, the step is done, no step failure", async (what) => {
    const w = await world(async (ctx, { down, lease }) => {
      if (what === 'run') down.reads = 2;
      else lease.reads = 2;
      await disable(ctx);
    });
    w.t.engine.drive(w.run.id);
    await w.t.engine.whenIdle(w.run.id);

    expect(w.failures.reads + w.lease.failed).toBeGreaterThan(0);
    expect(w.sent).toEqual(['host.disable h1']);
    expect(stepFailures(w.t)).toEqual([]);
    const after = (await w.inner.getRun(w.run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'done', attempts: 1 });
    expect(after.state).toBe('awaiting-approval');
    expect(thread(w.t.notifier, w.run.id)).toEqual([]);
    await w.inner.close();
  });

  it.each(['run', 'lease'] as const)("the %s's read never answered: the action is not sent, the step does not fail, the loop stops, the thread is told; a restart goes on", async (what) => {
    const w = await world(async (ctx, { down, lease }) => {
      if (executions(w.seen, 'h1:disable') === 1) {
        if (what === 'run') down.reads = Number.POSITIVE_INFINITY;
        else lease.reads = Number.POSITIVE_INFINITY;
      }
      await disable(ctx);
    });
    w.t.engine.drive(w.run.id);
    await w.t.engine.whenIdle(w.run.id);

    expect(w.failures.reads + w.lease.failed).toBeGreaterThan(1); // tried again before giving up
    expect(w.sent).toEqual([]); // never acted without knowing the run is live and the lease this runner's
    const said = await stoppedOnTheStore(w);
    expect(said).toMatch(/could not read the run and its pool lease from the store while h1:disable ran/);
    expect(said).toMatch(/the store read failed/);

    // the store answers again: a restarted bot runs the step again, which acts once
    w.down.reads = 0;
    w.lease.reads = 0;
    const restarted = engineOn(w.inner, w.registry, w.client);
    expect(await restarted.engine.recoverRuns()).toEqual([w.run.id]);
    await restarted.engine.whenIdle(w.run.id);
    expect((await w.inner.getRun(w.run.id))!.state).toBe('awaiting-approval');
    expect(w.sent).toEqual(['host.disable h1']);
    await w.inner.close();
  });

  it.each<Interference>(['abort', 'take-over'])('after the read failed, it still refuses to act once the store shows the run %s', async (what) => {
    const w = await world(async (ctx, { down }) => {
      await interferer(w.inner, fastClock(), () => w.run.id)(what);
      down.reads = 1;
      await disable(ctx);
    });
    w.t.engine.drive(w.run.id);
    await w.t.engine.whenIdle(w.run.id);

    expect(w.failures.reads).toBeGreaterThan(0);
    expect(w.sent).toEqual([]);
    expect(stepFailures(w.t)).toEqual([]);
    expect((await w.inner.getRun(w.run.id))!.steps.find((s) => s.id === 'h1:disable')!.state).not.toBe('done');
    await w.inner.close();
  });

  it("a step that takes an action's error as that item's failure does not swallow the store's: no item counted failed, no action sent, the loop stops", async () => {
    const itemFailures: string[] = [];
    const w = await world(async (ctx, { down }) => {
      down.reads = Number.POSITIVE_INFINITY;
      // as stop-vms does: only an interruption is passed on, any other error is that VM's failure
      for (const vm of ['vm-a', 'vm-b']) {
        try {
          await ctx.act('VM.clean_shutdown', [vm], vm);
        } catch (err) {
          if (isInterruption(err, ctx.signal)) throw err;
          itemFailures.push(vm);
        }
      }
    });
    w.t.engine.drive(w.run.id);
    await w.t.engine.whenIdle(w.run.id);

    expect(w.sent).toEqual([]);
    expect(itemFailures).toEqual([]);
    await stoppedOnTheStore(w);
    await w.inner.close();
  });
});

describe('Engine: a store error while a step saves what it found or did (saveData)', () => {
  it.each(['lost', 'after-commit'] as const)('a save that fails once (%s) is written again: the step goes on with its data, no step failure', async (how) => {
    let once = true;
    let seenData: unknown;
    const w = await world(async (ctx, { down }) => {
      down.update = (before, after) => {
        const saves = before.steps.find((s) => s.id === 'h1:disable')!.data?.wasEnabled === undefined && after.steps.find((s) => s.id === 'h1:disable')!.data?.wasEnabled === true;
        if (!saves || !once) return false;
        once = false;
        return true;
      };
      await ctx.saveData({ wasEnabled: true });
      seenData = ctx.step.data;
      await disable(ctx);
    }, how);
    w.t.engine.drive(w.run.id);
    await w.t.engine.whenIdle(w.run.id);

    expect(w.failures.count).toBe(1);
    expect(seenData).toEqual({ wasEnabled: true });
    expect(w.sent).toEqual(['host.disable h1']);
    expect(stepFailures(w.t)).toEqual([]);
    const after = (await w.inner.getRun(w.run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'done', attempts: 1, data: { wasEnabled: true } });
    expect(after.state).toBe('awaiting-approval');
    expect(thread(w.t.notifier, w.run.id)).toEqual([]);
    await w.inner.close();
  });

  it('a save the store never takes: the step does not fail and sends nothing more, the loop stops, the thread says actions may have been sent', async () => {
    const w = await world(async (ctx, { down }) => {
      await disable(ctx);
      down.update = (before, after) => after.steps.find((s) => s.id === 'h1:disable')!.data?.disabledAt !== undefined;
      await ctx.saveData({ disabledAt: 1 });
      await ctx.act('host.enable', ['h1'], 'h1');
    });
    w.t.engine.drive(w.run.id);
    await w.t.engine.whenIdle(w.run.id);

    expect(w.failures.count).toBeGreaterThan(1); // tried again before giving up
    expect(w.sent).toEqual(['host.disable h1']);
    const said = await stoppedOnTheStore(w);
    expect(said).toMatch(/could not record in the store what h1:disable found or did on the pool/);
    expect(said).toMatch(/may already have sent actions to the pool/);
    await w.inner.close();
  });
});
