/**
 * Restore after abort (src/runner/restore.ts, src/core/restore.ts):
 * - every write of Restore is fenced by the pool's lease (issue 16): a Restore whose lease passed to another replica
 *   stops at its next write, sends nothing more, and never overwrites the run's record written by the lease's holder;
 * - a task of pool.enable_ha is followed as this call's only when it is the one candidate (as longCall: no guessing
 *   among several tasks, none adopted that was created before the call, or before the run was aborted).
 */
import type { RestoreRecord, Run } from '../../src/domain/types';
import { executeRestore, type RestoreDeps, type RestoreOffer } from '../../src/runner/restore';
import type { PoolClient } from '../../src/runner/ports';
import { FencedError } from '../../src/store/types';
import { XenApiConnectionError } from '../../src/xenapi';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { GatedClient } from '../helpers/gated-client';
import type { Clock } from '../../src/clock';
import { makePlan, makeRun, recordingNotifier } from './helpers';
import { APPROVER, approveUntilGate, coreForSim, planAndStart, startHarness } from './sim-harness';

const H1 = 'ref-h1';
const H2 = 'ref-h2';
const VM = 'OpaqueRef:vm1';
const MIN = 60_000;
/** a clock standing still: task ages are exact whatever the test's speed (Restore only reads the time) */
const stillClock = (): Clock => ({ now: () => Date.UTC(2026, 0, 1, 12), sleep: async () => undefined, scale: 1 });

type Task = { name_label: string; status: string; created: string };
/** xapi's text form of a datetime, as JSON-RPC gives a task's `created` (20260101T11:55:00Z) */
const xapiTime = (ms: number) => new Date(ms).toISOString().replace(/-/g, '').replace(/\.\d+Z$/, 'Z');

/** A two-host pool with h2 disabled, vm1 halted and HA off; what Restore sends and follows is recorded. */
function world(clock = stillClock()) {
  const state = { h2Enabled: false, vmPower: 'Halted', haEnabled: false };
  const tasks: Record<string, Task> = {};
  const sent: string[] = [];
  const followed: string[] = [];
  /** how Async.pool.enable_ha answers: carried out, or carried out with its answer lost */
  let enableHa: 'ok' | 'answer-lost' = 'ok';
  const host = (name: string, ref: string, enabled: boolean) => ({
    uuid: `u-${name}`,
    name_label: name,
    address: `10.0.0.${name.slice(1)}`,
    enabled,
    metrics: `m-${ref}`,
    software_version: { product_version: '7.1.1' },
    other_config: {},
  });
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: async () => ({}),
    call: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      const vm = { uuid: 'u-vm1', name_label: 'vm1', power_state: state.vmPower, resident_on: state.vmPower === 'Running' ? H2 : 'OpaqueRef:NULL', current_operations: {} };
      switch (method) {
        case 'pool.get_all_records':
          return { 'OpaqueRef:pool': { name_label: 'pool-t', master: H1, ha_enabled: state.haEnabled, other_config: {} } } as T;
        case 'host.get_all_records':
          return { [H1]: host('h1', H1, true), [H2]: host('h2', H2, state.h2Enabled) } as T;
        case 'host_metrics.get_all_records':
          return { [`m-${H1}`]: { live: true }, [`m-${H2}`]: { live: true } } as T;
        case 'VM.get_all_records':
          return { [VM]: vm } as T;
        case 'VM.get_record':
          return vm as T;
        case 'task.get_all_records':
          return structuredClone(tasks) as T;
        default:
          throw new Error(`unexpected call ${method} ${JSON.stringify(params)}`);
      }
    },
    callAsync: async <T>(method: string): Promise<T> => {
      sent.push(method);
      if (method === 'host.enable') state.h2Enabled = true;
      if (method === 'VM.start_on') state.vmPower = 'Running';
      if (method === 'pool.enable_ha' && enableHa === 'answer-lost') throw new XenApiConnectionError('socket hang up (ECONNRESET)', 'h1', 'Async.pool.enable_ha', 'ECONNRESET');
      if (method === 'pool.enable_ha') state.haEnabled = true;
      return '' as T;
    },
    waitForTask: async <T>(task: string, _opts?: TaskWaitOptions): Promise<T> => {
      followed.push(task);
      return '' as T;
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  /** a task of Async.<method> created `ago` ms before now (the client's clock) */
  const addTask = (ref: string, method: string, ago: number, status = 'pending') => {
    tasks[ref] = { name_label: `Async.${method}`, status, created: xapiTime(clock.now() - ago) };
  };
  return {
    clock,
    client,
    state,
    tasks,
    sent,
    followed,
    addTask,
    loseEnableHaAnswer: () => {
      enableHa = 'answer-lost';
    },
  };
}

/** The aborted run (10 minutes ago) and what Restore is to put back: h2 enabled, vm1 started, HA re-enabled. */
function abortedRun(clock: { now(): number }): { run: Run; offer: RestoreOffer; started: RestoreRecord } {
  const run = makeRun(makePlan(['h1', 'h2']));
  run.state = 'aborted';
  run.endedAt = clock.now() - 10 * MIN;
  const offer: RestoreOffer = {
    host: { ref: H2, name: 'h2' },
    enableHost: true,
    vms: [{ ref: VM, name: 'vm1', priorState: 'Running', host: H2, action: 'shutdown', stopped: true }],
    ha: { wasEnabled: true, heartbeatSrs: ['OpaqueRef:sr'], configuration: {} },
  };
  return { run, offer, started: { by: 'UAPPROVER1', at: clock.now(), state: 'running', did: [], left: [] } };
}

async function restore(w: ReturnType<typeof world>, over: Partial<RestoreDeps> = {}, offerOver: Partial<RestoreOffer> = {}) {
  const { run, offer, started } = abortedRun(w.clock);
  return executeRestore({ client: w.client, audit: async () => undefined, save: async () => undefined, clock: w.clock, ...over }, run, { ...offer, ...offerOver }, started);
}

describe('Restore: its progress writes are fenced by the pool lease', () => {
  it('a progress write refused (the lease passed to another replica) stops Restore: nothing more is sent, and it says why', async () => {
    const w = world();
    const saved: RestoreRecord[] = [];
    const rec = await restore(w, {
      save: async (r) => {
        saved.push(structuredClone(r));
        throw new FencedError('pool pool-t: the lease restorer wrote with (token 1) was taken over (other-replica); nothing was written');
      },
      leaseLost: async () => "the pool's lease passed to other-replica (run R-other)",
    });
    expect(w.sent).toEqual(['host.enable']);
    expect(w.state.vmPower).toBe('Halted');
    expect(saved).toHaveLength(1);
    expect(rec).toMatchObject({
      state: 'partial',
      did: ['h2 enabled'],
      left: ["the pool's lease passed to other-replica (run R-other): Restore stopped after host.enable h2 (its progress not written); nothing more was sent"],
    });
  });

  it('a Restore whose lease passed to a replica that began its own Restore of the run writes nothing over that replica\'s record', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    const run = await planAndStart(h);
    await approveUntilGate(h, run.id, 'xs-a2:approval');
    expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
    let client: GatedClient | undefined;
    const notifier = recordingNotifier();
    const restorer = await coreForSim(h.sim, {
      store: h.store,
      clock: h.clock,
      dir: h.dir,
      ownerId: 'restorer',
      notifier,
      clientFactory: (p) => (client = new GatedClient({ url: p.masterUrl, username: p.username, password: h.sim.password, tls: p.tls, clock: h.clock })),
    });
    expect((await restorer.liveHosts('pool-a')).ok).toBe(true);
    const gate = client!.hold('Async.host.enable');
    try {
      const restoring = restorer.restore(run.id, APPROVER);
      await gate.reached;
      // while xs-a2's enable is on its way, Restore's lease passes to another replica, which begins its own Restore
      await h.store.releaseLease('pool-a', 'restorer');
      const taken = await h.store.acquireLease('pool-a', 'other-replica', run.id, 20 * 60_000, h.clock.now());
      if (!taken.ok) throw new Error('the other replica did not get the lease');
      const theirs: RestoreRecord = { by: 'UOTHER', at: h.clock.now(), state: 'running', did: [], left: [] };
      await h.store.updateRun(run.id, (r) => void (r.restore = theirs), { fence: { pool: 'pool-a', owner: 'other-replica', token: taken.token! } });
      const before = (await h.store.getRun(run.id))!;
      const auditBefore = (await h.store.listAudit(run.id)).length;
      gate.release();
      expect((await restoring).ok).toBe(true);

      // the call was on its way before the lease was lost; nothing of Restore is written after it
      const after = (await h.store.getRun(run.id))!;
      expect(after.restore).toEqual(theirs);
      expect({ endAudit: after.endAudit, outcome: after.outcome, revision: after.revision }).toEqual({ endAudit: before.endAudit, outcome: before.outcome, revision: before.revision });
      expect((await h.store.listAudit(run.id)).slice(auditBefore)).toEqual([]);
      expect(await h.store.getLease('pool-a')).toMatchObject({ owner: 'other-replica', runId: run.id });
      // the thread is told why Restore stopped (shutdown flushes the notifications queued)
      await restorer.shutdown();
      const said = notifier.calls.filter((c) => c.method === 'runEvent').map((c) => c.text ?? '');
      expect(said.some((t) => t.includes(`the pool's lease passed to other-replica (run ${run.id}): Restore stopped after host.enable xs-a2 (its progress not written); nothing more was sent`))).toBe(true);
    } finally {
      gate.release();
      await restorer.shutdown();
      await h.close();
    }
  });
});

describe('Restore: a task of pool.enable_ha is followed only when it is the one candidate', () => {
  const hostAndVmDone = { enableHost: false, vms: [] };

  it('the answer to Async.pool.enable_ha lost, and two tasks of it created since: none is followed, and Restore says so', async () => {
    const w = world();
    w.loseEnableHaAnswer();
    w.client.callAsync = (async <T>(method: string): Promise<T> => {
      // another client's enable_ha and this one's, both created at the call
      w.addTask('OpaqueRef:task-a', 'pool.enable_ha', 0);
      w.addTask('OpaqueRef:task-b', 'pool.enable_ha', 0);
      w.sent.push(method);
      throw new XenApiConnectionError('socket hang up (ECONNRESET)', 'h1', 'Async.pool.enable_ha', 'ECONNRESET');
    }) as typeof w.client.callAsync;
    const rec = await restore(w, {}, hostAndVmDone);
    expect(w.sent).toEqual(['pool.enable_ha']);
    expect(w.followed).toEqual([]);
    expect(rec.state).toBe('partial');
    expect(rec.did).toEqual([]);
    expect(rec.left).toEqual([
      expect.stringMatching(
        /^re-enabling HA: no answer to Async\.pool\.enable_ha \(.*\), 2 tasks of Async\.pool\.enable_ha on the pool could each be it \(task OpaqueRef:task-a: pending, created \S+; task OpaqueRef:task-b: pending, created \S+\) and none was followed, and the pool does not show it done: xapi may still be doing it; check the pool before clicking Restore again$/,
      ),
    ]);
  });

  it('the answer lost, and the only task of pool.enable_ha was created an hour before the call: it is not taken for the call', async () => {
    const w = world();
    w.loseEnableHaAnswer();
    w.addTask('OpaqueRef:task-old', 'pool.enable_ha', 60 * MIN);
    const rec = await restore(w, {}, hostAndVmDone);
    expect(w.followed).toEqual([]);
    expect(rec.left).toEqual([expect.stringMatching(/^re-enabling HA: no answer to Async\.pool\.enable_ha \(.*\), and the pool does not show it done/)]);
  });

  it('the answer lost, and exactly one task of it created since the call: it is followed', async () => {
    const w = world();
    w.client.callAsync = (async <T>(method: string): Promise<T> => {
      w.addTask('OpaqueRef:task-mine', 'pool.enable_ha', 0);
      w.sent.push(method);
      throw new XenApiConnectionError('socket hang up (ECONNRESET)', 'h1', 'Async.pool.enable_ha', 'ECONNRESET');
    }) as typeof w.client.callAsync;
    const rec = await restore(w, {}, hostAndVmDone);
    expect(w.followed).toEqual(['OpaqueRef:task-mine']);
    expect(rec).toMatchObject({ state: 'done', did: ['HA re-enabled (its task OpaqueRef:task-mine followed: the answer to Async.pool.enable_ha was lost)'], left: [] });
  });

  it('Restore clicked again with two tasks of pool.enable_ha running: none is followed, none is sent on top of them, and Restore says so', async () => {
    const w = world();
    w.addTask('OpaqueRef:task-a', 'pool.enable_ha', 5 * MIN);
    w.addTask('OpaqueRef:task-b', 'pool.enable_ha', 2 * MIN);
    const audited: string[] = [];
    const rec = await restore(w, { audit: async (_r, _k, _a, message) => void audited.push(message) }, hostAndVmDone);
    expect(w.sent).toEqual([]);
    expect(w.followed).toEqual([]);
    expect(audited).toEqual([]);
    expect(rec.state).toBe('partial');
    expect(rec.left).toEqual([
      expect.stringMatching(
        /^re-enabling HA: 2 tasks of Async\.pool\.enable_ha are running on the pool \(task OpaqueRef:task-a: pending, created \S+; task OpaqueRef:task-b: pending, created \S+\); which one is Restore's cannot be told, so none is followed and pool\.enable_ha is not sent again; check the pool before clicking Restore again$/,
      ),
    ]);
  });

  it('Restore clicked again with one task of pool.enable_ha running since the abort: it is followed, not sent again', async () => {
    const w = world();
    w.addTask('OpaqueRef:task-a', 'pool.enable_ha', 5 * MIN);
    const rec = await restore(w, {}, hostAndVmDone);
    expect(w.sent).toEqual([]);
    expect(w.followed).toEqual(['OpaqueRef:task-a']);
    expect(rec).toMatchObject({ state: 'done', did: ['HA re-enabled (its task OpaqueRef:task-a followed: sent before, still running when Restore was clicked again)'] });
  });

  it('a task of pool.enable_ha running since before the run was aborted is not one a Restore sent: it is not followed as one', async () => {
    const w = world();
    w.addTask('OpaqueRef:task-old', 'pool.enable_ha', 3 * 60 * MIN);
    const rec = await restore(w, {}, hostAndVmDone);
    expect(w.followed).toEqual([]);
    expect(w.sent).toEqual(['pool.enable_ha']);
    expect(rec).toMatchObject({ state: 'done', did: ['HA re-enabled'] });
  });
});
