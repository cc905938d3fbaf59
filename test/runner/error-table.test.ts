/**
 * The XenAPI errors a real pool raises during each step that the simulator's model never produces by itself
 * (reference xapi-real-behaviour.md, last table), injected with an `api-error` fault. For each: the run stops at
 * the right step, the operator's alert names the error in plain words, only the recovery actions valid there are
 * offered, and Retry (once the cause is gone: the fault fires once) finishes the run.
 */
import type { ParsedFault } from '../../src/sim/scenario';
import type { UpgradeMode } from '../../src/domain/types';
import { validActions } from '../../src/runner/recovery';
import { describeStepError } from '../../src/slack/errors';
import { APPROVER, planAndStart, startHarness, waitForRun, type Harness } from './sim-harness';

interface Row {
  step: string;
  fault: Omit<ParsedFault, 'times' | 'when' | 'kind'> & { kind?: ParsedFault['kind'] };
  /** alert text (runner's words + the code translated) */
  alert: RegExp;
  actions: string[];
  pool?: string;
  mode?: UpgradeMode;
}

const MASTER = ['retry', 'abort'];
const MEMBER = ['retry', 'skip-host', 'abort'];
const MEMBER_DOWN = ['retry', 'forget-rejoin', 'skip-host', 'abort'];

const rows: Row[] = [
  {
    step: 'pool-prep',
    fault: { method: 'VBD.eject', vm: 'build-agent', code: 'INTERNAL_ERROR', params: ['the media in this drive cannot be ejected'] },
    alert: /xapi reported an internal error: the media in this drive cannot be ejected/,
    actions: ['retry', 'abort'],
  },
  {
    step: 'xs-a2:disable',
    fault: { method: 'host.disable', host: 'xs-a2', code: 'CANNOT_CONTACT_HOST', params: ['OpaqueRef:xs-a2'] },
    alert: /the master cannot reach a host .*check the management network/,
    actions: MEMBER,
  },
  {
    step: 'xs-a1:evacuate',
    fault: { method: 'VM.pool_migrate', vm: 'web-01', code: 'BALLOONING_TIMEOUT_BEFORE_MIGRATION', params: [] },
    alert: /web-01: BALLOONING_TIMEOUT_BEFORE_MIGRATION[\s\S]*did not give back memory \(ballooning\) in time/,
    actions: MASTER,
  },
  {
    step: 'xs-a2:evacuate',
    fault: { method: 'VM.pool_migrate', vm: 'app-01', code: 'VM_REQUIRES_NETWORK', params: ['app-01', 'OpaqueRef:vlan20'] },
    alert: /app-01: VM_REQUIRES_NETWORK[\s\S]*no PIF on a network the VM uses \(network OpaqueRef:vlan20\)/,
    actions: MEMBER,
  },
  {
    step: 'xs-a3:evacuate',
    fault: { method: 'VM.pool_migrate', vm: 'cache-01', code: 'VM_INCOMPATIBLE_WITH_THIS_HOST', params: ['cache-01', 'xs-a1', 'VM last booted on a CPU with features this host does not have'] },
    alert: /cache-01: VM_INCOMPATIBLE_WITH_THIS_HOST[\s\S]*CPU features are not all offered by the destination host/,
    actions: MEMBER,
  },
  {
    step: 'xs-a3:stop-vms',
    fault: { method: 'VM.clean_shutdown', vm: 'monitor-01', code: 'VM_SHUTDOWN_TIMEOUT', params: ['monitor-01', '1200'] },
    alert: /could not be stopped; first: monitor-01: VM_SHUTDOWN_TIMEOUT[\s\S]*did not finish its clean shutdown in time/,
    actions: MEMBER,
  },
  {
    step: 'xs-a2:stop-vms',
    fault: { method: 'VM.suspend', vm: 'vm-licence-srv', code: 'VDI_IO_ERROR', params: ['Device I/O errors'] },
    alert: /vm-licence-srv: VDI_IO_ERROR[\s\S]*disk I\/O error/,
    actions: MEMBER,
  },
  {
    step: 'xs-a2:upgrade',
    fault: { method: 'Async.host.call_plugin', host: 'xs-a2', code: 'XENAPI_PLUGIN_FAILURE', params: ['main', 'Exception', 'ERROR_PREPARING_HOST'] },
    alert: /preparing xs-a2 for the upgrade failed: ERROR_PREPARING_HOST[\s\S]*the upgrade plugin failed: ERROR_PREPARING_HOST/,
    actions: MEMBER_DOWN,
  },
  {
    step: 'xs-a2:restore-vms',
    fault: { method: 'VM.resume_on', vm: 'vm-licence-srv', code: 'VM_INCOMPATIBLE_WITH_THIS_HOST', params: ['vm-licence-srv', 'xs-a2', 'CPU features differ'] },
    alert: /could not be restored; first: vm-licence-srv \(Suspended\): VM_INCOMPATIBLE_WITH_THIS_HOST/,
    actions: MEMBER,
  },
  {
    step: 'xs-b3:upgrade',
    pool: 'manifests/demo/pool-b.yaml',
    mode: 'update',
    fault: { method: 'pool_update.precheck', host: 'xs-b3', code: 'UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', params: ['XS74E005'] },
    alert: /the update's precheck failed on the host \(conflict present: XS74E005\)/,
    actions: MEMBER_DOWN,
  },
  {
    step: 'xs-b2:upgrade',
    pool: 'manifests/demo/pool-b.yaml',
    mode: 'update',
    fault: { method: 'pool_update.apply', host: 'xs-b2', code: 'UPDATE_APPLY_FAILED', params: ['yum: transaction check error'] },
    alert: /applying the update failed on the host: yum: transaction check error/,
    actions: MEMBER_DOWN,
  },
];

describe('per-step XenAPI errors of a real pool: alert and recovery (reference table)', () => {
  it.each(rows.map((r) => [r.step, r.fault.code, r] as const))('%s: %s', async (_step, _code, row) => {
    const h = await startHarness(row.pool ?? 'manifests/demo/pool-a.yaml', row.mode ?? 'automatic', { faults: [{ kind: 'api-error', ...row.fault }] });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(failed.state).toBe('failed');
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toBe(row.step);
      expect(step.error?.code).toBe(row.fault.code);
      const alert = describeStepError(step.error);
      expect(`${alert.summary}\n${alert.explanation}`).toMatch(row.alert);
      expect(validActions(failed, step)).toEqual(row.actions);
      expect(h.notifier.calls.filter((c) => c.method === 'stepFailed').map((c) => c.stepId)).toEqual([row.step]);

      // the cause is gone (the fault fired once): Retry finishes the run
      expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(true);
      // right after Retry the stored run may still read "failed": wait for the end (the timeout names the steps)
      const done = await waitForRun(h.store, run.id, ['done']);
      expect(done.steps.filter((s) => s.state === 'failed').map((s) => `${s.id}: ${s.error?.message}`)).toEqual([]);
      expect(done.state).toBe('done');
    } finally {
      await h.close();
    }
  });
});

/** the run failed again, at this step, with this code (not the failure the recovery action answered) */
async function waitForStepError(h: Harness, runId: string, stepId: string, code: string) {
  for (let i = 0; i < 2000; i++) {
    const run = await h.store.getRun(runId);
    if (run?.state === 'failed' && run.steps.find((s) => s.id === stepId)?.error?.code === code) return run;
    if (run?.state === 'done') throw new Error(`run ${runId} ended without the expected ${code}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`run ${runId} never failed with ${code}`);
}

describe('pool.join refusals during forget & rejoin (reference table: forget-rejoin)', () => {
  it('HOSTS_NOT_COMPATIBLE from the slow, Async pool.join reaches the operator; forget-rejoin again once reinstalled right finishes', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      faults: [
        { kind: 'install-fails', host: 'xs-a2' },
        { kind: 'api-error', method: 'pool.join', code: 'HOSTS_NOT_COMPATIBLE', params: [] },
      ],
      pool: { hostTimeoutMinutes: 90 },
    });
    try {
      const run = await planAndStart(h);
      let failed = await waitForRun(h.store, run.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toBe('xs-a2:wait-host');
      const fresh = h.sim.control.reinstallFresh('xs-a2');
      const { fingerprint256 } = await fresh.ready; // the approver confirmed the new host's certificate (issue 10.1)
      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256 }, APPROVER)).ok).toBe(true);
      failed = await waitForStepError(h, run.id, step.id, 'HOSTS_NOT_COMPATIBLE');
      const again = failed.steps.find((s) => s.id === step.id)!;
      expect(again.error?.code).toBe('HOSTS_NOT_COMPATIBLE');
      expect(describeStepError(again.error).explanation).toMatch(/not compatible with the pool .*reinstall it with exactly the pool's target version, then Forget & rejoin again/);
      expect(validActions(failed, again)).toEqual(['forget-rejoin', 'abort']);
      // pool.join went through Async (minutes on a real pool), never as a synchronous call under a request timeout
      expect(h.sim.stats().calls['Async.pool.join']).toBe(1);
      expect(h.sim.stats().calls['pool.join']).toBeUndefined();

      expect((await h.core.recover(run.id, { action: 'forget-rejoin', stepId: step.id, address: fresh.address, fingerprint256 }, APPROVER)).ok).toBe(true);
      // right after the action the stored run may still read "failed": wait for the end (the timeout names the steps)
      const done = await waitForRun(h.store, run.id, ['done']);
      expect(done.state).toBe('done');
      expect(h.sim.stats().calls['Async.pool.join']).toBe(2);
    } finally {
      await h.close();
    }
  });
});
