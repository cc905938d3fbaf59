/**
 * restore-vms when the answer to its VM.resume_on / VM.start_on is lost (connection dropped after the call reached
 * xapi). The runner is level-triggered and "never blindly replays a side effect"; as stop-vms settles a lost answer
 * from the pool (stop-vms-lost-answer.test.ts), restore-vms reads the VM again: Running → restored, not sent again;
 * still Suspended with nothing in progress → that VM's failure says so (Retry reads it again); the pool unreadable →
 * the step ends as unavailable naming the call in doubt, and its re-run reads the pool first.
 */
import { toStepError } from '../../src/runner/errors';
import { XenApiConnectionError } from '../../src/xenapi';
import { planAndStart, startHarness, waitForRun } from './sim-harness';
import { H2, world, type VmState } from './stop-vms-world';

const POOL_A = 'manifests/demo/pool-a.yaml';
const VM1 = 'OpaqueRef:vm1';

it('Async.VM.resume_on reached xapi and resumed the VM, its answer was lost: the VM is read again, counted restored, not sent again', async () => {
  const h = await startHarness(POOL_A, 'automatic', {
    faults: [{ kind: 'connection-reset', method: 'Async.VM.resume_on', when: 'after' }],
  });
  try {
    const run = await planAndStart(h);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
    const failed = end.steps.find((s) => s.state === 'failed');
    // evidence: the VM that restore-vms resumed is Running (the call went through)
    await new Promise((r) => setTimeout(r, 300));
    const vm = h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')!;
    expect(vm.powerState).toBe('Running');
    expect({ state: end.state, failed: failed?.id, error: failed?.error?.message }).toEqual({ state: 'done', failed: undefined, error: undefined });
    // said in the audit: the answer was lost, and the resume either still running (its task followed) or found done
    const audit = (await h.store.listAudit(run.id)).map((e) => e.message);
    const followed = /vm-licence-srv: the answer to VM\.resume_on was lost; following its \S+ in progress .* not sent again/;
    const foundDone = /^VM\.resume_on vm-licence-srv: its answer was lost; the pool shows it Running on xs-a2, so it is not sent again$/;
    expect(audit.some((m) => followed.test(m) || foundDone.test(m))).toBe(true);
    expect(audit.filter((m) => /^VM\.resume_on vm-licence-srv on xs-a2$/.test(m))).toHaveLength(1);
  } finally {
    await h.close();
  }
});

describe('restore-vms: the answer to a resume is lost (unit world)', () => {
  const suspended = (): Record<string, VmState> => ({ [VM1]: { name: 'vm1', power_state: 'Suspended', resident_on: 'OpaqueRef:NULL', current_operations: {} } });
  const records = { [VM1]: { name: 'vm1', priorState: 'Running' as const, host: H2, action: 'suspend' as const, stopped: true } };
  const lostAnswer = () => new XenApiConnectionError('socket hang up (ECONNRESET)', 'h1', 'Async.VM.resume_on', 'ECONNRESET');

  it('answer lost, the VM still Suspended with nothing in progress: that VM fails saying what the pool shows; nothing sent again', async () => {
    const w = world({
      vms: suspended(),
      stops: [],
      records,
      start: () => {
        throw lostAnswer(); // never carried out: the VM stays Suspended
      },
    });
    const err = await w.restoreVms().then(
      () => undefined,
      (e: unknown) => e,
    );
    const e = toStepError(err);
    expect(e.message).toMatch(
      /^1 VM\(s\) stopped for h2 could not be restored; first: vm1 \(Suspended\): the answer to VM\.resume_on \(sent \S+\) was lost, and the pool shows the VM still Suspended; nothing in progress on it: it is not sent again automatically/,
    );
    expect(e.code).toBeUndefined();
    expect(e.observed).toEqual([expect.stringMatching(/^vm1 \(Suspended\): the answer to VM\.resume_on .* still Suspended; nothing in progress on it/)]);
    expect(w.sent).toEqual(['VM.resume_on vm1']);
  });

  it('answer lost and the pool unreadable: the step ends as unavailable naming the resume in doubt; the re-run reads the VM, finds it Running, and sends nothing', async () => {
    const vms = suspended();
    let poolAway = false;
    const w = world({
      vms,
      stops: [],
      records,
      start: (_method, params, vm) => {
        Object.assign(vm, { power_state: 'Running', resident_on: params[1] }); // carried out by xapi...
        poolAway = true;
        throw lostAnswer(); // ...its answer lost, and the master gone
      },
      failGetRecord: () => (poolAway ? new XenApiConnectionError('connect ECONNREFUSED', 'h1', 'VM.get_record', 'ECONNREFUSED') : undefined),
    });
    const err = await w.restoreVms().then(
      () => undefined,
      (e: unknown) => e,
    );
    // not a StepFailure: the engine reconnects and runs the step again
    expect(err).toBeInstanceOf(XenApiConnectionError);
    const e = toStepError(err);
    expect(e).toMatchObject({ code: 'CONNECTION', observed: [expect.stringMatching(/^VM\.resume_on vm1 \(sent \S+\)$/)] });
    expect(e.message).toMatch(/their answer never seen: VM\.resume_on vm1/);
    expect(w.sent).toEqual(['VM.resume_on vm1']);

    // the pool is back: the re-run reads the VM first, finds it Running, and sends nothing
    poolAway = false;
    w.sent.length = 0;
    await expect(w.restoreVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual([]);
  });
});
