/**
 * The bot against a simulator that fails the way real pools fail (issue 12): storage left detached after a reboot
 * (point 2) and slow calls whose reply is lost (point 1): nothing is sent twice, nothing moves onto a host that
 * cannot see its storage.
 */
import { validActions } from '../../src/runner/recovery';
import { APPROVER, planAndStart, runningVmPlacement, startHarness, waitForRun } from './sim-harness';

const POOL_A = 'manifests/demo/pool-a.yaml';

describe('storage detached after a reboot (PBDs, issue 12 point 2)', () => {
  it('a PBD xapi failed to re-plug at boot is plugged by the bot before VMs move back onto the host', async () => {
    const h = await startHarness(POOL_A, 'automatic', {
      pool: { returnPolicy: 'original' },
      faults: [{ kind: 'pbd-plug-fails', host: 'xs-a2', sr: 'nfs-shared' }],
    });
    try {
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.state).toBe('done');
      expect(h.sim.stats().calls['PBD.plug']).toBe(1);
      expect(done.steps.find((s) => s.id === 'xs-a2:enable')!.data!.note).toMatch(/plugged nfs-shared/);
      expect(h.notifier.calls.some((c) => c.method === 'runEvent' && /xs-a2: nfs-shared was still detached .* plugged \(PBD\.plug\)/.test(c.text ?? ''))).toBe(true);
      // policy original: every VM is home again, moved back only once its host saw the shared SR
      expect(runningVmPlacement(h.sim)).toEqual(before);
    } finally {
      await h.close();
    }
  });

  it('a PBD that cannot be plugged stops the run before any VM goes to that host; Retry once storage is back finishes', async () => {
    const h = await startHarness(POOL_A, 'automatic', {
      pool: { returnPolicy: 'original' },
      faults: [{ kind: 'pbd-plug-fails', host: 'xs-a2', sr: 'nfs-shared', times: 2 }],
    });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(failed.state).toBe('failed');
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toBe('xs-a2:enable');
      expect(step.error).toMatchObject({ code: 'PBD_NOT_PLUGGED' });
      expect(step.error!.message).toMatch(/xs-a2 is back, but storage is still detached from it .*nfs-shared.*No VM is moved or started onto it/);
      expect(step.error!.observed!.join('\n')).toMatch(/nfs-shared: PBD\.plug failed: SR_BACKEND_FAILURE_47/);
      expect(validActions(failed, step)).toEqual(['retry', 'skip-host', 'abort']);
      // nothing was moved or started onto xs-a2 (its VMs were evacuated or suspended before its upgrade)
      const xsA2 = h.sim.inspect().hosts.find((x) => x.name === 'xs-a2')!;
      expect(h.sim.inspect().vms.filter((v) => v.residentOn === xsA2.name && v.powerState === 'Running')).toEqual([]);
      expect(h.sim.stats().calls['PBD.plug']).toBe(1);

      // the storage path is fixed (the fault is used up): Retry plugs it and the run completes
      expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(true);
      const done = await waitForRun(h.store, run.id, ['done']); // right after Retry the stored run may still read "failed"

      expect(done.state).toBe('done');
      expect(h.sim.stats().calls['PBD.plug']).toBe(2);
    } finally {
      await h.close();
    }
  });
});

describe('slow calls whose reply is lost (issue 12 point 1)', () => {
  it('prepare_host_upgrade.py main goes through Async; a lost reply is followed through its task, never sent twice', async () => {
    const h = await startHarness(POOL_A, 'automatic', {
      faults: [{ kind: 'connection-reset', method: 'Async.host.call_plugin', when: 'after' }],
    });
    try {
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.state).toBe('done');
      // one main per host, although the first reply never arrived
      expect(h.sim.stats().calls['Async.host.call_plugin']).toBe(3);
      const audit = await h.store.listAudit(run.id);
      expect(audit.filter((a) => /Async\.host\.call_plugin xs-a1/.test(a.message))).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('pool.enable_ha whose reply is lost is not sent again (a second one would fail HA_IS_ENABLED)', async () => {
    const h = await startHarness(POOL_A, 'automatic', {
      faults: [{ kind: 'connection-reset', method: 'Async.pool.enable_ha', when: 'after' }],
    });
    try {
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.state).toBe('done');
      expect(h.sim.inspect().pool.haEnabled).toBe(true);
      expect(h.sim.stats().calls['Async.pool.enable_ha']).toBe(1);
      expect(h.sim.stats().calls['pool.enable_ha']).toBeUndefined();
      // HA off at the start went the same way: Async, once
      expect(h.sim.stats().calls['Async.pool.disable_ha']).toBe(1);
      expect(h.sim.stats().calls['pool.disable_ha']).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});
