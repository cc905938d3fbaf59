/**
 * R2.5/R2.6/R6.1: suspend or shut down the VMs that cannot move (approved in the plan). Each VM's prior state and
 * host is recorded BEFORE it is touched, so restore-vms brings back exactly what this step stopped — and never
 * starts a VM that was already halted before the run.
 */
import type { Ref, VmStop } from '../../domain/types';
import { StepFailure, toStepError, xenErrorCode } from '../errors';
import { readLivePoolFor, vmByRef, vmsOn } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';
import { serialSaver, stepHostName, stepHostRef } from './common';

export interface StoppedVm {
  name: string;
  /** power state before the run touched it */
  priorState: 'Running' | 'Paused' | 'Halted' | 'Suspended';
  /** host it ran on */
  host: Ref;
  action: 'suspend' | 'shutdown';
  /** already stopped (or gone) when the step first looked: restore leaves it alone */
  untouched?: boolean;
  /**
   * false from the record (written before the call) until the call returned, or a later look found the VM no longer
   * running: a stop that xapi refused leaves it false, and the end of the run does not count that VM as stopped by the
   * run. Absent in records of an older version (counted as stopped, as then).
   */
  stopped?: boolean;
}

/**
 * R2.3/R6.1: a VM is never suspended with a disc in its CD drive (it may fail to resume after the upgrade, losing its
 * suspended state). pool-prep emptied the drives the plan saw; this catches a disc inserted since.
 */
async function ejectCds(deps: StepDeps, ctx: StepContext, stop: VmStop): Promise<void> {
  const vbds = (await deps.client.call<string[]>('VM.get_VBDs', [stop.vm])) ?? [];
  for (const vbd of vbds) {
    const rec = await deps.client.call<{ type?: string; empty?: boolean | string }>('VBD.get_record', [vbd]);
    if (rec?.type !== 'CD' || rec.empty === true || rec.empty === 'true') continue;
    try {
      await ctx.act('VBD.eject', [vbd], `CD drive of ${stop.vmName} (before its suspend, R2.3)`);
    } catch (err) {
      if (xenErrorCode(err) !== 'VBD_IS_EMPTY') throw err;
    }
  }
}

/** Returns the action really taken: a suspend without a suspend SR falls back to a clean shutdown (said aloud). */
async function stopVm(deps: StepDeps, ctx: StepContext, stop: VmStop): Promise<'suspend' | 'shutdown'> {
  if (stop.action === 'suspend') {
    await ejectCds(deps, ctx, stop);
    try {
      await ctx.act('VM.suspend', [stop.vm], stop.vmName, { async: true });
      return 'suspend';
    } catch (err) {
      if (xenErrorCode(err) !== 'VM_NO_SUSPEND_SR') throw err;
      await ctx.say(`${stop.vmName} cannot be suspended (VM_NO_SUSPEND_SR: the pool has no suspend SR); shutting it down cleanly instead. It is started again after the upgrade.`);
    }
  }
  try {
    await ctx.act('VM.clean_shutdown', [stop.vm], stop.vmName, { async: true });
  } catch (err) {
    // no PV drivers / no feature-shutdown: a hard shutdown is what `VM.shutdown` would fall back to
    const code = xenErrorCode(err);
    if (code !== 'VM_LACKS_FEATURE' && code !== 'VM_LACKS_FEATURE_SHUTDOWN') throw err;
    await ctx.act('VM.hard_shutdown', [stop.vm], stop.vmName, { async: true });
  }
  return 'shutdown';
}

export function createStopVmsStep(deps: StepDeps): StepModule {
  return {
    kind: 'stop-vms',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const hostRef = stepHostRef(ctx);
      const stops: VmStop[] = ctx.planStep.stops ?? [];
      const stopped = serialSaver(ctx, 'stopped', (ctx.step.data?.stopped as Record<string, unknown>) ?? {});
      const pool = await readLivePoolFor(deps.client, { vms: stops.map((s) => s.vm) }); // only the VMs to stop
      const failures: string[] = [];
      let firstError: { code?: string; params?: string[] } | undefined;
      let acted = 0;
      for (const stop of stops) {
        const vm = vmByRef(pool, stop.vm);
        const known = stopped.value[stop.vm] as StoppedVm | undefined;
        const runningHere = !!vm && vm.residentOn === hostRef && (vm.powerState === 'Running' || vm.powerState === 'Paused');
        if (!known) {
          const record: StoppedVm = {
            name: stop.vmName,
            priorState: vm?.powerState ?? 'Halted',
            host: vm?.residentOn ?? hostRef,
            action: stop.action,
            ...(runningHere ? { stopped: false } : { untouched: true }),
          };
          await stopped.set(stop.vm, record); // before the side effect
        } else if (!runningHere && known.stopped === false && vm && vm.powerState !== 'Running' && vm.powerState !== 'Paused') {
          // a stop sent before a crash or a failure of this step was carried out after all: the pool shows it down
          await stopped.set(stop.vm, { ...known, stopped: true });
        }
        if (!runningHere) continue;
        try {
          const done = await stopVm(deps, ctx, stop);
          await stopped.set(stop.vm, { ...(stopped.value[stop.vm] as StoppedVm), action: done, stopped: true });
          acted++;
          await ctx.checkpoint('stopped-one');
        } catch (err) {
          const e = toStepError(err);
          firstError ??= { code: e.code, params: e.params };
          failures.push(`${stop.vmName}: ${e.code ?? ''} ${e.message}`.trim());
        }
      }
      if (failures.length > 0) throw new StepFailure(`${failures.length} VM(s) on ${name} could not be stopped; first: ${failures[0]}`, { ...firstError, observed: failures });

      const after = await readLivePoolFor(deps.client, { residentOn: hostRef });
      const left = vmsOn(after, hostRef);
      if (left.length > 0) {
        throw new StepFailure(`${left.length} VM(s) still running on ${name}; it cannot be shut down with guests on it`, {
          observed: left.map((v) => `${v.name}: ${v.powerState}`),
        });
      }
      return { status: 'done', note: acted > 0 ? `${acted} VM(s) on ${name} suspended or shut down` : `no VM to stop on ${name}` };
    },
  };
}
