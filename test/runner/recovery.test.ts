/** Each recovery action on the failure it is for, on the simulator (R4.1, R4.2, R4.3); forget & rejoin: forget-rejoin.test.ts. */
import { APPROVER, planAndStart, runningVmPlacement, startHarness, until, waitForRun, type Harness } from './sim-harness';
import { validActions } from '../../src/runner/recovery';

/** pool-a in automatic mode whose install on `host` fails (the host never comes back; 90 minutes' wait) */
const installFailsOn = (host: string) =>
  startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'install-fails', host, when: 'before', times: 1 }], pool: { hostTimeoutMinutes: 90 } });

/** plan, start, and wait for the run to stop: the run, its stored state and the failed step */
async function runUntilFailure(h: Harness) {
  const run = await planAndStart(h);
  const failed = await waitForRun(h.store, run.id, ['failed', 'done']);
  const step = failed.steps.find((s) => s.state === 'failed')!;
  return { run, failed, step };
}

describe('recovery actions', () => {
  it('a skipped slave that is still offline blocks the next host from going down (R3.1), with the way out', async () => {
    const h = await installFailsOn('xs-a2');
    try {
      const { run, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a2:wait-host');
      expect((await h.core.recover(run.id, { action: 'skip-host', stepId: step.id }, APPROVER)).ok).toBe(true);
      // said from the run's records: its upgrade was sent and it was not seen back, so its version is not known
      const said = h.notifier.calls.filter((c) => c.method === 'runEvent').map((c) => String(c.text)).find((t) => /skipped by/.test(t));
      expect(said).toMatch(/^xs-a2 skipped by <@\w+>: its version is unknown \(the run took it down for its upgrade and has not seen it back\); the pool stays in mixed mode \(R3\.5\)/);
      const blocked = await waitForRun(h.store, run.id, ['failed', 'done']);
      expect(blocked.state).toBe('failed');
      const next = blocked.steps.find((s) => s.state === 'failed')!;
      expect(next.id).toBe('xs-a3:disable');
      expect(next.error!.message).toMatch(/xs-a2 was skipped and is still offline.*R3\.1/);
      expect(next.error!.message).toMatch(/Bring xs-a2 back, or forget it/);
      // xs-a3 was never touched: not disabled, not shut down; never two hosts down
      expect(h.sim.stats().shutdowns['xs-a3'] ?? 0).toBe(0);
      expect(h.sim.hosts().find((x) => x.name === 'xs-a3')!.enabled).toBe(true);
      expect(h.sim.stats().maxHostsDownAtOnce).toBeLessThanOrEqual(1);
    } finally {
      await h.close();
    }
  });

  it('skipping the last host ends "done with exceptions", naming the host, the VMs left stopped and HA left off', async () => {
    const h = await installFailsOn('xs-a3');
    try {
      const { run, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a3:wait-host');
      expect((await h.core.recover(run.id, { action: 'skip-host', stepId: step.id }, APPROVER)).ok).toBe(true);
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(done.state).toBe('done');
      expect(done.outcome).toMatch(/^done with exceptions: /);
      expect(done.outcome).not.toMatch(/every host upgraded/);
      expect(done.outcome).toMatch(/xs-a3: not live, disabled, on 7\.1\.1 build 137272c, not 7\.6\.0/);
      // shut down for xs-a3 (R3.7), not restarted
      expect(done.outcome).toMatch(/monitor-01 \(Halted\): shut down by this run for xs-a3 and not started again/);
      expect(done.outcome).toMatch(/HA is off: it was on before the run and this run disabled it \(R2\.4\)/);
      expect(done.endAudit).toMatchObject({ allOnTarget: false, ha: { before: true, now: false, disabledByRun: true } });
      // no Tools advice while xs-a3 is still on 7.1.1 (R5.2, R5.3; issue 11.4)
      const finish = done.steps.find((s) => s.kind === 'pool-finish')!.data!.note as string;
      expect(finish).not.toMatch(/upgrade the XenServer Tools in/);
      expect(finish).toMatch(/do not upgrade the XenServer Tools yet/);
      expect(h.notifier.calls.filter((c) => c.method === 'runEvent').map((c) => c.text).join('\n')).not.toMatch(/upgrade the XenServer Tools in/);
    } finally {
      await h.close();
    }
  });

  it('forget-rejoin refuses the address of another member (it would take the failed host\'s place), changing nothing', async () => {
    const h = await installFailsOn('xs-a3');
    try {
      const { run, failed, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a3:wait-host');
      const masterAddress = h.sim.hosts().find((x) => x.name === 'xs-a1')!.address;
      const refused = await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: masterAddress }, APPROVER);
      expect(refused).toMatchObject({ ok: false, code: 'invalid' });
      expect(refused.ok ? '' : refused.error).toMatch(/belongs to xs-a1, already a member of the pool/);
      expect(h.sim.hosts().find((x) => x.name === 'xs-a3')!.inPool).toBe(true); // not forgotten
      expect((await h.store.getRun(run.id))!.revision).toBe(failed.revision);
    } finally {
      await h.close();
    }
  });

  it('master install fails → roll back → pool on its original version with all VMs running (R4.1)', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'install-fails', host: 'xs-a1', when: 'before', times: 1 }] });
    try {
      const before = runningVmPlacement(h.sim);
      const { run, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a1:wait-host');
      expect(step.error!.code).toBe('UPGRADE_NOT_APPLIED');
      const alert = h.notifier.calls.filter((c) => c.method === 'stepFailed').pop()!;
      expect(alert.actions).toEqual(['retry', 'rollback-master', 'abort']);
      expect(alert.actions).not.toContain('skip-host');

      const skip = await h.core.recover(run.id, { action: 'skip-host', stepId: step.id }, APPROVER);
      expect(skip).toMatchObject({ ok: false, code: 'invalid' });
      const rb = await h.core.recover(run.id, { action: 'rollback-master', stepId: step.id }, APPROVER);
      expect(rb.ok).toBe(true);
      const closed = await waitForRun(h.store, run.id, ['rolled-back', 'failed', 'done']);
      expect(closed.state).toBe('rolled-back');
      const view = h.sim.inspect();
      expect(view.hosts.every((x) => x.productVersion === '7.1.1' && x.enabled)).toBe(true);
      expect(Object.keys(runningVmPlacement(h.sim)).sort()).toEqual(Object.keys(before).sort());
      expect(view.pool.haEnabled).toBe(true);
      expect(h.sim.stats().shutdowns).toEqual({ 'xs-a1': 1 });
      // duplicate: a second roll-back of the closed run is refused
      expect(await h.core.recover(run.id, { action: 'rollback-master', stepId: step.id }, APPROVER)).toMatchObject({ ok: false, code: 'conflict' });
    } finally {
      await h.close();
    }
  });

  // R4.1 is for a master that does not come back: the pool cannot be read then, and the click must still be taken
  it('roll back the master is accepted while the master is still down, and the run closes rolled-back once the operator restores it', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      faults: [{ kind: 'install-hangs', host: 'xs-a1', when: 'before', times: 1 }],
      pool: { hostTimeoutMinutes: 90 },
    });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['failed', 'done'], 60_000);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toBe('xs-a1:wait-host');
      const alert = h.notifier.calls.filter((c) => c.method === 'stepFailed').pop()!;
      expect(alert.actions).toContain('rollback-master');
      // the master is still in the installer: the pool cannot be read
      expect(h.sim.hosts().find((x) => x.name === 'xs-a1')!.power).not.toBe('on');

      const rb = await h.core.recover(run.id, { action: 'rollback-master', stepId: step.id }, APPROVER);
      // the action the alert offered must be usable in the very situation R4.1 is for
      expect(rb.ok ? 'accepted' : rb.error).toBe('accepted');
      // and the operator is told at once what to do: the run waits for the old version
      await until('the roll-back guidance', () => h.notifier.calls.some((c) => c.method === 'runEvent' && /Restart xs-a1 and restore 7\.1\.1.*The run waits until xs-a1 is live on 7\.1\.1/.test(String(c.text))));

      // the operator restores the old version: power-cycle into the previous installation
      h.sim.control.powerOff('xs-a1');
      await until('xs-a1 off', () => h.sim.hosts().find((x) => x.name === 'xs-a1')!.power === 'off');
      h.sim.control.powerOn('xs-a1');
      const closed = await waitForRun(h.store, run.id, ['rolled-back', 'failed', 'done'], 60_000);
      expect(closed.state).toBe('rolled-back');
    } finally {
      await h.close();
    }
  }, 120_000);

  it('a VM stopped for the master that cannot come back on it: the run goes on without it, and its end lists it', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      edit: (s) => {
        s.srs.push({ name: 'Local storage xs-a1', type: 'lvm', shared: false, host: 'xs-a1', sizeGiB: 500 } as (typeof s.srs)[number]);
        s.vms.push({ name: 'local-a1', host: 'xs-a1', memoryGiB: 2, disks: [{ sr: 'Local storage xs-a1', sizeGiB: 20 }] } as (typeof s.vms)[number]);
      },
      // the suspended VM cannot come back on the upgraded master (e.g. its CPU features are masked by the new Xen,
      // reference top 5), nor be started from cold: a permanent refusal that a Retry cannot change
      faults: [
        { kind: 'api-error', method: 'VM.resume_on', vm: 'local-a1', code: 'VM_INCOMPATIBLE_WITH_THIS_HOST', times: 1000 },
        { kind: 'api-error', method: 'VM.start_on', vm: 'local-a1', code: 'VM_INCOMPATIBLE_WITH_THIS_HOST', times: 1000 },
      ],
    });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['failed', 'done'], 60_000);
      expect(failed.state).toBe('failed');
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(`${step.id}: ${step.error?.code}`).toBe('xs-a1:restore-vms: VM_INCOMPATIBLE_WITH_THIS_HOST');
      // the master is upgraded and back in service: only this VM is in the way
      const a1 = h.sim.hosts().find((x) => x.name === 'xs-a1')!;
      expect([a1.productVersion, a1.live, a1.enabled]).toEqual(['7.6.0', true, true]);
      // retry cannot succeed and abort would leave the pool in mixed mode (R3.5): the master's rest can be skipped
      expect(validActions(failed, step)).toEqual(['retry', 'skip-host', 'abort']);
      const skip = await h.core.recover(run.id, { action: 'skip-host', stepId: step.id, attempt: step.attempts }, APPROVER);
      expect(skip.ok ? 'accepted' : skip.error).toBe('accepted');
      expect(h.notifier.calls.some((c) => c.method === 'runEvent' && /The rest of xs-a1 skipped by .*the pool shows: local-a1 \(Suspended\) stays stopped \(start it yourself; the run's end lists it\)\. The run goes on\./.test(String(c.text)))).toBe(true);
      const ended = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      expect(ended.state).toBe('done');
      expect(h.sim.hosts().map((x) => [x.name, x.productVersion, x.enabled])).toEqual(h.sim.hosts().map((x) => [x.name, '7.6.0', true]));
      // the end says what was left: the VM stopped for the master, not started again
      expect(ended.endAudit?.vms.map((v) => [v.name, v.cause])).toEqual([['local-a1', 'stopped-by-run']]);
      expect(ended.outcome).toMatch(/^done with exceptions/);
    } finally {
      await h.close();
    }
  }, 120_000);

  it('migration fails → the run stops at evacuate → retry works once the fault is cleared (R4.3)', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'migration-fails', vm: 'app-01', when: 'before', times: 5 }] });
    try {
      const { run, step } = await runUntilFailure(h);
      expect(step.id).toBe('xs-a2:evacuate');
      expect(step.error!.observed!.join('\n')).toMatch(/app-01/);
      expect(h.sim.hosts().filter((x) => x.power !== 'on')).toEqual([]);
      h.sim.control.clearFaults();
      const retry = await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER);
      expect(retry.ok).toBe(true);
      // the same retry again is stale: refused, not applied twice
      expect(await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).toMatchObject({ ok: false, code: 'conflict' });
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(done.state).toBe('done');
      expect(done.steps.find((s) => s.id === step.id)!.attempts).toBe(2);
    } finally {
      await h.close();
    }
  });
});

describe("a failure alert's Abort once that failure was handled", () => {
  it('is refused, audited, and the run that went on is not aborted', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'install-fails', host: 'xs-a1', when: 'before', times: 1 }] });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      // the failure is handled from the command line: the alert in Slack keeps its buttons
      expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, { userId: 'cli:ops', source: 'cli' })).ok).toBe(true);
      const stale = await h.core.recover(run.id, { action: 'abort', stepId: step.id }, APPROVER);
      expect(stale).toMatchObject({ ok: false, code: 'conflict' });
      expect(stale.ok ? '' : stale.error).toMatch(new RegExp(`(run ${run.id} is \\w[\\w-]*|step ${step.id} is \\w[\\w-]*), not failed: abort refused \\(already handled\\?\\)`));
      expect((await h.store.getRun(run.id))!.state).not.toBe('aborted');
      const audit = await h.store.listAudit(run.id);
      expect(audit.some((e) => e.kind === 'refused' && /not failed: abort refused \(already handled\?\)/.test(e.message))).toBe(true);
    } finally {
      await h.close();
    }
  });
});
