/**
 * After forget & rejoin (R4.2), a VM is "lost with the reinstalled host" only when the run's baseline put its disks
 * on that host's local storage. VM_REQUIRES_SR alone is no evidence: the fresh host may not have a shared SR plugged
 * yet. Such a VM is intact: the step fails with Retry offered, and Retry starts it once the SR is there.
 */
import { validActions } from '../../src/runner/recovery';
import { APPROVER, planAndStart, startHarness, waitForRun } from './sim-harness';

it('a VM on shared storage whose start meets VM_REQUIRES_SR on the rejoined host is not declared lost; Retry starts it', async () => {
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    faults: [
      { kind: 'install-fails', host: 'xs-a3' },
      // once: the fresh host does not see the shared SR yet when the VM is started on it
      { kind: 'api-error', method: 'VM.start_on', vm: 'monitor-01', code: 'VM_REQUIRES_SR', params: ['monitor-01', 'nfs-shared'] },
    ],
    pool: { hostTimeoutMinutes: 90 },
  });
  try {
    const run = await planAndStart(h);
    const failed = await waitForRun(h.store, run.id, ['failed', 'done'], 60_000);
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.id).toBe('xs-a3:wait-host');
    const fresh = h.sim.control.reinstallFresh('xs-a3');
    const { fingerprint256 } = await fresh.ready;
    expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256 }, APPROVER)).ok).toBe(true);
    // recover() wrote the run back to running: the next stop is after the rejoin

    const stopped = await waitForRun(h.store, run.id, ['failed', 'done'], 60_000);
    expect(stopped.state).toBe('failed');
    const restore = stopped.steps.find((s) => s.id === 'xs-a3:restore-vms')!;
    expect(restore.state).toBe('failed');
    expect(restore.error).toMatchObject({ code: 'VM_REQUIRES_SR' });
    expect(restore.data?.lostWithHost).toBeUndefined();
    expect(validActions(stopped, restore)).toContain('retry');

    expect((await h.core.recover(run.id, { action: 'retry', stepId: restore.id }, APPROVER)).ok).toBe(true);
    const end = await waitForRun(h.store, run.id, ['done', 'failed'], 60_000);
    expect(end.state).toBe('done');
    expect(h.sim.inspect().vms.find((v) => v.name === 'monitor-01')!.powerState).toBe('Running');
    expect((end.endAudit?.vms ?? []).filter((v) => v.cause === 'lost-local-storage')).toEqual([]);
  } finally {
    await h.close();
  }
}, 120_000);
