/** A unit world for stop-vms and restore-vms: a fake pool (VMs with power state, host and current_operations) and the two steps on it. */
import type { PlanStep, Run, StepRecord, VmStop } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { createStopVmsStep, type StoppedVm } from '../../src/runner/steps/stop-vms';
import { createRestoreVmsStep } from '../../src/runner/steps/restore-vms';
import { XenApiConnectionError, XenApiError } from '../../src/xenapi';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { fastClock, recordingNotifier } from './helpers';

export const H2 = 'OpaqueRef:h2';
export const H3 = 'OpaqueRef:h3';
export const NULL = 'OpaqueRef:NULL';
type Rec = StoppedVm & { issued?: { method: string; at: number } };

export interface VmState {
  name: string;
  power_state: string;
  resident_on: string;
  current_operations: Record<string, string>;
}

export interface Opts {
  vms: Record<string, VmState>;
  stops: VmStop[];
  records?: Record<string, Rec>;
  /** what the pool does with a stop call (may throw) */
  act?: (method: string, ref: string, vm: VmState) => void;
  /** what the pool does with a start, resume or unpause call (may throw; default: the VM runs on the host named) */
  start?: (method: string, params: unknown[], vm: VmState) => void;
  /** a followed task: what it does to the VM, may throw */
  task?: (ref: string) => void;
  /** VM.get_record answers after the step's own read (nth > pool reads) */
  failGetRecord?: (ref: string) => Error | undefined;
  /** the nth VM.get_record answer as sent (default: the record as it is) */
  getRecord?: (record: Record<string, unknown>, nth: number) => Record<string, unknown>;
}

export function world(o: Opts) {
  let getRecords = 0;
  const sent: string[] = [];
  const audit: string[] = [];
  const said: string[] = [];
  const followed: string[] = [];
  /** tasks followed and left undestroyed (TaskWaitOptions.keep) */
  const kept: string[] = [];
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
        if (o.start && /start|resume|unpause/.test(method)) return o.start(method, params, vm);
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
          const record = { name_label: name, ...structuredClone(rest) };
          return o.getRecord ? o.getRecord(record, ++getRecords) : record;
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
    waitForTask: async (ref: string, opts: TaskWaitOptions = {}) => {
      followed.push(ref);
      if (opts.keep) kept.push(ref);
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
    stopStep,
    restoreStep,
    run,
    sent,
    audit,
    said,
    followed,
    kept,
  };
}

export const reset = () => new XenApiConnectionError('socket hang up (ECONNRESET)', 'h1', 'Async.VM.suspend', 'ECONNRESET');
export const stop = (vm: string, action: 'suspend' | 'shutdown' = 'suspend'): VmStop => ({ vm: `OpaqueRef:${vm}`, vmName: vm, host: H2, action, reason: 'R2.5 disks on a local SR' });

