/**
 * Issue 16 fencing on the update steps: the host's pool_update.precheck (upgrade step, update mode; apply-updates
 * step) goes through the engine's own StepContext (Engine.contextFor), so a runner whose lease was taken over, or
 * whose run was aborted from another process, sends no precheck and does not destroy a precheck task it followed;
 * likewise pool-finish's pool_update.pool_clean of the run's update ISOs (R3.10).
 */
import { openStore } from '../../src/store';
import { silentLogger } from '../../src/log';
import { Engine, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import { createApplyUpdatesStep } from '../../src/runner/steps/apply-updates';
import { createUpgradeStep } from '../../src/runner/steps/upgrade';
import { createPoolFinishStep } from '../../src/runner/steps/pool-finish';
import type { Run } from '../../src/domain/types';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { FakePool } from './fake-pool';
import { fastClock, interferer, makePlan, makeRun, recordingNotifier, testRunnerConfig, type Interference } from './helpers';

const H = FakePool.hostRef;
const UPDATE = { uuid: 'uuid-XS76E001', name: 'XS76E001' };

/** `applied`: the update is on h1 (the only host that needs it) and its ISO, uploaded by this run, is on the SR. */
async function setup(opts: { applied?: boolean } = {}) {
  const clock = fastClock();
  const store = await openStore({ path: ':memory:', clock });
  const pool = new FakePool([{ name: 'h1', master: true, enabled: false, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'] }], []);
  /** what reached the pool, in order */
  const sent: string[] = [];
  let run!: Run;
  /** what another process does while this runner follows the next task */
  let whileFollowing: Interference | undefined;
  const interfere = interferer(store, clock, () => run.id);
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: (cls) => pool.getAllRecords(cls),
    call: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      if (method === 'pool_update.get_all_records')
        return { 'OpaqueRef:upd': { uuid: UPDATE.uuid, name_label: UPDATE.name, hosts: opts.applied ? [H('h1')] : [], vdi: 'OpaqueRef:iso' } } as T;
      if (method === 'VDI.get_all_records') return { ...(pool.wire('VDI') as object), 'OpaqueRef:iso': { name_label: `${UPDATE.name}.iso`, other_config: {} } } as T;
      if (method === 'host.get_all') return [H('h1'), H('h2')] as T;
      if (method === 'pool_update.pool_clean') {
        sent.push(method);
        return '' as T;
      }
      const w = /^(\w+)\.get_all_records_where$/.exec(method);
      if (w) return pool.where(w[1]!, String(params[0])) as T;
      const m = /^(\w+)\.get_all_records$/.exec(method);
      if (!m) throw new Error(`unexpected call ${method}`);
      return pool.wire(m[1]!) as T;
    },
    // the real client's callAsync: Async.<method>, follow the task, beforeDestroy, task.destroy (test/xenapi/tasks.test.ts)
    callAsync: async <T>(method: string, _params: unknown[] = [], opts: TaskWaitOptions = {}): Promise<T> => {
      sent.push(`Async.${method}`);
      return client.waitForTask<T>(`OpaqueRef:task-${sent.length}`, opts);
    },
    waitForTask: async <T>(_task: string, opts: TaskWaitOptions = {}): Promise<T> => {
      if (whileFollowing) await interfere(whileFollowing);
      await opts.beforeDestroy?.();
      sent.push('task.destroy');
      return 'ok' as T;
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  const config = testRunnerConfig('10.0.0.1', { update: UPDATE.name });
  const deps = { client, store, clock, notifier: recordingNotifier(), logger: silentLogger, config };
  const rt = { steps: {}, deps } as unknown as PoolRuntime;
  const engine = new Engine({ store, clock, notifier: deps.notifier, logger: silentLogger, ownerId: 'runner-a', runtime: () => rt });

  const plan = makePlan(['h1', 'h2']);
  plan.mode = 'update';
  for (const s of plan.steps) if (s.hostName) s.host = H(s.hostName);
  for (const hp of plan.hosts) hp.host = H(hp.name);
  plan.steps.splice(plan.steps.findIndex((s) => s.id === 'h1:wait-host') + 1, 0, { id: 'h1:apply-updates', kind: 'apply-updates', host: H('h1'), hostName: 'h1', description: 'updates', expectedSeconds: 1 });
  plan.updates = {
    repository: 'https://updates.example/',
    items: [{ ...UPDATE, version: '1.0', description: '', guidance: [], prerequisites: [], source: '/isos/XS76E001.iso', size: 1 }],
    hosts: [{ host: H('h1'), name: 'h1', updates: [UPDATE.uuid], restart: 'none' }],
    extraReboots: 0,
  };
  if (opts.applied) plan.steps.splice(plan.steps.indexOf(plan.steps.find((s) => s.id === 'h1:apply-updates')!), 0, { id: 'h1:upload-updates', kind: 'upload-updates', host: H('h1'), hostName: 'h1', description: 'upload', expectedSeconds: 1 });
  run = makeRun(plan);
  if (opts.applied) {
    const upload = run.steps.find((s) => s.id === 'h1:upload-updates')!;
    upload.state = 'done';
    upload.data = { uploads: { [UPDATE.uuid]: { phase: 'introduced', update: 'OpaqueRef:upd', vdi: 'OpaqueRef:iso' } } };
  }
  await store.createRun(run);
  await store.acquireLease('pool-t', 'runner-a', run.id, 60_000, clock.now());

  const contextFor = (stepId: string) => engine.contextFor(run, stepId, new AbortController().signal, rt);
  return {
    sent,
    store,
    deps,
    runId: run.id,
    contextFor,
    interfere,
    followWith: (what: Interference) => void (whileFollowing = what),
  };
}

const steps = [
  { name: 'upgrade (update mode)', stepId: 'h1:upgrade', create: createUpgradeStep },
  { name: 'apply-updates', stepId: 'h1:apply-updates', create: createApplyUpdatesStep },
];

describe.each(steps)('$name step: the precheck is fenced like every side effect (issue 16)', ({ stepId, create }) => {
  it.each<Interference>(['take-over', 'abort'])('%s before the precheck: it is not sent', async (what) => {
    const t = await setup();
    await t.interfere(what);
    await expect(create(t.deps).execute(t.contextFor(stepId))).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual([]);
  });

  it.each<Interference>(['take-over', 'abort'])('%s while its task is followed: the task is not destroyed, nothing more is sent', async (what) => {
    const t = await setup();
    t.followWith(what);
    await expect(create(t.deps).execute(t.contextFor(stepId))).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual(['Async.pool_update.precheck']);
  });

  it('audits the precheck before sending it (method and target, no arguments)', async () => {
    const t = await setup();
    await create(t.deps).execute(t.contextFor(stepId)).catch(() => undefined); // the apply after it needs a task-following client
    expect(t.sent[0]).toBe('Async.pool_update.precheck');
    const audit = await t.store.listAudit(t.runId);
    expect(audit.filter((e) => e.kind === 'xenapi').map((e) => e.message)).toContain('pool_update.precheck XS76E001 on h1');
  });
});

describe('pool-finish: pool_update.pool_clean of the update ISOs of the run is fenced (issue 16, R3.10)', () => {
  it.each<Interference>(['take-over', 'abort'])('%s before it: the clean is not sent', async (what) => {
    const t = await setup({ applied: true });
    await t.interfere(what);
    await expect(createPoolFinishStep(t.deps).execute(t.contextFor('pool-finish'))).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual([]);
  });

  it('is audited before it is sent (method and target)', async () => {
    const t = await setup({ applied: true });
    await createPoolFinishStep(t.deps).execute(t.contextFor('pool-finish')).catch(() => undefined); // the fake pool's answer after it stays as it was
    expect(t.sent).toEqual(['pool_update.pool_clean']);
    const audit = await t.store.listAudit(t.runId);
    expect(audit.filter((e) => e.kind === 'xenapi').map((e) => e.message)).toEqual([`pool_update.pool_clean ${UPDATE.name} (its ISO, VDI OpaqueRef:iso)`]);
  });
});
