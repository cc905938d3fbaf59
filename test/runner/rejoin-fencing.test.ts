/**
 * Issue 16 fencing on forget & rejoin's pool.join (R4.2): sent on the reinstalled host through its own client, not
 * ctx.act, yet fenced the same way — a runner whose lease was taken over, or whose run was aborted from another
 * process, sends no pool.join and does not destroy a join task it followed (its own, or a pending one it adopted).
 * The recovery env is built as Engine.recover builds it (fenced store and audit, Engine.contextFor).
 */
import { openStore } from '../../src/store';
import { silentLogger } from '../../src/log';
import { auditor } from '../../src/runner/audit';
import { Engine, fencedStore, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import type { RecoveryState } from '../../src/runner/recovery';
import { continueRecovery, type RecoveryEnv } from '../../src/runner/recovery-procedures';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { FakePool } from './fake-pool';
import { fastClock, interferer, makePlan, makeRun, recordingNotifier, testRunnerConfig, type Interference } from './helpers';

const H = FakePool.hostRef;
const ADDRESS = '10.0.0.9';

async function setup(opts: { pendingJoin?: boolean } = {}) {
  const clock = fastClock();
  const store = await openStore({ path: ':memory:', clock });
  // h2 was reinstalled: its old record is forgotten; the pool has h1 only
  const pool = new FakePool([{ name: 'h1', master: true, srs: ['nfs'] }], []);
  /** what reached the reinstalled host, in order */
  const sent: string[] = [];
  /** the signal each follow of the join task was given */
  const followSignals: Array<AbortSignal | undefined> = [];
  let whileFollowing: Interference | undefined;
  const interfere = interferer(store, clock, () => run.id);
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: (cls) => pool.getAllRecords(cls),
    call: async <T>(method: string): Promise<T> => {
      const m = /^(\w+)\.get_all_records$/.exec(method);
      if (!m) throw new Error(`unexpected call ${method}`);
      return pool.wire(m[1]!) as T;
    },
    callAsync: async () => {
      throw new Error('nothing is sent to the pool in the join phase');
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  const fresh = {
    masterAddress: ADDRESS,
    login: async () => undefined,
    logout: async () => undefined,
    getAllRecords: async () => ({}) as never,
    call: async <T>(method: string): Promise<T> => {
      if (method !== 'task.get_all_records') throw new Error(`unexpected call ${method}`);
      return (opts.pendingJoin ? { 'OpaqueRef:join': { name_label: 'Async.pool.join', status: 'pending' } } : {}) as T;
    },
    // the real client's callAsync: Async.<method>, follow the task, beforeDestroy, task.destroy (test/xenapi/tasks.test.ts)
    callAsync: async <T>(method: string, _params: unknown[] = [], o: TaskWaitOptions = {}): Promise<T> => {
      sent.push(`Async.${method}`);
      return fresh.waitForTask<T>('OpaqueRef:join', o);
    },
    waitForTask: async <T>(task: string, o: TaskWaitOptions = {}): Promise<T> => {
      followSignals.push(o.signal);
      if (whileFollowing) await interfere(whileFollowing);
      await o.beforeDestroy?.();
      sent.push(`task.destroy ${task}`);
      return '' as T;
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  };
  const config = testRunnerConfig('10.0.0.1');
  const notifier = recordingNotifier();
  const rt = { steps: {}, deps: { client, store, clock, notifier, logger: silentLogger, config }, freshHostClient: () => fresh } as unknown as PoolRuntime;
  const engine = new Engine({ store, clock, notifier, logger: silentLogger, ownerId: 'runner-a', runtime: () => rt });

  const plan = makePlan(['h1', 'h2']);
  for (const s of plan.steps) if (s.hostName) s.host = H(s.hostName);
  for (const hp of plan.hosts) hp.host = H(hp.name);
  const run = makeRun(plan);
  const step = run.steps.find((s) => s.id === 'h2:wait-host')!;
  const recovery: RecoveryState = { action: 'forget-rejoin', phase: 'join', by: 'UAPPROVER1', address: ADDRESS, forgotten: true };
  step.state = 'failed';
  step.data = { recovery };
  await store.createRun(run);
  const lease = await store.acquireLease('pool-t', 'runner-a', run.id, 60_000, clock.now());
  if (!lease.ok) throw new Error('no lease');

  // as Engine.recover builds it: every write and audit record fenced by this runner's lease token
  const fenced = fencedStore(store, { pool: 'pool-t', owner: 'runner-a', token: lease.token });
  const audit = auditor(fenced, clock);
  const stepController = new AbortController();
  const signal = stepController.signal;
  const env: RecoveryEnv = {
    rt,
    store: fenced,
    clock,
    audit,
    contextFor: (r, id) => engine.contextFor(r, id, signal, rt, { store: fenced, audit }),
    notify: () => undefined,
  };
  return {
    sent,
    followSignals,
    abortStep: (why: Error) => stepController.abort(why),
    interfere,
    followWith: (what: Interference) => void (whileFollowing = what),
    join: async () => continueRecovery(env, (await store.getRun(run.id))!, step),
  };
}

describe('forget & rejoin: pool.join is fenced like every side effect (issue 16)', () => {
  it('undisturbed: the join is sent and its task destroyed (then the wait for the member, not seen in this fake)', async () => {
    const t = await setup();
    await expect(t.join()).rejects.toMatchObject({ code: 'JOINED_HOST_NOT_SEEN' });
    expect(t.sent).toEqual(['Async.pool.join', 'task.destroy OpaqueRef:join']);
  });

  it.each([false, true])('the join task followed (pending join adopted: %s) is given the step\'s signal: an abort stops following it', async (pendingJoin) => {
    const t = await setup({ pendingJoin });
    await expect(t.join()).rejects.toMatchObject({ code: 'JOINED_HOST_NOT_SEEN' });
    expect(t.followSignals).toHaveLength(1);
    const followed = t.followSignals[0];
    expect(followed?.aborted).toBe(false);
    t.abortStep(new Error('run aborted'));
    expect(followed?.aborted).toBe(true);
  });

  it.each<Interference>(['take-over', 'abort'])('%s before the join: pool.join is not sent', async (what) => {
    const t = await setup();
    await t.interfere(what);
    await expect(t.join()).rejects.toThrow();
    expect(t.sent).toEqual([]);
  });

  it.each<Interference>(['take-over', 'abort'])('%s while its task is followed: the task is not destroyed', async (what) => {
    const t = await setup();
    t.followWith(what);
    await expect(t.join()).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual(['Async.pool.join']);
  });

  it.each<Interference>(['take-over', 'abort'])('%s while a pending join task (adopted after a restart) is followed: it is not destroyed', async (what) => {
    const t = await setup({ pendingJoin: true });
    t.followWith(what);
    await expect(t.join()).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual([]);
  });
});
