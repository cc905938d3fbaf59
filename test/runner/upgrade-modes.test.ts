/** The demo pools upgrade end to end on the simulator, in every mode (issue 4, Done-when). */
import { planAndStart, runningVmPlacement, startHarness, waitForRun } from './sim-harness';

describe('end-to-end upgrades on the simulator', () => {
  it('pool-a, automatic: every host on 7.6, VMs running before are running after, HA restored, backup taken', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic');
    try {
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.outcome).toMatch(/every host upgraded/);
      expect(done.state).toBe('done');
      const view = h.sim.inspect();
      expect(view.hosts.map((x) => x.productVersion)).toEqual(['7.6.0', '7.6.0', '7.6.0']);
      expect(view.hosts.every((x) => x.enabled)).toBe(true);
      expect(Object.keys(runningVmPlacement(h.sim)).sort()).toEqual(Object.keys(before).sort());
      expect(view.pool.haEnabled).toBe(true);
      const stats = h.sim.stats();
      expect(Object.values(stats.shutdowns)).toEqual([1, 1, 1]);
      expect(stats.maxHostsDownAtOnce).toBeLessThanOrEqual(1);
      const backup = done.steps.find((s) => s.id === 'backup')!.data!;
      expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(done.approvals.map((a) => a.stepId)).toEqual(['xs-a1:approval', 'xs-a2:approval', 'xs-a3:approval']);
    } finally {
      await h.close();
    }
  });
});
