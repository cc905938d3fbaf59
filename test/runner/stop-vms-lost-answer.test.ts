/**
 * stop-vms when the answer to its stop call is lost (the connection dropped after the request went out, or before it
 * reached xapi): "a call whose outcome is unknown is reconciled, never blindly re-sent". The VM is read again: down →
 * stopped, as if the answer had come; a stop still in progress → its task is followed; plainly Running with nothing
 * in progress → the step says so (the operator's Retry sends it again).
 */
import type { Run } from '../../src/domain/types';
import type { StoppedVm } from '../../src/runner/steps/stop-vms';
import { APPROVER, approveUntilGate, planAndStart, startHarness, waitForRun, type Harness } from './sim-harness';

const POOL_A = 'manifests/demo/pool-a.yaml';

/** a VM's stop-vms record; `issued` (the stop sent, its answer not yet come) is written before each stop call */
type Rec = StoppedVm & { issued?: unknown };
const records = (r: Run, stepId: string): Rec[] => Object.values((r.steps.find((s) => s.id === stepId)!.data?.stopped ?? {}) as Record<string, Rec>);
const recordOf = (r: Run, stepId: string, vm: string): Rec | undefined => records(r, stepId).find((v) => v.name === vm);
const powerOf = (h: Harness, vm: string): string => h.sim.inspect().vms.find((v) => v.name === vm)!.powerState;

/** The XenAPI side effects the run sent (its audit: one record per call, written before it) */
async function sent(h: Harness, runId: string, re: RegExp): Promise<string[]> {
  return (await h.store.listAudit(runId)).filter((e) => e.kind === 'xenapi' && re.test(e.message)).map((e) => e.message);
}

describe('stop-vms: the answer to a stop is lost', () => {
  it('Async.VM.suspend reached xapi, its answer did not: the VM is read again (its suspend followed, or found done), counted stopped, nothing sent twice', async () => {
    const h = await startHarness(POOL_A, 'automatic', { faults: [{ kind: 'connection-reset', method: 'Async.VM.suspend', when: 'after' }] });
    try {
      const run = await planAndStart(h);
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      const failed = end.steps.find((s) => s.state === 'failed');
      expect({ state: end.state, failed: failed?.id, error: failed?.error?.message }).toEqual({ state: 'done', failed: undefined, error: undefined });
      // recorded as an answered suspend: stopped by the run, nothing left "issued"
      const rec = recordOf(end, 'xs-a2:stop-vms', 'vm-licence-srv')!;
      expect(rec).toMatchObject({ action: 'suspend', stopped: true });
      expect(rec.issued).toBeUndefined();
      // one suspend of that VM, and the pool received exactly the suspends the run audited
      expect(await sent(h, run.id, /^VM\.suspend vm-licence-srv$/)).toHaveLength(1);
      expect(h.sim.stats().calls['Async.VM.suspend']).toBe((await sent(h, run.id, /^VM\.suspend \S+$/)).length);
      // said in the audit: the answer was lost, and the suspend either still running (its task followed) or already
      // done when the VM was read again (which of the two depends on how fast the simulator's task ends under load)
      const audit = (await h.store.listAudit(run.id)).map((e) => e.message);
      const followed = /vm-licence-srv: the answer to VM\.suspend was lost; following its task .* not sent again/;
      const foundDone = /^VM\.suspend vm-licence-srv: its answer was lost; the pool shows it Suspended, so it is not sent again$/;
      expect(audit.some((m) => followed.test(m) || foundDone.test(m))).toBe(true);
      expect(end.endAudit!.counts).toMatchObject({ stopped: 2, restarted: 2 });
    } finally {
      await h.close();
    }
  });

  it('Async.VM.suspend never reached xapi: the step says the VM is still Running with nothing in progress; no second call until Retry', async () => {
    const h = await startHarness(POOL_A, 'automatic', {
      autoApprove: false,
      faults: [{ kind: 'connection-reset', method: 'Async.VM.suspend', when: 'before' }],
    });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a2:approval');
      expect((await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed');
      expect(step?.id).toBe('xs-a2:stop-vms');
      // truthful: what the pool shows, not "pool unreachable"
      expect(step!.error!.message).toMatch(/vm-licence-srv: .*answer to VM\.suspend .*lost.* the pool shows the VM still Running on xs-a2 with no stop in progress/);
      expect(step!.error!.code).toBeUndefined();
      expect(powerOf(h, 'vm-licence-srv')).toBe('Running');
      expect(h.sim.stats().calls['Async.VM.suspend']).toBe(1);
      expect(recordOf(failed, step!.id, 'vm-licence-srv')).toMatchObject({ stopped: false });
      // the outcome is known now: nothing is left "issued", so the operator's Retry sends it again
      expect(recordOf(failed, step!.id, 'vm-licence-srv')!.issued).toBeUndefined();

      expect((await h.core.recover(run.id, { action: 'retry', stepId: step!.id }, APPROVER)).ok).toBe(true);
      let now = failed;
      for (const giveUp = Date.now() + 30_000; Date.now() < giveUp && now.steps.find((s) => s.id === step!.id)!.state !== 'done'; await new Promise((r) => setTimeout(r, 20))) {
        now = (await h.store.getRun(run.id))!;
      }
      expect(now.steps.find((s) => s.id === step!.id)!.state).toBe('done');
      expect(recordOf(now, step!.id, 'vm-licence-srv')).toMatchObject({ action: 'suspend', stopped: true });
      expect(powerOf(h, 'vm-licence-srv')).toBe('Suspended');
      expect(h.sim.stats().calls['Async.VM.suspend']).toBe(2);
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('Async.VM.clean_shutdown reached xapi, its answer did not (stand-alone host): the shutdown is followed, the VM counted stopped', async () => {
    const h = await startHarness('manifests/demo/standalone.yaml', 'automatic', {
      faults: [{ kind: 'connection-reset', method: 'Async.VM.clean_shutdown', when: 'after' }],
    });
    try {
      const run = await planAndStart(h);
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      const failed = end.steps.find((s) => s.state === 'failed');
      expect({ state: end.state, failed: failed?.id, error: failed?.error?.message }).toEqual({ state: 'done', failed: undefined, error: undefined });
      const stopStep = end.steps.find((s) => s.kind === 'stop-vms')!;
      expect(records(end, stopStep.id).map((v) => `${v.name}:${v.action}:${v.stopped}:${v.issued === undefined}`).sort()).toEqual([
        'fileserver:shutdown:true:true',
        'printserver:shutdown:true:true',
      ]);
      // each VM shut down once: no second clean_shutdown, no hard_shutdown
      expect(h.sim.stats().calls['Async.VM.clean_shutdown']).toBe(2);
      expect(h.sim.stats().calls['Async.VM.hard_shutdown'] ?? 0).toBe(0);
      expect(end.endAudit!.counts).toMatchObject({ stopped: 2, restarted: 2 });
    } finally {
      await h.close();
    }
  });
});
