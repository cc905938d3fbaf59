/**
 * Retry after a host did not come back in time (HOST_WAIT_TIMEOUT) waits again, for the whole host timeout: the
 * operator's Retry is their decision to give it more time. Before, the step kept the start of its first wait, so a
 * Retry looked once and failed at once while the host was still installing.
 */
import { validActions } from '../../src/runner/recovery';
import { APPROVER, approveUntilGate, planAndStart, startHarness, until, waitForRun } from './sim-harness';

it('Retry of a wait for a host that did not come back in time waits again, and the run goes on once the host is back', async () => {
  // manual mode: the host stays off until the operator boots the installer (completeManualInstall)
  const h = await startHarness('manifests/demo/pool-a.yaml', 'manual', { autoApprove: false, pool: { hostTimeoutMinutes: 60 } });
  try {
    const run = await planAndStart(h);
    await approveUntilGate(h, run.id, 'xs-a1:approval');
    expect((await h.core.approve(run.id, 'xs-a1:approval', APPROVER)).ok).toBe(true);
    await until('xs-a1 off', () => h.sim.hosts().find((x) => x.name === 'xs-a1')!.power === 'off');
    const failed = await waitForRun(h.store, run.id, ['failed'], 60_000);
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.id).toBe('xs-a1:wait-host');
    expect(step.error).toMatchObject({ code: 'HOST_WAIT_TIMEOUT' });
    expect(validActions(failed, step)).toContain('retry');

    expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(true);
    // the operator boots the installer now: the retried wait sees the host come back
    h.sim.control.completeManualInstall('xs-a1');
    const next = await waitForRun(h.store, run.id, ['awaiting-approval', 'failed'], 60_000);
    expect(next.steps.find((s) => s.id === 'xs-a1:wait-host')!.state).toBe('done');
    expect(next.state).toBe('awaiting-approval');
  } finally {
    await h.close();
  }
}, 120_000);
