/**
 * A store error at the two ends of the run loop: the end audit's store read (the pool's earlier runs, R2.4: asked when
 * HA was off before and after the run) once every step is done, and the loop's first read of the run, before it takes
 * the pool's lease. Each is tried again; a store that stays unavailable stops the loop cleanly — at the end, lease
 * released and the thread told that every step is done; at the start, logged with the run id — instead of crashing it
 * ("run loop crashed"), and a restart or a Resume takes the run up.
 */
import { openStore, type Store } from '../../src/store';
import { silentLogger, type Logger } from '../../src/log';
import type { PoolClient } from '../../src/runner/ports';
import { FakePool } from './fake-pool';
import { fastClock, makePlan, makeRun, recordingNotifier, scriptedSteps } from './helpers';
import { captureLogs } from '../slack/helpers/logs';
import { engineOn, failingStore, thread } from './store-failures';

/** A small pool with HA off (as in the run's baseline), so the end audit asks the store for the pool's earlier runs. */
function poolClient(): PoolClient {
  const pool = new FakePool([{ name: 'h1', master: true, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'] }], [{ name: 'app', host: 'h2', memGiB: 4, disks: ['nfs'] }]);
  return {
    reconnect: async () => undefined,
    getAllRecords: async (cls: Parameters<FakePool['getAllRecords']>[0]) => pool.getAllRecords(cls),
  } as unknown as PoolClient;
}

function setup(store: Store, logger: Logger = silentLogger) {
  const { registry, seen } = scriptedSteps();
  return { ...engineOn(store, registry, poolClient(), logger), seen };
}

const finished = (notifier: ReturnType<typeof recordingNotifier>, runId: string) => notifier.calls.filter((c) => c.method === 'runFinished' && c.runId === runId).length;

/** A run whose every step is done (HA off in its baseline): the loop's next turn is its end audit. */
async function allStepsDone(inner: Store) {
  const run = makeRun(makePlan());
  for (const s of run.steps) s.state = 'done';
  await inner.createRun(run);
  return run;
}

describe("Engine: a store error while the end of the run is audited", () => {
  it.each([1, 3])('an earlier-runs read that fails %i time(s) is tried again, and the run ends done', async (times) => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    const t = setup(store);
    const run = await allStepsDone(inner);
    down.lists = times;
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.lists).toBe(times);
    const after = (await inner.getRun(run.id))!;
    expect(after.state).toBe('done');
    expect(after.endAudit).toBeDefined();
    expect(finished(t.notifier, run.id)).toBe(1);
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it('an earlier-runs read the store never answers: the loop stops, the thread is told every step is done, the lease is released, a restarted runner ends the run', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    const logs = captureLogs('error');
    const t = setup(store, logs.logger);
    const run = await allStepsDone(inner);
    down.lists = Number.POSITIVE_INFINITY;
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.lists).toBeGreaterThan(1); // tried again before giving up
    expect(t.engine.isDriving(run.id)).toBe(false);
    expect(logs.lines.join('\n')).not.toMatch(/run loop crashed/);
    const left = (await inner.getRun(run.id))!;
    expect(left.state).toBe('running');
    expect(left.endAudit).toBeUndefined();
    expect(finished(t.notifier, run.id)).toBe(0);
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^Every step of the run is done, but the bot could not read the store/);
    expect(said[0]).toMatch(/connection terminated unexpectedly/);
    expect(said[0]).toMatch(/does not show the run as done yet/);
    expect(said[0]).toMatch(/restart of the bot or a Resume/);
    expect(await inner.getLease('pool-t')).toBeUndefined();

    const restarted = setup(inner);
    expect(await restarted.engine.recoverRuns()).toEqual([run.id]);
    await restarted.engine.whenIdle(run.id);
    expect((await inner.getRun(run.id))!.state).toBe('done');
    expect(restarted.seen).toEqual([]); // no step ran again
    await inner.close();
  });
});

describe("Engine: a store error on the loop's first read of the run", () => {
  it('a first read that fails once is tried again, and the run is driven', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    const t = setup(store);
    const run = await allStepsDone(inner);
    down.reads = 1;
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.reads).toBe(1);
    expect((await inner.getRun(run.id))!.state).toBe('done');
    await inner.close();
  });

  it('a first read the store never answers: logged with the run id (no crash), no lease taken, a Resume drives the run', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, down, failures } = failingStore(inner);
    const logs = captureLogs('error');
    const t = setup(store, logs.logger);
    const run = await allStepsDone(inner);
    down.reads = Number.POSITIVE_INFINITY;
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(failures.reads).toBeGreaterThan(1); // tried again before giving up
    expect(t.engine.isDriving(run.id)).toBe(false);
    const errors = logs.entries();
    expect(errors.map((e) => e.msg)).not.toContain('run loop crashed');
    expect(errors).toEqual([expect.objectContaining({ runId: run.id, msg: expect.stringMatching(/first read of run .*: not driven by this runner.*a Resume of the run takes it up/) })]);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    expect((await inner.getRun(run.id))!.state).toBe('running');

    // the store answers again; a Resume of a running run drives it (core/run-decisions.ts resume → engine.drive)
    down.reads = 0;
    t.engine.drive(run.id, { waitForLease: true });
    await t.engine.whenIdle(run.id);
    expect((await inner.getRun(run.id))!.state).toBe('done');
    await inner.close();
  });
});
