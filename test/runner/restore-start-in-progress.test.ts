/**
 * Restore after an abort (src/runner/restore.ts) when a VM it should put back already has a start or resume in
 * progress (VM.current_operations shows it: the aborted run's restore-vms sent it and its answer was lost, or an
 * operator started the VM). xapi refuses a second one (OTHER_OPERATION_IN_PROGRESS), which is no failure of the VM:
 * Restore follows that task to its end (kept, not destroyed: it may be another client's), audits it, sends nothing,
 * and judges the VM by what the pool then shows. Also: a progress write that fails because the bot's own store is
 * unreachable is said as such (not as the pool's fault), and a lease lost while a task is followed stops Restore at
 * once (deps.signal), with nothing more sent.
 */
import type { Clock } from '../../src/clock';
import { restoreRun, type RestoreEnv } from '../../src/core/restore';
import { auditor } from '../../src/runner/audit';
import { executeRestore, restoreOffer, type RestoreDeps, type RestoreOffer } from '../../src/runner/restore';
import { openStore } from '../../src/store';
import type { PoolClient } from '../../src/runner/ports';
import type { RestoreRecord, Run } from '../../src/domain/types';
import { XenApiError, XenApiTimeoutError } from '../../src/xenapi';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { fastClock, makePlan, makeRun } from './helpers';
import { H2, poolReads } from './restore-fixture';

const VM1 = 'OpaqueRef:vm1';
const VM2 = 'OpaqueRef:vm2';
const START_TASK = 'OpaqueRef:task-start';

type Vm = { name: string; power_state: string; resident_on: string; current_operations: Record<string, string> };

/** h1, h2 live; vm1 Halted with a start_on in progress (task START_TASK), vm2 Halted. What Restore sends is recorded. */
function world() {
  const vms: Record<string, Vm> = {
    [VM1]: { name: 'vm1', power_state: 'Halted', resident_on: 'OpaqueRef:NULL', current_operations: { [START_TASK]: 'start_on' } },
    [VM2]: { name: 'vm2', power_state: 'Halted', resident_on: 'OpaqueRef:NULL', current_operations: {} },
  };
  const sent: string[] = [];
  const followed: Array<[string, TaskWaitOptions | undefined]> = [];
  /** how the start in progress ends when followed */
  let startEnds: 'Running' | 'refused' = 'Running';
  const record = (ref: string) => {
    const { name, ...v } = vms[ref]!;
    return { uuid: `u-${name}`, name_label: name, ...structuredClone(v) };
  };
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: async () => ({}),
    call: poolReads(() => Object.fromEntries(Object.keys(vms).map((r) => [r, record(r)]))),
    callAsync: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      const vm = vms[String(params[0])]!;
      sent.push(`${method} ${vm.name}`);
      // real xapi: a second start while one is in progress is refused
      if (Object.keys(vm.current_operations).length) throw new XenApiError('OTHER_OPERATION_IN_PROGRESS', ['VM', String(params[0])], `Async.${method}`, '10.0.0.1');
      if (vm.power_state !== 'Halted' && vm.power_state !== 'Suspended') throw new XenApiError('VM_BAD_POWER_STATE', [String(params[0]), 'halted', vm.power_state.toLowerCase()], `Async.${method}`, '10.0.0.1');
      Object.assign(vm, { power_state: 'Running', resident_on: params[1] });
      return '' as T;
    },
    waitForTask: async <T>(task: string, opts?: TaskWaitOptions): Promise<T> => {
      followed.push([task, opts]);
      const vm = vms[VM1]!;
      if (task === START_TASK && vm.current_operations[START_TASK]) {
        delete vm.current_operations[START_TASK];
        if (startEnds === 'refused') throw new XenApiError('VM_REQUIRES_SR', ['OpaqueRef:sr'], 'Async.VM.start_on', '10.0.0.1');
        Object.assign(vm, { power_state: 'Running', resident_on: H2 });
      }
      return '' as T;
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  return {
    vms,
    sent,
    followed,
    client,
    refuseStart: () => {
      startEnds = 'refused';
    },
  };
}

/** the aborted run and its offer: vm1 and vm2, both Running before the run and shut down by it on h2 */
function abortedRun(): { run: Run; offer: RestoreOffer; started: RestoreRecord } {
  const run = makeRun(makePlan(['h1', 'h2']));
  run.state = 'aborted';
  const offer: RestoreOffer = {
    host: { ref: H2, name: 'h2' },
    enableHost: false,
    vms: [
      { ref: VM1, name: 'vm1', priorState: 'Running', host: H2, action: 'shutdown', stopped: true },
      { ref: VM2, name: 'vm2', priorState: 'Running', host: H2, action: 'shutdown', stopped: true },
    ],
  };
  return { run, offer, started: { by: 'UAPPROVER1', at: 0, state: 'running', did: [], left: [] } };
}

async function restore(w: ReturnType<typeof world>, over: Partial<RestoreDeps> = {}) {
  const { run, offer, started } = abortedRun();
  return executeRestore({ client: w.client, audit: async () => undefined, save: async () => undefined, clock: fastClock(), ...over }, run, offer, started);
}

describe('Restore: a start or resume already in progress on a VM is followed, not sent again', () => {
  it('vm1 being started (the aborted run\'s start, its answer lost): its task is followed (kept), audited, and nothing is sent for it', async () => {
    const w = world();
    const audited: string[] = [];
    const rec = await restore(w, { audit: async (_r, _k, _a, message) => void audited.push(message) });

    expect(w.followed).toEqual([[START_TASK, expect.objectContaining({ keep: true })]]);
    expect(w.sent).toEqual(['VM.start_on vm2']);
    expect(audited).toEqual([`vm1: following its start_on in progress (task ${START_TASK}), not sent again (Restore after abort)`, 'VM.start_on vm2 on h2 (Restore after abort)']);
    expect(rec).toMatchObject({
      state: 'done',
      did: [`vm1 is Running as before the run: the start_on in progress on it (task ${START_TASK}) was followed to its end, not sent again`, 'vm2 started on h2'],
      left: [],
    });
  });

  it('the start followed fails and vm1 stays Halted with nothing in progress: Restore sends its own start, by the usual rule', async () => {
    const w = world();
    w.refuseStart();
    const rec = await restore(w);
    expect(w.followed.map(([t]) => t)).toEqual([START_TASK]);
    expect(w.sent).toEqual(['VM.start_on vm1', 'VM.start_on vm2']);
    expect(rec).toMatchObject({ state: 'done', did: ['vm1 started on h2', 'vm2 started on h2'], left: [] });
  });

  it('a start still in progress past the time Restore follows it: said, nothing sent on top of it, Restore not done', async () => {
    const w = world();
    const rec = await restore(w, {
      client: {
        ...w.client,
        waitForTask: async () => {
          throw new XenApiTimeoutError(`task ${START_TASK} still pending`, `task ${START_TASK}`, 0);
        },
      },
    });
    expect(w.sent).toEqual(['VM.start_on vm2']);
    expect(rec.state).toBe('partial');
    expect(rec.left).toEqual([`vm1 (Halted) is still being started: start_on in progress (task ${START_TASK}) after 30 min; it was not put back: check the pool before clicking Restore again`]);
  });
});

describe('Restore: its own store unreachable', () => {
  it('a progress write failing (not fenced) is said as the bot\'s own store, with what was done, and that Restore can be clicked again', async () => {
    const w = world();
    const rec = await restore(w, {
      save: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
    });
    // vm1's start was followed (nothing sent): its progress write failed, so Restore stopped before vm2
    expect(w.sent).toEqual([]);
    expect(rec.state).toBe('partial');
    expect(rec.did).toEqual([`vm1 is Running as before the run: the start_on in progress on it (task ${START_TASK}) was followed to its end, not sent again`]);
    expect(rec.left).toEqual([
      `the bot's own store could not be written after following start_on of vm1 (its progress not written): connect ECONNREFUSED 127.0.0.1:5432. Restore stopped there and sent nothing more to the pool; ` +
        'what it lists as done is done on the pool. Click Restore again: it re-reads the pool and does only what is still needed',
    ]);
    expect(rec.left.join('\n')).not.toMatch(/the pool could not be read or acted on/);
  });
});

describe('Restore: the lease lost while a task is followed', () => {
  it('stops Restore at once: the task is left to the lease holder, nothing more is sent, and it says who holds the lease', async () => {
    const w = world();
    const lease = new AbortController();
    /** the start in progress, still running when the lease renewal is refused */
    let finish = (): void => undefined;
    const rec = await restore(w, {
      signal: lease.signal,
      leaseLost: async () => "the pool's lease passed to other-replica (run R-other)",
      client: {
        ...w.client,
        waitForTask: <T>(task: string, opts?: TaskWaitOptions) =>
          new Promise<T>((resolve) => {
            w.followed.push([task, opts]);
            finish = () => resolve(w.client.waitForTask<T>(task, opts));
            lease.abort(); // core/restore.ts keepLease: a renewal refused
          }),
      },
    });
    expect(w.followed.map(([t]) => t)).toEqual([START_TASK]);
    expect(w.sent).toEqual([]);
    expect(rec).toMatchObject({
      state: 'partial',
      did: [],
      left: [`the pool's lease passed to other-replica (run R-other): Restore stopped while following start_on of vm1 (task ${START_TASK}); nothing more was sent`],
    });
    finish();
  });
});

describe('core Restore: a lease renewal refused while a task is followed', () => {
  /** a clock standing still whose sleeps (the lease renewal's) end only when woken: no timing involved */
  function manualClock() {
    const sleepers: Array<() => void> = [];
    const clock: Clock = {
      now: () => Date.UTC(2026, 0, 1, 12),
      scale: 1,
      sleep: (_ms, signal) =>
        new Promise<void>((resolve, reject) => {
          if (signal?.aborted) return reject(signal.reason);
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          sleepers.push(resolve);
        }),
    };
    return { clock, wake: () => sleepers.splice(0).forEach((r) => r()) };
  }

  /** the aborted run, as stored: h2:stop-vms shut down vm1 and vm2 (both Running before the run) */
  function storedRun(): Run {
    const plan = makePlan(['h1', 'h2']);
    const at = plan.steps.findIndex((s) => s.id === 'h2:approval');
    plan.steps.splice(at + 1, 0, { id: 'h2:stop-vms', kind: 'stop-vms', host: H2, hostName: 'h2', description: 'stop', expectedSeconds: 1, stops: [] });
    const run = makeRun(plan);
    run.state = 'aborted';
    for (const s of run.steps) {
      if (s.id.startsWith('h1:') || s.id === 'backup' || ['h2:disable', 'h2:evacuate', 'h2:approval', 'h2:stop-vms'].includes(s.id)) s.state = 'done';
    }
    run.steps.find((s) => s.id === 'h2:disable')!.data = { wasEnabled: false };
    run.steps.find((s) => s.id === 'h2:stop-vms')!.data = {
      stopped: {
        [VM1]: { name: 'vm1', priorState: 'Running', host: H2, action: 'shutdown', stopped: true },
        [VM2]: { name: 'vm2', priorState: 'Running', host: H2, action: 'shutdown', stopped: true },
      },
    };
    return run;
  }

  it('Restore stops at once (the renewal, not its next write, tells it): nothing more is sent, and its record says who holds the lease', async () => {
    const { clock, wake } = manualClock();
    const store = await openStore({ path: ':memory:', clock });
    const w = world();
    const run = storedRun();
    expect(restoreOffer(run)?.vms.map((v) => v.name)).toEqual(['vm1', 'vm2']);
    await store.createRun(run);
    const client: PoolClient = {
      ...w.client,
      // vm1's start in progress is followed; meanwhile the lease passes to another replica, and Restore's next
      // renewal is refused. The start is still running: this wait never ends on its own
      waitForTask: async <T>(task: string, opts?: TaskWaitOptions): Promise<T> => {
        w.followed.push([task, opts]);
        await store.releaseLease(run.pool, 'restorer');
        const taken = await store.acquireLease(run.pool, 'other-replica', 'R-other', 60_000, clock.now());
        expect(taken.ok).toBe(true);
        wake();
        return new Promise<T>(() => undefined);
      },
    };
    const env: RestoreEnv = {
      store,
      clock,
      ownerId: 'restorer',
      leaseTtlMs: 60_000,
      forRun: async (id) => ({ ok: true, value: { run: (await store.getRun(id))! } }),
      client: () => client,
      audit: auditor(store, clock),
      refuse: async (_id, _actor, code, error) => ({ ok: false, code, error }),
      notify: () => undefined,
    };
    const res = await restoreRun(env, run.id, { userId: 'UAPPROVER1', source: 'slack' });

    expect(w.followed.map(([t]) => t)).toEqual([START_TASK]);
    expect(w.sent).toEqual([]);
    expect(res.ok).toBe(true);
    const after = (await store.getRun(run.id))!;
    expect(after.restore).toMatchObject({
      state: 'partial',
      left: [`the pool's lease passed to other-replica (run R-other): Restore stopped while following start_on of vm1 (task ${START_TASK}); nothing more was sent`],
    });
    expect(await store.getLease(run.pool)).toMatchObject({ owner: 'other-replica' });
    await store.close();
  });
});
