/**
 * stop-vms and restore-vms act on one VM after another. When the run is aborted from another process, or another
 * replica takes the pool over, while one VM's stop or start is followed, the step must end as interrupted (the engine
 * then leaves the run to whoever drives it now) rather than as a failure: a failed step would raise a failure alert,
 * with Retry buttons, on a run that was aborted or is driven elsewhere (issue 16). Nothing more is sent either way.
 */
import { openStore } from '../../src/store';
import { silentLogger } from '../../src/log';
import { Engine, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import { createStopVmsStep, type StoppedVm } from '../../src/runner/steps/stop-vms';
import { createRestoreVmsStep } from '../../src/runner/steps/restore-vms';
import type { Run } from '../../src/domain/types';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { FakePool } from './fake-pool';
import { fastClock, interferer, makePlan, makeRun, recordingNotifier, testRunnerConfig, type Interference } from './helpers';

const H = FakePool.hostRef;
const V = FakePool.vmRef;
const NAMES = ['vm-a', 'vm-b', 'vm-c'];

async function setup(power: 'Running' | 'Halted') {
  const clock = fastClock();
  const store = await openStore({ path: ':memory:', clock });
  const pool = new FakePool(
    [{ name: 'h1', master: true, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'] }],
    NAMES.map((name) => ({ name, host: 'h2', memGiB: 1, disks: ['nfs'], power })),
  );
  /** what reached the pool, in order */
  const sent: string[] = [];
  let run!: Run;
  let whileFollowing: Interference | undefined;
  const interfere = interferer(store, clock, () => run.id);
  const vmOf = (ref: unknown) => pool.vms.find((v) => V(v.name) === ref)!;
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: (cls) => pool.getAllRecords(cls),
    call: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      if (method === 'VM.get_record') return pool.wire('VM')[String(params[0])] as T;
      const w = /^(\w+)\.get_all_records_where$/.exec(method);
      if (w) return pool.where(w[1]!, String(params[0])) as T;
      const m = /^(\w+)\.get_all_records$/.exec(method);
      if (!m) throw new Error(`unexpected call ${method}`);
      return pool.wire(m[1]!) as T;
    },
    callAsync: async <T>(method: string, params: unknown[] = [], opts: TaskWaitOptions = {}): Promise<T> => {
      sent.push(`Async.${method} ${vmOf(params[0]).name}`);
      vmOf(params[0]).power = method === 'VM.clean_shutdown' ? 'Halted' : 'Running';
      return client.waitForTask<T>(`OpaqueRef:task-${sent.length}`, opts);
    },
    waitForTask: async <T>(_task: string, opts: TaskWaitOptions = {}): Promise<T> => {
      if (whileFollowing) await interfere(whileFollowing);
      await opts.beforeDestroy?.();
      sent.push('task.destroy');
      return '' as T;
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  const config = testRunnerConfig('10.0.0.1');
  const deps = { client, store, clock, notifier: recordingNotifier(), logger: silentLogger, config };
  const rt = { steps: {}, deps } as unknown as PoolRuntime;
  const engine = new Engine({ store, clock, notifier: deps.notifier, logger: silentLogger, ownerId: 'runner-a', runtime: () => rt });

  const plan = makePlan(['h1', 'h2']);
  for (const s of plan.steps) if (s.hostName) s.host = H(s.hostName);
  for (const hp of plan.hosts) hp.host = H(hp.name);
  const at = plan.steps.findIndex((s) => s.id === 'h2:approval');
  plan.steps.splice(at, 0, {
    id: 'h2:stop-vms',
    kind: 'stop-vms',
    host: H('h2'),
    hostName: 'h2',
    description: 'stop',
    expectedSeconds: 1,
    stops: NAMES.map((name) => ({ vm: V(name), vmName: name, host: H('h2'), action: 'shutdown' as const, reason: 'R2.5 disks on local SR' })),
  });
  plan.steps.splice(plan.steps.findIndex((s) => s.id === 'h2:enable') + 1, 0, { id: 'h2:restore-vms', kind: 'restore-vms', host: H('h2'), hostName: 'h2', description: 'restore', expectedSeconds: 1 });
  run = makeRun(plan);
  if (power === 'Halted') {
    // what stop-vms recorded when it shut the three down
    const stopped: Record<string, StoppedVm> = Object.fromEntries(NAMES.map((name) => [V(name), { name, priorState: 'Running', host: H('h2'), action: 'shutdown', stopped: true }]));
    const stop = run.steps.find((s) => s.id === 'h2:stop-vms')!;
    stop.state = 'done';
    stop.data = { stopped };
  }
  await store.createRun(run);
  await store.acquireLease('pool-t', 'runner-a', run.id, 60_000, clock.now());
  return {
    sent,
    deps,
    contextFor: (stepId: string) => engine.contextFor(run, stepId, new AbortController().signal, rt),
    followWith: (what: Interference) => void (whileFollowing = what),
  };
}

describe.each<Interference>(['take-over', 'abort'])('%s while one VM is being acted on', (what) => {
  it('stop-vms ends as interrupted, not failed, and stops no further VM', async () => {
    const t = await setup('Running');
    t.followWith(what);
    await expect(createStopVmsStep(t.deps).execute(t.contextFor('h2:stop-vms'))).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual(['Async.VM.clean_shutdown vm-a']);
  });

  it('restore-vms ends as interrupted, not failed, and starts no further VM', async () => {
    const t = await setup('Halted');
    t.followWith(what);
    await expect(createRestoreVmsStep(t.deps).execute(t.contextFor('h2:restore-vms'))).rejects.toMatchObject({ name: 'RunInterrupted' });
    expect(t.sent).toEqual(['Async.VM.start_on vm-a']);
  });
});
