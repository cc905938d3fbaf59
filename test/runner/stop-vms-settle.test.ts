/**
 * stop-vms: stops whose answer was lost, settled from the pool (fallbacks, a VM gone or running elsewhere, what the
 * failure says), and restore-vms reading what stop-vms recorded.
 */
import type { PlanStep, Run, StepRecord, VmStop } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { createStopVmsStep, type StoppedVm } from '../../src/runner/steps/stop-vms';
import { createRestoreVmsStep } from '../../src/runner/steps/restore-vms';
import { XenApiConnectionError, XenApiError } from '../../src/xenapi';
import { fastClock, recordingNotifier } from './helpers';

const H2 = 'OpaqueRef:h2';
const H3 = 'OpaqueRef:h3';
const NULL = 'OpaqueRef:NULL';
type Rec = StoppedVm & { issued?: { method: string; at: number } };

interface VmState {
  name: string;
  power_state: string;
  resident_on: string;
  current_operations: Record<string, string>;
}

interface Opts {
  vms: Record<string, VmState>;
  stops: VmStop[];
  records?: Record<string, Rec>;
  /** what the pool does with a stop call (may throw) */
  act?: (method: string, ref: string, vm: VmState) => void;
  /** a followed task: what it does to the VM, may throw */
  task?: (ref: string) => void;
  /** VM.get_record answers after the step's own read (nth > pool reads) */
  failGetRecord?: (ref: string) => Error | undefined;
}

function world(o: Opts) {
  const sent: string[] = [];
  const audit: string[] = [];
  const said: string[] = [];
  const followed: string[] = [];
  const stopPlan: PlanStep = { id: 'h2:stop-vms', kind: 'stop-vms', host: H2, hostName: 'h2', description: 'stop', expectedSeconds: 1, stops: o.stops };
  const restorePlan: PlanStep = { id: 'h2:restore-vms', kind: 'restore-vms', host: H2, hostName: 'h2', description: 'restore', expectedSeconds: 1 };
  const stopStep: StepRecord = { id: stopPlan.id, kind: 'stop-vms', host: H2, hostName: 'h2', state: 'running', attempts: 1, data: o.records ? { stopped: structuredClone(o.records) } : {} };
  const restoreStep: StepRecord = { id: restorePlan.id, kind: 'restore-vms', host: H2, hostName: 'h2', state: 'running', attempts: 1, data: {} };
  const run = { id: 'pool-t-1', plan: { steps: [stopPlan, restorePlan], hosts: [] }, steps: [stopStep, restoreStep] } as unknown as Run;
  const ctxFor = (step: StepRecord, planStep: PlanStep) =>
    ({
      run,
      step,
      planStep,
      log: silentLogger,
      signal: new AbortController().signal,
      resolveHost: (r: string) => r,
      assertLive: async () => undefined,
      act: async (method: string, params: unknown[]) => {
        sent.push(`${method} ${o.vms[params[0] as string]?.name}`);
        const vm = o.vms[params[0] as string]!;
        if (o.act && /suspend|shutdown/.test(method)) return o.act(method, params[0] as string, vm);
        if (method === 'VM.suspend') Object.assign(vm, { power_state: 'Suspended', resident_on: NULL });
        else if (/shutdown/.test(method)) Object.assign(vm, { power_state: 'Halted', resident_on: NULL });
        else if (method === 'VM.start_on' || method === 'VM.resume_on') Object.assign(vm, { power_state: 'Running', resident_on: params[1] });
      },
      audit: async (message: string) => void audit.push(message),
      say: async (t: string) => void said.push(t),
      saveData: async (patch: Record<string, unknown>) => void (step.data = { ...step.data, ...structuredClone(patch) }),
      checkpoint: async () => undefined,
      dataOf: (id: string) => run.steps.find((s) => s.id === id)?.data,
    }) as unknown as StepContext;
  const client = {
    call: async (method: string, params: unknown[] = []) => {
      switch (method) {
        case 'pool.get_all_records':
          return { 'OpaqueRef:pool': { name_label: 'pool-t', master: 'OpaqueRef:h1', ha_enabled: false, other_config: {} } };
        case 'host.get_all_records':
          return {
            [H2]: { name_label: 'h2', enabled: false, metrics: 'OpaqueRef:m2', software_version: {}, other_config: {}, resident_VMs: [] },
            [H3]: { name_label: 'h3', enabled: true, metrics: 'OpaqueRef:m3', software_version: {}, other_config: {}, resident_VMs: [] },
          };
        case 'host_metrics.get_all_records':
          return { 'OpaqueRef:m2': { live: true }, 'OpaqueRef:m3': { live: true } };
        case 'VM.get_record': {
          const ref = params[0] as string;
          const vm = o.vms[ref];
          const err = o.failGetRecord?.(ref);
          if (err) throw err;
          if (!vm) throw new XenApiError('HANDLE_INVALID', ['VM', ref], 'VM.get_record', 'h1');
          const { name, ...rest } = vm;
          return { name_label: name, ...structuredClone(rest) };
        }
        case 'VM.get_all_records_where': {
          const out: Record<string, unknown> = {};
          for (const [ref, vm] of Object.entries(o.vms)) {
            const { name, ...rest } = vm;
            if (vm.resident_on === H2) out[ref] = { name_label: name, ...structuredClone(rest) };
          }
          return out;
        }
        case 'VM.get_VBDs':
          return [];
        default:
          throw new Error(`unexpected call ${method} ${JSON.stringify(params)}`);
      }
    },
    waitForTask: async (ref: string) => {
      followed.push(ref);
      for (const vm of Object.values(o.vms)) delete vm.current_operations[ref];
      o.task?.(ref);
      return '';
    },
  };
  const deps = { client, clock: fastClock(), config: { pollMs: 10_000 }, notifier: recordingNotifier(), logger: silentLogger } as unknown as StepDeps;
  return {
    stopVms: () => createStopVmsStep(deps).execute(ctxFor(stopStep, stopPlan)),
    restoreVms: () => {
      return createRestoreVmsStep(deps).execute(ctxFor(restoreStep, restorePlan));
    },
    rec: (ref: string) => (stopStep.data!.stopped as Record<string, Rec>)[ref]!,
    sent,
    audit,
    said,
    followed,
  };
}

const reset = () => new XenApiConnectionError('socket hang up (ECONNRESET)', 'h1', 'Async.VM.suspend', 'ECONNRESET');
const stop = (vm: string, action: 'suspend' | 'shutdown' = 'suspend'): VmStop => ({ vm: `OpaqueRef:${vm}`, vmName: vm, host: H2, action, reason: 'R2.5 disks on a local SR' });

describe('stop-vms: lost answers', () => {
  it('a Paused VM whose stop answer was lost: the failure says what the pool showed (Paused), not "still Running"', async () => {
    const w = world({
      vms: { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Paused', resident_on: H2, current_operations: {} } },
      stops: [stop('vm1')],
      records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Paused', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
    });
    const err = (await w.stopVms().catch((e) => e)) as Error & { observed?: string[] };
    expect(err).toBeInstanceOf(Error);
    // observed facts: the pool shows vm1 Paused on h2
    expect(err.message).not.toMatch(/still Running/);
    expect(err.message).toMatch(/Paused/);
    expect((err.observed ?? []).join(' ')).toMatch(/Paused/);
  });

  it('restart with VM.suspend issued; the suspend in progress then fails with VM_NO_SUSPEND_SR: the usual fallback (clean shutdown) applies, as on a live lost answer', async () => {
    const vms = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:task-1': 'suspend' } as Record<string, string> } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
      task: () => {
        throw new XenApiError('VM_NO_SUSPEND_SR', ['OpaqueRef:vm1'], 'Async.VM.suspend', 'h1');
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.clean_shutdown vm1']);
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ action: 'shutdown', stopped: true });
  });

  it('control: the same failure on a live lost answer does fall back to a clean shutdown', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (method, _ref, vm) => {
        if (method === 'VM.suspend') {
          vm.current_operations['OpaqueRef:task-1'] = 'suspend';
          throw reset();
        }
        Object.assign(vm, { power_state: 'Halted', resident_on: NULL });
      },
      task: () => {
        throw new XenApiError('VM_NO_SUSPEND_SR', ['OpaqueRef:vm1'], 'Async.VM.suspend', 'h1');
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.suspend vm1', 'VM.clean_shutdown vm1']);
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ action: 'shutdown', stopped: true });
  });

  it('lost answer, the VM meanwhile migrated to h3 (Running there); later shut down there by someone: restore-vms does not start it as if the run had stopped it', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_method, _ref, vm) => {
        Object.assign(vm, { resident_on: H3 }); // xapi refused (a migration was under way), the refusal lost
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    // not stopped by the run: recorded as untouched, as a VM that was not running here when the step began
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ untouched: true });
    expect(w.rec('OpaqueRef:vm1').stopped).toBeUndefined();
    // someone halts it on h3 during the upgrade: the run never stopped it
    Object.assign(vms['OpaqueRef:vm1']!, { power_state: 'Halted', resident_on: NULL });
    w.sent.length = 0;
    await w.restoreVms();
    expect(w.sent).toEqual([]);
  });

  it('lost answer, the pool shows the VM Running on h3: the audit says where it runs (observed), not just "Running"', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_method, _ref, vm) => {
        Object.assign(vm, { resident_on: H3 });
        throw reset();
      },
    });
    await w.stopVms();
    const line = w.audit.find((m) => /answer was lost/.test(m))!;
    expect(line).toMatch(/h3|OpaqueRef:h3|elsewhere|another host/);
  });

  it('lost answer, the VM no longer exists: restore-vms does not fail on a VM the run never stopped', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: () => {
        delete vms['OpaqueRef:vm1'];
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    await expect(w.restoreVms()).resolves.toMatchObject({ status: 'done' });
  });

  it('restart with VM.suspend issued, a pool_migrate in progress: the failure says what is in progress', async () => {
    const w = world({
      vms: { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:t9': 'pool_migrate' } } },
      stops: [stop('vm1')],
      records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
    });
    const err = (await w.stopVms().catch((e) => e)) as Error & { observed?: string[] };
    expect(w.sent).toEqual([]);
    expect(`${err.message} ${(err.observed ?? []).join(' ')}`).toMatch(/pool_migrate|migrat/);
  });

  it('halted after a suspend request whose answer was lost: recorded as shutdown', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_m, _r, vm) => {
        Object.assign(vm, { power_state: 'Halted', resident_on: NULL });
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ action: 'shutdown', stopped: true });
    expect(w.rec('OpaqueRef:vm1').issued).toBeUndefined();
  });

  it('two VMs: vm1 refused, vm2 answer lost and the pool unreadable: vm2 stays issued, nothing sent twice', async () => {
    const vms: Record<string, VmState> = {
      'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} },
      'OpaqueRef:vm2': { name: 'vm2', power_state: 'Running', resident_on: H2, current_operations: {} },
    };
    let down = false;
    const w = world({
      vms,
      stops: [stop('vm1'), stop('vm2')],
      act: (_m, ref) => {
        if (ref === 'OpaqueRef:vm1') throw new XenApiError('VM_BAD_POWER_STATE', [], 'Async.VM.suspend', 'h1');
        down = true;
        throw reset();
      },
      failGetRecord: () => (down ? reset() : undefined),
    });
    const err = await w.stopVms().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(w.rec('OpaqueRef:vm2').issued).toMatchObject({ method: 'VM.suspend' });
    expect(w.rec('OpaqueRef:vm1').issued).toBeUndefined();
  });
});
