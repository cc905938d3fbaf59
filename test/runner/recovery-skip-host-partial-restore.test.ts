/**
 * restore-vms restarts some of the VMs stopped for a host and fails on one (a permanent refusal). The operator
 * chooses Skip host; the bot's message says what the pool shows of the VMs this run stopped for that host (its
 * stop-vms records, as the end audit reads them): which stay stopped, and that the others are running again. It must
 * not say that all of them stay stopped while the pool shows it started some again.
 */
import { APPROVER, planAndStart, startHarness, waitForRun } from './sim-harness';

it('Skip host after restore-vms restarted all but one VM: the message names the VM that stays stopped and the one running again', async () => {
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    edit: (s) => {
      s.srs.push({ name: 'Local storage xs-a1', type: 'lvm', shared: false, host: 'xs-a1', sizeGiB: 500 } as (typeof s.srs)[number]);
      s.vms.push({ name: 'local-a1', host: 'xs-a1', memoryGiB: 2, disks: [{ sr: 'Local storage xs-a1', sizeGiB: 20 }] } as (typeof s.vms)[number]);
      s.vms.push({ name: 'local-ok', host: 'xs-a1', memoryGiB: 2, disks: [{ sr: 'Local storage xs-a1', sizeGiB: 20 }] } as (typeof s.vms)[number]);
    },
    faults: [
      { kind: 'api-error', method: 'VM.resume_on', vm: 'local-a1', code: 'VM_INCOMPATIBLE_WITH_THIS_HOST', times: 1000 },
      { kind: 'api-error', method: 'VM.start_on', vm: 'local-a1', code: 'VM_INCOMPATIBLE_WITH_THIS_HOST', times: 1000 },
    ],
  });
  try {
    const run = await planAndStart(h);
    const failed = await waitForRun(h.store, run.id, ['failed', 'done'], 60_000);
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.id).toBe('xs-a1:restore-vms');
    // local-ok was restarted by restore-vms before it failed on local-a1
    expect(h.sim.inspect().vms.find((v) => v.name === 'local-ok')!.powerState).toBe('Running');
    const skip = await h.core.recover(run.id, { action: 'skip-host', stepId: step.id, attempt: step.attempts }, APPROVER);
    expect(skip.ok).toBe(true);
    const said = h.notifier.calls.filter((c) => c.method === 'runEvent').map((c) => String(c.text)).find((t) => /skipped by/.test(t))!;
    expect(said).toBeDefined();
    expect(said).not.toMatch(/the VMs stopped for it stay stopped/);
    expect(said).toMatch(
      /The rest of xs-a1 skipped by .*: it stays on the target, enabled\. Of the VMs this run stopped for it, the pool shows: local-a1 \(Suspended\) stays stopped \(start it yourself; the run's end lists it\); local-ok is running again\. The run goes on\./,
    );
    const ended = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
    // the end lists the VM the message said stays stopped, and only it
    expect(ended.endAudit?.vms.map((v) => [v.name, v.cause])).toEqual([['local-a1', 'stopped-by-run']]);
  } finally {
    await h.close();
  }
}, 120_000);
