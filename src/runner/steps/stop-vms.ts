/**
 * R2.5/R2.6/R6.1: suspend or shut down the VMs that cannot move (approved in the plan). Each VM's prior state and
 * host is recorded BEFORE it is touched, so restore-vms brings back exactly what this step stopped — and never
 * starts a VM that was already halted before the run. Each stop call is recorded as `issued` before it is sent: one
 * whose answer is lost (or a restart in between) is settled from the pool, never sent again blindly.
 */
import type { Ref, VmStop } from '../../domain/types';
import { isInterruption, isPoolUnavailable, neverSent, StepFailure, toStepError, withCallsInDoubt, xenErrorCode } from '../errors';
import { operationInProgress, readLivePoolFor, readVmNow, runsOn, vmByRef, vmsOn, VM_STOP_OPERATIONS, type LiveVm } from '../pool-state';
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
   * false from the record (written before the call) until the call returned, or, for a stop whose answer never came
   * (`issued`), a later look found the VM down: a stop that xapi refused leaves it false, and neither restore-vms nor
   * the end of the run counts that VM as stopped by the run, even if someone stops it later (mayHaveStopped). Absent
   * in records of an older version (counted as stopped, as then).
   */
  stopped?: boolean;
  /**
   * the stop call about to be sent, written BEFORE it and removed by its answer: while it is here the outcome is
   * unknown (answer lost, or the bot stopped), and the VM is read again before anything is sent (settle)
   */
  issued?: { method: string; at: number };
}

/**
 * Did the run stop this VM, or may it have (a stop whose answer never came)? Not a VM already down or gone when the
 * step looked, nor one it found running on another host (untouched); nor a stop xapi refused (stopped false, nothing
 * in doubt): that VM kept running, and if someone stopped it since, the run did not. A record of an older version,
 * without `stopped`, counts as stopped, as then. Readers decide "may have" from the pool: the VM down now.
 */
export function mayHaveStopped(rec: StoppedVm): boolean {
  return !rec.untouched && (rec.stopped !== false || rec.issued !== undefined);
}

type StopMethod = 'VM.suspend' | 'VM.clean_shutdown' | 'VM.hard_shutdown';
type VmNow = Pick<LiveVm, 'powerState' | 'residentOn'>;
/** the VM as settle read it, with the operations still in progress on it (current_operations) */
type SeenVm = VmNow & { operations: string[] };
/** a stop whose answer was lost, settled from the pool: the VM as it showed it (undefined: it no longer exists) */
interface Settled {
  seen: SeenVm | undefined;
}
/** one stop call: undefined when xapi answered it */
type Send = (stop: VmStop, method: StopMethod) => Promise<Settled | undefined>;

const isDown = (vm: VmNow | undefined): boolean => vm?.powerState === 'Halted' || vm?.powerState === 'Suspended';
const actionOf = (vm: VmNow): StoppedVm['action'] => (vm.powerState === 'Suspended' ? 'suspend' : 'shutdown');

function withoutIssued(rec: StoppedVm): StoppedVm {
  const { issued: _issued, ...rest } = rec;
  return rest;
}

/**
 * A stop whose answer never came: "a call whose outcome is unknown is reconciled, never blindly re-sent". The VM is
 * read again; a stop still in progress is followed to its end through its task (as the answer would have been, its
 * failure thrown as the answer; the task is left for xapi to collect), then the VM is read again. Undefined: the VM no
 * longer exists.
 */
async function settle(deps: StepDeps, ctx: StepContext, stop: VmStop, method: string): Promise<SeenVm | undefined> {
  const followed = new Set<string>();
  for (;;) {
    const vm = await readVmNow(deps.client, stop.vm, stop.vmName);
    if (!vm) return undefined;
    const now: SeenVm = { powerState: vm.powerState, residentOn: vm.residentOn, operations: Object.values(vm.operations) };
    const task = operationInProgress(vm, VM_STOP_OPERATIONS, followed)?.task;
    if (!task || isDown(now)) return now;
    if (!deps.client.waitForTask) throw new Error(`this client cannot follow tasks: ${stop.vmName}'s stop in progress (task ${task}) is not followed`);
    followed.add(task);
    await ctx.audit(`${stop.vmName}: the answer to ${method} was lost; following its task ${task} still in progress, not sent again`, { method, task });
    // kept, not destroyed: nothing shows the task is the run's (another client may be following its own stop).
    // An abort of the run stops following it at once (the stop goes on on the pool; a re-run reads the VM again)
    await deps.client.waitForTask(task, { keep: true, signal: ctx.signal });
  }
}

/** The pool shows the VM plainly running here after a stop whose answer was lost: said as seen, not sent again. */
function notCarriedOut(stop: VmStop, issued: { method: string; at: number }, hostName: string, seen: SeenVm): StepFailure {
  const busy = seen.operations.length > 0 ? `; in progress on it: ${seen.operations.join(', ')}` : '';
  return new StepFailure(
    `the answer to ${issued.method} (issued ${new Date(issued.at).toISOString()}) was lost (connection dropped, or the bot stopped), and the pool shows the VM still ${seen.powerState} on ${hostName} with no stop in progress${busy}: it was not carried out, and it is not sent again automatically. Retry sends it again.`,
    { observed: [`${stop.vmName}: ${seen.powerState} on ${hostName}, no stop in current_operations${busy}`] },
  );
}

/** After a refusal of `method` (the answer, or the failure of its task followed), the stop the usual fallback sends next. */
function fallbackAfter(method: string, err: unknown): StopMethod | undefined {
  const code = xenErrorCode(err);
  if (method === 'VM.suspend' && code === 'VM_NO_SUSPEND_SR') return 'VM.clean_shutdown';
  if (method === 'VM.clean_shutdown' && (code === 'VM_LACKS_FEATURE' || code === 'VM_LACKS_FEATURE_SHUTDOWN')) return 'VM.hard_shutdown';
  return undefined;
}

const NO_SUSPEND_SR_SAID = (stop: VmStop): string =>
  `${stop.vmName} cannot be suspended (VM_NO_SUSPEND_SR: the pool has no suspend SR); shutting it down cleanly instead. It is started again after the upgrade.`;

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

/**
 * Returns the action really taken (a suspend without a suspend SR falls back to a clean shutdown, said aloud) and,
 * when the answer was lost, the VM as the pool showed it then. `from`: the stop to send first (a later one when an
 * earlier one was already refused).
 */
async function stopVm(deps: StepDeps, ctx: StepContext, stop: VmStop, send: Send, from: StopMethod = stop.action === 'suspend' ? 'VM.suspend' : 'VM.clean_shutdown'): Promise<{ action: 'suspend' | 'shutdown'; settled?: Settled }> {
  let next: StopMethod | undefined = from;
  if (next === 'VM.suspend') {
    await ejectCds(deps, ctx, stop);
    try {
      return { action: 'suspend', settled: await send(stop, 'VM.suspend') };
    } catch (err) {
      next = fallbackAfter('VM.suspend', err);
      if (!next) throw err;
      await ctx.say(NO_SUSPEND_SR_SAID(stop));
    }
  }
  if (next === 'VM.clean_shutdown') {
    try {
      return { action: 'shutdown', settled: await send(stop, 'VM.clean_shutdown') };
    } catch (err) {
      // no PV drivers / no feature-shutdown: a hard shutdown is what `VM.shutdown` would fall back to
      if (!fallbackAfter('VM.clean_shutdown', err)) throw err;
    }
  }
  return { action: 'shutdown', settled: await send(stop, 'VM.hard_shutdown') };
}

export function createStopVmsStep(deps: StepDeps): StepModule {
  return {
    kind: 'stop-vms',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const hostRef = stepHostRef(ctx);
      const stops: VmStop[] = ctx.planStep.stops ?? [];
      const stopped = serialSaver(ctx, 'stopped', (ctx.step.data?.stopped as Record<string, unknown>) ?? {});
      /** the stops sent whose answer was never seen, as the failure names them */
      const inDoubt = (): string[] =>
        Object.values(stopped.value as Record<string, StoppedVm>)
          .filter((r) => r.issued)
          .map((r) => `${r.issued!.method} ${r.name} (sent ${new Date(r.issued!.at).toISOString()})`);
      /** a read of the pool that fails while it is away: the error names the stops still in doubt */
      const reading = <T>(read: Promise<T>): Promise<T> => read.catch((err: unknown) => Promise.reject(isPoolUnavailable(err) ? withCallsInDoubt(err, inDoubt()) : err));
      const pool = await reading(readLivePoolFor(deps.client, { vms: stops.map((s) => s.vm) })); // only the VMs to stop
      const failures: string[] = [];
      let firstError: { code?: string; params?: string[] } | undefined;
      const recordOf = (stop: VmStop) => stopped.value[stop.vm] as StoppedVm | undefined;
      const isRunningHere = (vm: VmNow | undefined): boolean => runsOn(vm, hostRef);

      const send: Send = async (stop, method) => {
        const issued = { method, at: deps.clock.now() };
        // before the side effect: a stop in flight, not yet carried out (stopped false, whatever an earlier attempt did)
        await stopped.set(stop.vm, { ...recordOf(stop)!, stopped: false, issued });
        try {
          await ctx.act(method, [stop.vm], stop.vmName, { async: true });
          return undefined;
        } catch (err) {
          if (neverSent(err, `Async.${method}`)) {
            // refused before anything was written: not carried out, nothing in doubt. Unavailable: the engine runs the
            // step again once the master answers, and the stop is sent then
            await stopped.set(stop.vm, withoutIssued(recordOf(stop)!));
            throw err;
          }
          if (!isPoolUnavailable(err)) throw err;
          // no answer: the VM is read again (a pool still unreachable fails the step as unavailable: the engine
          // re-runs it once the pool answers, and it settles from `issued`)
          const seen = await settle(deps, ctx, stop, method);
          if (seen && isRunningHere(seen)) throw notCarriedOut(stop, issued, name, seen);
          await ctx.audit(`${method} ${stop.vmName}: its answer was lost; the pool shows it ${describeSeen(seen)}, so it is not sent again`, { method });
          return { seen };
        }
      };

      const hostNameOf = (ref: string | null): string => (ref ? (pool.hosts.find((h) => h.ref === ref)?.name ?? ref) : 'no host');
      const describeSeen = (seen: SeenVm | undefined): string =>
        !seen ? 'no longer existing' : seen.residentOn && seen.residentOn !== hostRef ? `${seen.powerState} on another host, ${hostNameOf(seen.residentOn)}` : seen.powerState;
      /** VMs whose stop was sent, its answer lost, and found running on another host or gone: not stopped by the run */
      const notStopped: string[] = [];
      /** the run did not stop it after all (running elsewhere, or gone): restore-vms leaves it alone */
      const untouched = (rec: StoppedVm): StoppedVm => {
        const { issued: _issued, stopped: _stopped, ...rest } = rec;
        return { ...rest, untouched: true };
      };

      for (const stop of stops) {
        let vm: VmNow | undefined = vmByRef(pool, stop.vm);
        const known = recordOf(stop);
        let from: StopMethod | undefined;
        try {
          if (known?.issued && isRunningHere(vm)) {
            // a stop issued before a restart or a lost answer: the pool decides, it is never sent again blindly
            try {
              const seen = await settle(deps, ctx, stop, known.issued.method);
              if (seen && isRunningHere(seen)) throw notCarriedOut(stop, known.issued, name, seen);
              vm = seen;
            } catch (err) {
              // the stop followed was refused (its task failed): that is its answer, and the usual fallback follows
              from = fallbackAfter(known.issued.method, err);
              if (!from) throw err;
              await stopped.set(stop.vm, withoutIssued(known));
              if (from === 'VM.clean_shutdown') await ctx.say(NO_SUSPEND_SR_SAID(stop));
            }
          }
          const runningHere = isRunningHere(vm);
          if (!known || (known.untouched && runningHere)) {
            // first look, or a VM the run left alone earlier (down, gone, elsewhere) that runs here now: recorded afresh
            const record: StoppedVm = {
              name: stop.vmName,
              priorState: vm?.powerState ?? 'Halted',
              host: vm?.residentOn ?? hostRef,
              action: stop.action,
              ...(runningHere ? { stopped: false } : { untouched: true }),
            };
            await stopped.set(stop.vm, record); // before the side effect
          } else if (!runningHere && known.issued && isDown(vm)) {
            // a stop whose answer never came (a crash, a lost answer) was carried out after all: the pool shows it down
            await stopped.set(stop.vm, { ...withoutIssued(known), action: actionOf(vm!), stopped: true });
          } else if (!runningHere && known.issued) {
            await stopped.set(stop.vm, untouched(known)); // gone, or running elsewhere: not stopped by the run
          }
          if (!runningHere) continue;
          const { action, settled } = await stopVm(deps, ctx, stop, send, from);
          if (settled && !isDown(settled.seen)) {
            // the answer was lost and the VM runs on another host now, or is gone: the run did not stop it
            await stopped.set(stop.vm, untouched(recordOf(stop)!));
            notStopped.push(`${stop.vmName}: the answer to its stop was lost and the pool shows it ${describeSeen(settled.seen)}`);
            continue;
          }
          // a lost answer settled from the pool counts exactly as an answered stop when the VM is down
          await stopped.set(stop.vm, { ...withoutIssued(recordOf(stop)!), action: settled?.seen ? actionOf(settled.seen) : action, stopped: true });
          await ctx.checkpoint('stopped-one');
        } catch (err) {
          if (isInterruption(err, ctx.signal)) throw err; // not this VM's failure: no further VM is stopped by this runner
          const rec = recordOf(stop);
          // xapi's answer (a refusal, or the failure of the task followed) or the pool read again: the outcome is known
          if (rec?.issued && (err instanceof StepFailure || (xenErrorCode(err) !== undefined && !isPoolUnavailable(err)))) await stopped.set(stop.vm, withoutIssued(rec));
          // no answer and the pool unreadable: unavailable, so the engine re-runs the step once it answers (unless a
          // stop was already refused: then the step fails with it, and Retry settles this one from `issued`)
          if (isPoolUnavailable(err) && failures.length === 0) throw withCallsInDoubt(err, inDoubt());
          const e = toStepError(err);
          firstError ??= { code: e.code, params: e.params };
          failures.push([`${stop.vmName}:`, e.code, e.message].filter(Boolean).join(' '));
        }
      }
      if (failures.length > 0) throw new StepFailure(`${failures.length} VM(s) on ${name} could not be stopped; first: ${failures[0]}`, { ...firstError, observed: failures });

      const after = await reading(readLivePoolFor(deps.client, { residentOn: hostRef }));
      const left = vmsOn(after, hostRef);
      if (left.length > 0) {
        throw new StepFailure(`${left.length} VM(s) still running on ${name}; it cannot be shut down with guests on it`, {
          observed: left.map((v) => `${v.name}: ${v.powerState}`),
        });
      }
      // counted from the records: a VM stopped by an earlier run of this step (a re-run after the pool came back, or
      // before a restart) counts too
      const byRun = Object.values(stopped.value as Record<string, StoppedVm>).filter((r) => mayHaveStopped(r) && r.stopped !== false).length;
      const note = byRun > 0 ? `${byRun} VM(s) on ${name} suspended or shut down` : notStopped.length > 0 ? `no VM on ${name} stopped by the run` : `no VM to stop on ${name}`;
      const away = notStopped.length > 0 ? `; not stopped by the run: ${notStopped.join('; ')}` : '';
      return { status: 'done', note: `${note}${away}` };
    },
  };
}
