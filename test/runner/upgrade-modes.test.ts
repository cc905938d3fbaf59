/** The demo pools upgrade end to end on the simulator, in every mode (issue 4, Done-when). */
import { planAndStart, runningVmPlacement, startHarness, waitForRun } from './sim-harness';

describe('end-to-end upgrades on the simulator', () => {
  it('pool-a, automatic: every host on 7.6, VMs running before are running after, HA restored, backup taken', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic');
    try {
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.outcome).toMatch(/^done: every host on 7\.6\.0 and enabled; every VM that ran before runs; HA on$/);
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

describe('other modes', () => {
  it('pool-a, manual: the operator boots the installer on each host; policy original brings VMs home', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'manual', { pool: { returnPolicy: 'original' } });
    const installed = new Set<string>();
    // the operator: when a host is off after its shutdown, boot the installer and choose Upgrade
    const operator = setInterval(() => {
      for (const host of h.sim.hosts()) {
        if (host.power === 'off' && !installed.has(host.name)) {
          installed.add(host.name);
          h.sim.control.completeManualInstall(host.name);
        }
      }
    }, 5);
    try {
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.state).toBe('done');
      expect([...installed].sort()).toEqual(['xs-a1', 'xs-a2', 'xs-a3']);
      expect(h.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0')).toBe(true);
      // policy original: every VM that ran before runs on its original host
      expect(runningVmPlacement(h.sim)).toEqual(before);
      expect(h.notifier.calls.some((c) => c.method === 'runEvent' && /choose \*Upgrade\*/.test(c.text ?? ''))).toBe(true);
      expect(Object.values(h.sim.stats().shutdowns)).toEqual([1, 1, 1]);
    } finally {
      clearInterval(operator);
      await h.close();
    }
  });

  it('pool-b, update ISO: introduced once, applied and rebooted host by host; the suspended VM stays suspended', async () => {
    const h = await startHarness('manifests/demo/pool-b.yaml', 'update');
    try {
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.state).toBe('done');
      const view = h.sim.inspect();
      expect(view.hosts.every((x) => x.productVersion === '7.6.0')).toBe(true);
      expect(Object.keys(runningVmPlacement(h.sim)).sort()).toEqual(Object.keys(before).sort());
      expect(view.vms.find((v) => v.name === 'archive-b')!.powerState).toBe('Suspended');
      expect(h.sim.stats().calls['pool_update.introduce']).toBe(1);
      expect(h.sim.stats().maxHostsDownAtOnce).toBeLessThanOrEqual(1);
    } finally {
      await h.close();
    }
  });

  it('stand-alone host (R6): VMs stopped, host upgraded, the same VMs running again; the halted one stays halted', async () => {
    const h = await startHarness('manifests/demo/standalone.yaml', 'automatic');
    try {
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.state).toBe('done');
      expect(h.sim.inspect().hosts[0]!.productVersion).toBe('7.6.0');
      expect(runningVmPlacement(h.sim)).toEqual(before);
      expect(h.sim.inspect().vms.find((v) => v.name === 'dev-box')!.powerState).toBe('Halted');
      const stopped = done.steps.find((s) => s.kind === 'stop-vms')!.data!.stopped as Record<string, { name: string; priorState: string; action: string }>;
      expect(Object.values(stopped).map((v) => v.name).sort()).toEqual(['fileserver', 'printserver']);
      // the demo host has no suspend SR: the plan already said shut down (R6.1), so the run never tried VM.suspend
      expect(Object.values(stopped).map((v) => v.action)).toEqual(['shutdown', 'shutdown']);
      expect((await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && /^VM\.suspend /.test(e.message))).toEqual([]);
      expect(h.notifier.calls.filter((c) => /VM_NO_SUSPEND_SR/.test(c.text ?? ''))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
