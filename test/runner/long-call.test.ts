/**
 * Slow calls (issue 12 point 1, 10): sent through Async.*, "issued" persisted before the call and the task ref after;
 * a re-run follows the task, adopts a pending one, or asks the live pool — it never sends the call a second time
 * while the outcome of the first is unknown.
 */
import { ScaledClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { longCall, type LongCall, type Reconciled } from '../../src/runner/long-call';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { XenApiConnectionError, XenApiError, XenApiTaskLostError, XenApiTimeoutError } from '../../src/xenapi';

interface World {
  sent: string[];
  /** task ref → what waitForTask does */
  tasks: Map<string, () => Promise<unknown>>;
  pending: Record<string, { name_label: string; status: string }>;
  data: Record<string, unknown>;
  saves: Array<Record<string, unknown>>;
  audits: string[];
  destroyed: string[];
  /** what ctx.assertLive throws (the run was taken over or aborted elsewhere) */
  notLive?: Error;
}

function setup(world: Partial<World> = {}) {
  const w: World = { sent: [], tasks: new Map(), pending: {}, data: {}, saves: [], audits: [], destroyed: [], ...world };
  const clock = new ScaledClock(1000);
  const client = {
    call: async (method: string) => {
      if (method === 'task.get_all_records') return w.pending;
      throw new Error(`unexpected read ${method}`);
    },
    // the real client runs beforeDestroy once the task ended, before task.destroy (test/xenapi/tasks.test.ts)
    waitForTask: async (task: string, opts: { beforeDestroy?: () => Promise<void> } = {}) => {
      const f = w.tasks.get(task);
      if (!f) throw new XenApiTaskLostError(`task ${task} no longer exists`, task, 'task');
      const result = await f();
      await opts.beforeDestroy?.();
      w.destroyed.push(task);
      return result;
    },
  };
  const deps = { client, clock, logger: silentLogger } as unknown as StepDeps;
  const step = { id: 'pool-finish', data: w.data };
  const ctx = {
    step,
    log: silentLogger,
    signal: new AbortController().signal,
    assertLive: async () => {
      if (w.notLive) throw w.notLive;
    },
    saveData: async (patch: Record<string, unknown>) => {
      w.saves.push(structuredClone(patch));
      step.data = { ...step.data, ...patch };
      w.data = step.data;
    },
    act: async (method: string) => {
      w.sent.push(method);
      const task = `OpaqueRef:task-${w.sent.length}`;
      w.tasks.set(task, async () => 'ok');
      return task;
    },
    audit: async (message: string) => void w.audits.push(message),
  } as unknown as StepContext;
  const call = (reconcile: () => Promise<Reconciled> = async () => 'not-done'): LongCall => ({
    key: 'enableHaCall',
    method: 'pool.enable_ha',
    params: [[], {}],
    target: 'pool p',
    budgetMs: 3600_000,
    reconcile,
    checkBeforeRetry: 'Check HA.',
  });
  return { w, deps, ctx, call, step };
}

describe('longCall', () => {
  it('writes "issued" before the Async call and the task ref after it; clears the record when the task ends', async () => {
    const { w, deps, ctx, call } = setup();
    const r = await longCall(deps, ctx, call());
    expect(r).toEqual({ sent: true, result: 'ok' });
    expect(w.sent).toEqual(['Async.pool.enable_ha']);
    expect(w.saves[0]!.enableHaCall).toEqual({ method: 'pool.enable_ha', issuedAt: expect.any(Number) });
    expect((w.saves[1]!.enableHaCall as { task: string }).task).toBe('OpaqueRef:task-1');
    expect(w.saves[2]).toEqual({ enableHaCall: null });
  });

  it('a re-run follows the recorded task instead of sending the call again', async () => {
    const { w, deps, ctx, call } = setup({ data: { enableHaCall: { method: 'pool.enable_ha', issuedAt: 1, task: 'OpaqueRef:t9' } } });
    w.tasks.set('OpaqueRef:t9', async () => 'from the first call');
    const r = await longCall(deps, ctx, call(async () => fail('the pool must not be asked while the task answers')));
    expect(r).toEqual({ sent: true, result: 'from the first call' });
    expect(w.sent).toEqual([]);
  });

  it('no task ref was returned (reply lost): a pending task of the same call is adopted, nothing is sent', async () => {
    const { w, deps, ctx, call } = setup({
      data: { enableHaCall: { method: 'pool.enable_ha', issuedAt: 1 } },
      pending: { 'OpaqueRef:other': { name_label: 'Async.VM.pool_migrate', status: 'pending' }, 'OpaqueRef:t7': { name_label: 'Async.pool.enable_ha', status: 'pending' } },
    });
    w.tasks.set('OpaqueRef:t7', async () => '');
    await longCall(deps, ctx, call());
    expect(w.sent).toEqual([]);
    expect(w.saves[0]!.enableHaCall).toMatchObject({ task: 'OpaqueRef:t7' });
  });

  it('no task ref was returned and the task already ENDED: it is found by its created time in either wire form, never sent again', async () => {
    const issuedAt = Date.UTC(2026, 11, 3, 5, 30, 0);
    // JSON-RPC gives xapi's text form (which Date.parse cannot read), XML-RPC a Date: both are the same call's task
    for (const created of ['20261203T05:30:02Z', new Date(issuedAt + 2000)]) {
      const { w, deps, ctx, call } = setup({
        data: { enableHaCall: { method: 'pool.enable_ha', issuedAt } },
        pending: { 'OpaqueRef:t8': { name_label: 'Async.pool.enable_ha', status: 'success', created } as never },
      });
      w.tasks.set('OpaqueRef:t8', async () => '');
      await longCall(deps, ctx, call(async () => 'unknown'));
      expect(w.sent).toEqual([]);
      expect(w.saves[0]!.enableHaCall).toMatchObject({ task: 'OpaqueRef:t8' });
    }
  });

  it('the task vanished (master restart) and the pool shows the effect: done, not sent again', async () => {
    const { w, deps, ctx, call } = setup({ data: { enableHaCall: { method: 'pool.enable_ha', issuedAt: 1, task: 'OpaqueRef:gone' } } });
    const r = await longCall(deps, ctx, call(async () => 'done'));
    expect(r).toEqual({ sent: false, why: 'its effect is already seen on the pool' });
    expect(w.sent).toEqual([]);
    expect(w.data.enableHaCall).toBeNull();
  });

  it('the task vanished and the pool shows no effect: sent again, once, and said so in the audit log', async () => {
    const { w, deps, ctx, call } = setup({ data: { enableHaCall: { method: 'pool.enable_ha', issuedAt: 1, task: 'OpaqueRef:gone' } } });
    await longCall(deps, ctx, call(async () => 'not-done'));
    expect(w.sent).toEqual(['Async.pool.enable_ha']);
    expect(w.audits.join('\n')).toMatch(/task is gone and the pool shows no effect; sending it again/);
  });

  it('outcome unknown: the step fails CALL_OUTCOME_UNKNOWN without sending; only the next (operator) Retry sends it', async () => {
    const { w, deps, ctx, call } = setup({ data: { enableHaCall: { method: 'pool.enable_ha', issuedAt: 1, task: 'OpaqueRef:gone' } } });
    await expect(longCall(deps, ctx, call(async () => 'unknown'))).rejects.toMatchObject({
      code: 'CALL_OUTCOME_UNKNOWN',
      message: expect.stringMatching(/outcome is unknown.*not sent again automatically\. Check HA\. Then Retry sends it again, or Abort/),
    });
    expect(w.sent).toEqual([]);
    expect(w.data.enableHaCall).toMatchObject({ unknownReported: true });
    await longCall(deps, ctx, call(async () => 'unknown'));
    expect(w.sent).toEqual(['Async.pool.enable_ha']);
  });

  it('a task past its deadline fails the step TASK_DEADLINE and keeps the task: Retry follows it, never re-sends', async () => {
    const { w, deps, ctx, call } = setup();
    w.tasks.clear();
    const act = ctx.act;
    (ctx as { act: unknown }).act = async (m: string) => {
      const t = (await act(m, [], '')) as string;
      w.tasks.set(t, async () => {
        throw new XenApiTimeoutError('task: deadline passed', t, 0);
      });
      return t;
    };
    await expect(longCall(deps, ctx, call())).rejects.toMatchObject({ code: 'TASK_DEADLINE' });
    expect(w.data.enableHaCall).toMatchObject({ task: 'OpaqueRef:task-1' });
    w.tasks.set('OpaqueRef:task-1', async () => 'finished later');
    expect(await longCall(deps, ctx, call())).toEqual({ sent: true, result: 'finished later' });
    expect(w.sent).toEqual(['Async.pool.enable_ha']);
  });

  it('the task failed: its XenAPI error is the step error and the record is cleared (it did not happen)', async () => {
    const { w, deps, ctx, call } = setup({ data: { enableHaCall: { method: 'pool.enable_ha', issuedAt: 1, task: 'OpaqueRef:t1' } } });
    w.tasks.set('OpaqueRef:t1', async () => {
      throw new XenApiError('VDI_NOT_AVAILABLE', ['OpaqueRef:vdi'], 'Async.pool.enable_ha', 'xs-1');
    });
    await expect(longCall(deps, ctx, call())).rejects.toMatchObject({ code: 'VDI_NOT_AVAILABLE' });
    expect(w.data.enableHaCall).toBeNull();
    expect(w.sent).toEqual([]);
  });

  it('a replica taken over while it followed the task leaves the task and its record to the new holder (issue 16)', async () => {
    const { w, deps, ctx, call } = setup();
    const takenOver = new Error('pool p is now driven by replica-b: this runner stops without acting');
    w.notLive = takenOver;
    await expect(longCall(deps, ctx, call())).rejects.toBe(takenOver);
    expect(w.sent).toEqual(['Async.pool.enable_ha']);
    expect(w.destroyed).toEqual([]);
    // the issued record (with its task) stays: the new holder follows that task instead of sending the call again
    expect(w.data.enableHaCall).toMatchObject({ method: 'pool.enable_ha', task: 'OpaqueRef:task-1' });
  });

  it('the call never reached xapi (connection refused): nothing is left issued, and the next run sends it without asking the operator', async () => {
    const { w, deps, ctx, call } = setup();
    const act = (ctx as unknown as { act: (m: string) => Promise<string> }).act;
    (ctx as unknown as { act: (m: string) => Promise<string> }).act = async (method) => {
      throw new XenApiConnectionError(`cannot reach xs-1: ECONNREFUSED (${method})`, 'xs-1', method, 'ECONNREFUSED');
    };
    await expect(longCall(deps, ctx, call())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(w.data.enableHaCall).toBeNull();
    // the pool cannot tell whether HA was enabled by it; the call did not run, so that question is not asked
    (ctx as unknown as { act: typeof act }).act = act;
    expect(await longCall(deps, ctx, call(async () => 'unknown'))).toEqual({ sent: true, result: 'ok' });
    expect(w.sent).toEqual(['Async.pool.enable_ha']);
  });

  it('a refused connection while the task is followed is not "never sent": the record and its task stay', async () => {
    const { w, deps, ctx, call } = setup();
    const refusedWhileFollowing = new XenApiConnectionError('cannot reach xs-1: ECONNREFUSED (event.from)', 'xs-1', 'event.from', 'ECONNREFUSED');
    (deps.client as unknown as { waitForTask: () => Promise<never> }).waitForTask = async () => Promise.reject(refusedWhileFollowing);
    await expect(longCall(deps, ctx, call())).rejects.toBe(refusedWhileFollowing);
    expect(w.data.enableHaCall).toMatchObject({ method: 'pool.enable_ha', task: 'OpaqueRef:task-1' });
  });
});
