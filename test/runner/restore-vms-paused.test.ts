/**
 * restore-vms puts each VM the run stopped back as it was before the run (R3.7/R6.2; stop-vms records its priorState):
 * a VM that was Paused comes back Paused (VM.resume_on / VM.start_on with start_paused=true, as real xapi honours it),
 * never Running. A VM that was Running and is found Paused was paused by someone else after the run stopped it (the
 * run never asks for Paused for it): the bot does not unpause it, does not count it restored, and says so; the step
 * does not fail for it (nothing a Retry could change without undoing that person's choice).
 * Also: after forget & rejoin (R4.2), the message about a VM whose start failed says what was observed (the call and
 * its error) apart from what the run's baseline suggests (its disks were on the reinstalled host's local storage).
 */
import type { PlanStep, PoolBaseline, Run, StepRecord } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { createRestoreVmsStep } from '../../src/runner/steps/restore-vms';
import type { StoppedVm } from '../../src/runner/steps/stop-vms';
import { XenApiError } from '../../src/xenapi';
import { fastClock, recordingNotifier } from './helpers';
import { outsideClient, planAndStart, startHarness, waitForRun } from './sim-harness';
import { H2, NULL, world, type VmState } from './stop-vms-world';

const VM1 = 'OpaqueRef:vm1';

/** a pool that honours start_paused as real xapi does; the params of every start or resume sent */
function pausedWorld(vm: Omit<VmState, 'name' | 'current_operations'>, rec: StoppedVm) {
  const vms: Record<string, VmState> = { [VM1]: { name: 'vm1', current_operations: {}, ...vm } };
  const params: unknown[][] = [];
  const w = world({
    vms,
    stops: [],
    records: { [VM1]: rec },
    start: (method, p, v) => {
      params.push(p);
      if (method === 'VM.unpause') Object.assign(v, { power_state: 'Running' });
      else Object.assign(v, { power_state: p[2] === true ? 'Paused' : 'Running', resident_on: p[1] });
    },
  });
  return { ...w, vms, params };
}

describe('restore-vms: a VM Paused before the run comes back Paused', () => {
  it.each([
    ['suspended', 'suspend', 'Suspended', 'VM.resume_on'],
    ['shut down', 'shutdown', 'Halted', 'VM.start_on'],
  ] as const)('%s by the run: %s with start_paused=true, and it is Paused again, not Running', async (_how, action, state, method) => {
    const w = pausedWorld({ power_state: state, resident_on: NULL }, { name: 'vm1', priorState: 'Paused', host: H2, action, stopped: true });
    const outcome = await w.restoreVms();
    expect(w.sent).toEqual([`${method} vm1`]);
    expect(w.params).toEqual([[VM1, H2, true, false]]);
    expect(w.vms[VM1]!.power_state).toBe('Paused');
    expect(outcome).toMatchObject({ status: 'done', note: '1 VM(s) restored on h2' });
    expect(w.said).toEqual(['h2: vm1 is back as before the run (paused).']);
  });

  it('found Paused already (as before the run): nothing is sent, above all no VM.unpause', async () => {
    const w = pausedWorld({ power_state: 'Paused', resident_on: H2 }, { name: 'vm1', priorState: 'Paused', host: H2, action: 'suspend', stopped: true });
    const outcome = await w.restoreVms();
    expect(w.sent).toEqual([]);
    expect(w.vms[VM1]!.power_state).toBe('Paused');
    expect(outcome).toMatchObject({ status: 'done' });
    expect(w.said.join('\n')).not.toMatch(/running again|left as it is/);
  });

  it('a VM Running before the run is still resumed with start_paused=false', async () => {
    const w = pausedWorld({ power_state: 'Suspended', resident_on: NULL }, { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: true });
    await expect(w.restoreVms()).resolves.toMatchObject({ status: 'done', note: '1 VM(s) restored on h2' });
    expect(w.params).toEqual([[VM1, H2, false, false]]);
    expect(w.vms[VM1]!.power_state).toBe('Running');
    expect(w.said).toEqual(['h2: vm1 is running again.']);
  });
});

describe('restore-vms: a VM Running before the run, found Paused (someone else paused it since the run stopped it)', () => {
  it('is not unpaused, not counted as restored, and the step says it found it Paused and left it so; the step is done', async () => {
    const w = pausedWorld({ power_state: 'Paused', resident_on: H2 }, { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: true });
    const outcome = await w.restoreVms();
    expect(w.sent).toEqual([]); // no VM.unpause
    expect(w.vms[VM1]!.power_state).toBe('Paused');
    expect(outcome).toEqual({ status: 'done', note: 'nothing restored on h2; left as found, not as before the run: vm1 (Paused, was Running)' });
    expect(w.said).toHaveLength(1);
    expect(w.said[0]).toMatch(/^h2: vm1 is Paused, though it was Running before the run suspended it\. /);
    expect(w.said[0]).toMatch(/someone or something else put it in this one since.*left it as it is and does not count it as restored\. Unpause it \(xe vm-unpause\) if it should run\.$/);
    expect(w.said[0]).not.toMatch(/running again/);
  });

  it('beside another VM that is restored: only that one is counted and said running again', async () => {
    const vms: Record<string, VmState> = {
      [VM1]: { name: 'vm1', power_state: 'Paused', resident_on: H2, current_operations: {} },
      'OpaqueRef:vm2': { name: 'vm2', power_state: 'Suspended', resident_on: NULL, current_operations: {} },
    };
    const w = world({
      vms,
      stops: [],
      records: {
        [VM1]: { name: 'vm1', priorState: 'Running', host: H2, action: 'shutdown', stopped: true },
        'OpaqueRef:vm2': { name: 'vm2', priorState: 'Running', host: H2, action: 'suspend', stopped: true },
      },
    });
    const outcome = await w.restoreVms();
    expect(w.sent).toEqual(['VM.resume_on vm2']);
    expect(vms[VM1]!.power_state).toBe('Paused');
    expect(outcome).toEqual({ status: 'done', note: '1 VM(s) restored on h2; left as found, not as before the run: vm1 (Paused, was Running)' });
    expect(w.said).toEqual([expect.stringMatching(/^h2: vm1 is Paused, though it was Running before the run shut it down\. /), 'h2: vm2 is running again.']);
  });
});

describe('the simulator honours start_paused (as real xapi)', () => {
  it('VM.resume_on with start_paused=true leaves the VM Paused; false runs it', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic');
    const outside = await outsideClient(h);
    try {
      const vms = await outside.call<Record<string, { name_label: string; power_state: string; resident_on: string }>>('VM.get_all_records');
      const running = Object.entries(vms).filter(([, v]) => v.power_state === 'Running' && !v.name_label.startsWith('Control domain'));
      const [[ref, vm]] = running;
      const state = () => h.sim.inspect().vms.find((v) => v.name === vm.name_label)!.powerState;
      await outside.call('VM.suspend', [ref]);
      await outside.call('VM.resume_on', [ref, vm.resident_on, true, false]);
      expect(state()).toBe('Paused');
      await outside.call('VM.hard_shutdown', [ref]);
      await outside.call('VM.start_on', [ref, vm.resident_on, true, false]);
      expect(state()).toBe('Paused');
      await outside.call('VM.unpause', [ref]);
      expect(state()).toBe('Running');
      await outside.call('VM.suspend', [ref]);
      await outside.call('VM.resume_on', [ref, vm.resident_on, false, false]);
      expect(state()).toBe('Running');
    } finally {
      await outside.logout().catch(() => undefined);
      await h.close();
    }
  });

  it('a run whose suspended VM is resumed paused from outside before restore-vms: the bot leaves it Paused and the run goes on', async () => {
    let outsideDone = false;
    let h: Awaited<ReturnType<typeof startHarness>> | undefined;
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      // between stop-vms and restore-vms of xs-a2: an operator resumes vm-licence-srv paused, on purpose
      checkpoint: async (label) => {
        if (label !== 'before:xs-a2:restore-vms' || outsideDone) return;
        outsideDone = true;
        const outside = await outsideClient(h!);
        try {
          const vms = await outside.call<Record<string, { name_label: string }>>('VM.get_all_records');
          const hosts = await outside.call<Record<string, { name_label: string }>>('host.get_all_records');
          const ref = Object.entries(vms).find(([, v]) => v.name_label === 'vm-licence-srv')![0];
          const host = Object.entries(hosts).find(([, v]) => v.name_label === 'xs-a2')![0];
          await outside.call('VM.resume_on', [ref, host, true, false]);
        } finally {
          await outside.logout().catch(() => undefined);
        }
      },
    });
    try {
      const run = await planAndStart(h);
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      expect(outsideDone).toBe(true);
      expect({ state: end.state, failed: end.steps.filter((s) => s.state === 'failed').map((s) => s.id) }).toEqual({ state: 'done', failed: [] });
      // the run's end still names it: stopped by the run, and not running
      expect(h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')!.powerState).toBe('Paused');
      const step = end.steps.find((s) => s.id === 'xs-a2:restore-vms')!;
      expect(step.state).toBe('done');
      expect(step.data?.note).toMatch(/left as found, not as before the run: vm-licence-srv \(Paused, was Running\)/);
      expect(end.endAudit!.vms).toEqual([expect.objectContaining({ name: 'vm-licence-srv', now: 'Paused' })]);
      const audit = (await h.store.listAudit(run.id)).map((e) => e.message);
      expect(audit.some((m) => /^VM\.unpause/.test(m))).toBe(false);
      const said = h.notifier.calls.map((c) => JSON.stringify(c));
      expect(said.some((t) => /vm-licence-srv is Paused, though it was Running before the run suspended it/.test(t))).toBe(true);
      expect(said.some((t) => /vm-licence-srv[^"]*running again/.test(t))).toBe(false);
    } finally {
      await h.close();
    }
  }, 120_000);
});

describe('after forget & rejoin (R4.2): the lost-VM message says what was observed and what it suggests', () => {
  const OLD = 'OpaqueRef:h2-old';
  function rejoinWorld(fail: XenApiError) {
    const said: string[] = [];
    const vm: VmState = { name: 'vm1', power_state: 'Halted', resident_on: NULL, current_operations: {} };
    const planStep: PlanStep = { id: 'h2:restore-vms', kind: 'restore-vms', host: OLD, hostName: 'h2', description: 'restore', expectedSeconds: 1 };
    const step: StepRecord = { id: planStep.id, kind: 'restore-vms', host: OLD, hostName: 'h2', state: 'running', attempts: 1, data: {} };
    const stopStep = { id: 'h2:stop-vms', data: { stopped: { [VM1]: { name: 'vm1', priorState: 'Running', host: OLD, action: 'shutdown', stopped: true } } } };
    const baseline = { vms: [{ ref: VM1, name: 'vm1', srs: [{ ref: 'OpaqueRef:sr-local', shared: false, host: OLD }] }] } as unknown as PoolBaseline;
    const run = { id: 'pool-t-1', baseline, plan: { steps: [planStep], hosts: [] }, steps: [stopStep, step] } as unknown as Run;
    const ctx = {
      run,
      step,
      planStep,
      log: silentLogger,
      signal: new AbortController().signal,
      resolveHost: (r: string) => (r === OLD ? H2 : r), // the old record's new one after forget & rejoin
      act: async () => {
        throw fail;
      },
      audit: async () => undefined,
      say: async (t: string) => void said.push(t),
      saveData: async (patch: Record<string, unknown>) => void (step.data = { ...step.data, ...patch }),
      checkpoint: async () => undefined,
      dataOf: (id: string) => run.steps.find((s) => s.id === id)?.data,
    } as unknown as StepContext;
    const client = {
      call: async (method: string) => {
        if (method === 'pool.get_all_records') return { 'OpaqueRef:pool': { name_label: 'pool-t', master: 'OpaqueRef:h1', ha_enabled: false, other_config: {} } };
        if (method === 'host.get_all_records') return { [H2]: { name_label: 'h2', enabled: true, metrics: 'OpaqueRef:m2', software_version: {}, other_config: {}, resident_VMs: [] } };
        if (method === 'host_metrics.get_all_records') return { 'OpaqueRef:m2': { live: true } };
        if (method === 'VM.get_record') return { name_label: vm.name, power_state: vm.power_state, resident_on: vm.resident_on, current_operations: {} };
        throw new Error(`unexpected call ${method}`);
      },
    };
    const deps = { client, clock: fastClock(), config: { pollMs: 10_000 }, notifier: recordingNotifier(), logger: silentLogger } as unknown as StepDeps;
    return { run: () => createRestoreVmsStep(deps).execute(ctx), said, step };
  }

  it('names the failed call and its error code, then the inference from the baseline, keeping the R4.2 advice', async () => {
    const w = rejoinWorld(new XenApiError('VM_REQUIRES_SR', [VM1, 'OpaqueRef:sr-local'], 'Async.VM.start_on', 'h1'));
    const outcome = await w.run();
    expect(w.said).toEqual([
      "vm1: VM.start_on failed with VM_REQUIRES_SR. Per the run's baseline, its disks were on the local storage of h2, which was reinstalled: they are most likely gone with the reinstall, so it will not run again (R4.2). Restore it from backup.",
    ]);
    expect(w.said[0]).not.toMatch(/cannot run again/);
    expect(w.step.data).toMatchObject({ lostWithHost: ['vm1'] });
    expect(outcome).toEqual({ status: 'done', note: 'nothing restored on h2; not started, disks presumably lost with the reinstalled host: vm1' });
  });
});
