/**
 * stop-vms taken up again (a restart, or the engine re-running it once the pool answers) with a stop recorded as
 * issued and no answer: the pool decides ("a call whose outcome is unknown is reconciled, never blindly re-sent").
 */
import type { PlanStep, Run, StepRecord } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { createStopVmsStep, type StoppedVm } from '../../src/runner/steps/stop-vms';
import { XenApiError } from '../../src/xenapi';
import { fastClock, recordingNotifier } from './helpers';

const H2 = 'OpaqueRef:h2';
const VM = 'OpaqueRef:vm1';
const NULL = 'OpaqueRef:NULL';
type Rec = StoppedVm & { issued?: { method: string; at: number } };

interface VmState {
  power_state: string;
  resident_on: string;
  current_operations: Record<string, string>;
}

function setup(vm: VmState, task: { fails?: XenApiError } = {}, getRecord: (r: VmState, nth: number) => object = (r) => r) {
  let getRecords = 0;
  const planStep: PlanStep = {
    id: 'h2:stop-vms',
    kind: 'stop-vms',
    host: H2,
    hostName: 'h2',
    description: 'stop',
    expectedSeconds: 1,
    stops: [{ vm: VM, vmName: 'vm1', host: H2, action: 'suspend', reason: 'R2.5 disks on a local SR' }],
  };
  const issued: Rec = { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } };
  const step: StepRecord = { id: planStep.id, kind: 'stop-vms', host: H2, hostName: 'h2', state: 'running', attempts: 1, data: { stopped: { [VM]: issued } } };
  const sent: string[] = [];
  const audit: string[] = [];
  const followed: string[] = [];
  const ctx = {
    run: { id: 'pool-t-1', plan: { steps: [planStep], hosts: [] }, steps: [step] } as unknown as Run,
    step,
    planStep,
    log: silentLogger,
    signal: new AbortController().signal,
    resolveHost: (r: string) => r,
    assertLive: async () => undefined,
    act: async (method: string) => {
      sent.push(method);
      Object.assign(vm, { power_state: 'Suspended', resident_on: NULL });
    },
    audit: async (message: string) => void audit.push(message),
    say: async () => undefined,
    saveData: async (patch: Record<string, unknown>) => void (step.data = { ...step.data, ...structuredClone(patch) }),
    checkpoint: async () => undefined,
    dataOf: () => undefined,
  } as unknown as StepContext;
  const record = () => structuredClone(vm);
  const client = {
    call: async (method: string, params: unknown[] = []) => {
      switch (method) {
        case 'pool.get_all_records':
          return { 'OpaqueRef:pool': { name_label: 'pool-t', master: 'OpaqueRef:h1', ha_enabled: false, other_config: {} } };
        case 'host.get_all_records':
          return { [H2]: { name_label: 'h2', enabled: false, metrics: 'OpaqueRef:m2', software_version: {}, other_config: {}, resident_VMs: [] } };
        case 'host_metrics.get_all_records':
          return { 'OpaqueRef:m2': { live: true } };
        case 'VM.get_record':
          return { name_label: 'vm1', ...getRecord(record(), ++getRecords) };
        case 'VM.get_all_records_where':
          return vm.resident_on === H2 ? { [VM]: { name_label: 'vm1', ...record() } } : {};
        case 'VM.get_VBDs':
          return [];
        default:
          throw new Error(`unexpected call ${method} ${JSON.stringify(params)}`);
      }
    },
    waitForTask: async (ref: string) => {
      followed.push(ref);
      vm.current_operations = {};
      if (task.fails) throw task.fails;
      Object.assign(vm, { power_state: 'Suspended', resident_on: NULL });
      return '';
    },
  };
  const deps = { client, clock: fastClock(), config: { pollMs: 10_000 }, notifier: recordingNotifier(), logger: silentLogger } as unknown as StepDeps;
  const rec = () => (step.data!.stopped as Record<string, Rec>)[VM]!;
  return { step: createStopVmsStep(deps), ctx, sent, audit, followed, rec };
}

describe('stop-vms: a stop recorded as issued, its answer never seen', () => {
  it('the suspend is still in progress: its task is followed, the VM counted stopped, nothing sent again', async () => {
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:task-1': 'suspend' } });
    await expect(t.step.execute(t.ctx)).resolves.toMatchObject({ status: 'done' });
    expect(t.sent).toEqual([]);
    expect(t.followed).toEqual(['OpaqueRef:task-1']);
    expect(t.rec()).toMatchObject({ stopped: true, action: 'suspend' });
    expect(t.rec().issued).toBeUndefined();
    expect(t.audit.some((m) => /vm1: the answer to VM\.suspend was lost; following its task OpaqueRef:task-1 .*not sent again/.test(m))).toBe(true);
  });

  it('the pool shows it Suspended: counted stopped as if the answer had come, nothing sent again', async () => {
    const t = setup({ power_state: 'Suspended', resident_on: NULL, current_operations: {} });
    await expect(t.step.execute(t.ctx)).resolves.toMatchObject({ status: 'done' });
    expect(t.sent).toEqual([]);
    expect(t.followed).toEqual([]);
    expect(t.rec()).toMatchObject({ stopped: true, action: 'suspend' });
    expect(t.rec().issued).toBeUndefined();
  });

  it('plainly Running with nothing in progress: the step says so and sends nothing; the record no longer says issued (Retry sends it)', async () => {
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: {} });
    await expect(t.step.execute(t.ctx)).rejects.toThrow(/vm1: .*answer to VM\.suspend .*lost.* the pool shows the VM still Running on h2 with no stop in progress/);
    expect(t.sent).toEqual([]);
    expect(t.rec()).toMatchObject({ stopped: false });
    expect(t.rec().issued).toBeUndefined();
  });

  it('the suspend in progress then fails: its error is the answer (a refusal), and nothing is sent again', async () => {
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:task-1': 'suspend' } }, { fails: new XenApiError('VDI_IO_ERROR', ['Device I/O errors'], 'Async.VM.suspend', 'h1') });
    await expect(t.step.execute(t.ctx)).rejects.toMatchObject({ code: 'VDI_IO_ERROR' });
    expect(t.sent).toEqual([]);
    expect(t.rec()).toMatchObject({ stopped: false });
    expect(t.rec().issued).toBeUndefined();
  });

  it('a VM.get_record answer of the wrong shape is refused with the field named; nothing is sent and the stop stays in doubt', async () => {
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: {} }, {}, (r, nth) => (nth > 1 ? { ...r, power_state: 'Exploded' } : r)); // the step's own read is sound; settle's is not
    await expect(t.step.execute(t.ctx)).rejects.toThrow(/VM\.get_record vm1: field power_state/);
    expect(t.sent).toEqual([]);
    expect(t.rec().issued).toMatchObject({ method: 'VM.suspend' });
  });
});
