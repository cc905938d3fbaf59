/**
 * Issue 10.7: the per-host gate comes before any VM downtime. Live migrations may run before the gate; the VMs that
 * cannot move are suspended or shut down only after an approver approved the host's shutdown.
 */
import { APPROVER, planAndStart, startHarness, waitForRun } from './sim-harness';

const power = (h: Awaited<ReturnType<typeof startHarness>>, vm: string) => h.sim.inspect().vms.find((v) => v.name === vm)!.powerState;

describe('per-host gate before any VM downtime (issue 10.7)', () => {
  it('plans disable → evacuate → approval → stop-vms → upgrade, and the gate names the VMs it will stop', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      const ids = run.plan.steps.filter((s) => s.hostName === 'xs-a2').map((s) => s.kind);
      expect(ids.slice(0, 5)).toEqual(['disable', 'evacuate', 'approval', 'stop-vms', 'upgrade']);
      const gate = run.plan.steps.find((s) => s.id === 'xs-a2:approval')!;
      expect(gate.description).toMatch(/shut down xs-a2 .*first shut down vm-licence-srv|first suspend vm-licence-srv/);
    } finally {
      await h.close();
    }
  });

  it('waiting at the gate, the VM that cannot move still runs; it is stopped only once the gate is approved', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      let waiting = await waitForRun(h.store, run.id, ['awaiting-approval']);
      expect(waiting.steps.find((s) => s.state === 'awaiting-approval')!.id).toBe('xs-a1:approval');
      expect((await h.core.approve(run.id, 'xs-a1:approval', APPROVER)).ok).toBe(true);
      waiting = await waitForRun(h.store, run.id, ['awaiting-approval', 'failed'], 60_000);
      // the loop may pass through "awaiting-approval" of the master only: wait for xs-a2's gate
      for (let i = 0; i < 200 && waiting.steps.find((s) => s.state === 'awaiting-approval')?.id !== 'xs-a2:approval'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        waiting = (await h.store.getRun(run.id))!;
      }
      expect(waiting.steps.find((s) => s.state === 'awaiting-approval')?.id).toBe('xs-a2:approval');
      // migrations went before the gate; the local-storage VM did not go down
      const xs2 = h.sim.hosts().find((x) => x.name === 'xs-a2')!;
      expect(xs2.enabled).toBe(false);
      expect(h.sim.inspect().vms.filter((v) => v.residentOn === 'xs-a2').map((v) => `${v.name}:${v.powerState}`)).toEqual(['vm-licence-srv:Running']);
      expect(waiting.steps.find((s) => s.id === 'xs-a2:stop-vms')!.state).toBe('pending');
      const audit = await h.store.listAudit(run.id);
      expect(audit.some((e) => e.kind === 'xenapi' && /^VM\.(suspend|clean_shutdown|hard_shutdown) vm-licence-srv/.test(e.message))).toBe(false);
      // the approval request names the VM it will stop
      const gateCall = h.notifier.calls.filter((c) => c.method === 'approvalNeeded' && c.stepId === 'xs-a2:approval');
      expect(gateCall).toHaveLength(1);
      expect(waiting.plan.steps.find((s) => s.id === 'xs-a2:approval')!.description).toMatch(/vm-licence-srv/);

      expect((await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
      for (let i = 0; i < 400 && power(h, 'vm-licence-srv') === 'Running'; i++) await new Promise((r) => setTimeout(r, 25));
      expect(power(h, 'vm-licence-srv')).not.toBe('Running');
      const after = await h.store.listAudit(run.id);
      const approvedAt = after.findIndex((e) => e.kind === 'approval' && /xs-a2:approval approved/.test(e.message));
      const stoppedAt = after.findIndex((e) => e.kind === 'xenapi' && /vm-licence-srv/.test(e.message));
      expect(approvedAt).toBeGreaterThanOrEqual(0);
      expect(stoppedAt).toBeGreaterThan(approvedAt);
    } finally {
      await h.close();
    }
  });
});
