/**
 * R3.7/R6.2: start or resume, on the upgraded host, exactly the VMs stop-vms stopped (its durable record says what
 * each was before), back to that state: Running, or Paused (resumed or started with start_paused=true, never
 * unpaused). VMs that were already halted before the run stay halted. Level-triggered: each VM is read again just
 * before it is acted on, and a VM already up as it was before is done wherever it runs. A VM found up in the other
 * state (Paused though it ran before the run, or Running though it was Paused) was put so by someone else since the
 * run stopped it: it is left as it is, not counted as restored, and the step says so. A start or resume already in
 * progress on it (the previous attempt's, its answer lost) is followed through its task, not sent a second time; a
 * call whose answer is lost is reconciled from the pool, never blindly re-sent (as stop-vms does for its stops).
 */
import type { Ref } from '../../domain/types';
import { isInterruption, isPoolUnavailable, neverSent, StepFailure, toStepError, withCallsInDoubt } from '../errors';
import { hostByRef, operationInProgress, readLiveHosts, readVmNow, VM_START_OPERATIONS, type LiveVm } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';
import { stepHostName, stepHostRef } from './common';
import { mayHaveStopped, type StoppedVm } from './stop-vms';


type SeenVm = LiveVm & { operations: Record<string, string> };

/** the state a VM the run stopped is put back in: what it was before the run (R3.7/R6.2). Shared with Restore. */
export const wantedState = (rec: StoppedVm): 'Running' | 'Paused' => (rec.priorState === 'Paused' ? 'Paused' : 'Running');
export const isUp = (state: string | undefined): boolean => state === 'Running' || state === 'Paused';

/**
 * The call that brings a VM the run stopped (down: Suspended or Halted) back in `want` on host `on`: (vm, host,
 * start_paused, force), start_paused true only for a VM that was Paused before the run; never VM.unpause, which would
 * run a VM someone paused (R3.7/R6.2). Shared with Restore.
 */
export function bringBackCall(powerState: string, vmRef: Ref, on: Ref, want: 'Running' | 'Paused'): { method: 'VM.resume_on' | 'VM.start_on'; params: [Ref, Ref, boolean, boolean] } {
  return { method: powerState === 'Suspended' ? 'VM.resume_on' : 'VM.start_on', params: [vmRef, on, want === 'Paused', false] };
}

/**
 * A VM the run stopped, found up but not as it was before the run. The run only ever asks for the state it had
 * (start_paused true only for a VM that was Paused), so someone or something else changed it since: perhaps an
 * operator on purpose. It is not the bot's to undo (no VM.unpause, no pause).
 */
export function leftAsFound(rec: StoppedVm, state: string): AsFound {
  const stoppedBy = rec.action === 'suspend' ? 'suspended it' : 'shut it down';
  const hint = state === 'Paused' ? 'Unpause it (xe vm-unpause) if it should run' : 'Pause it yourself if it should stay paused';
  return {
    short: `${rec.name} (${state}, was ${rec.priorState})`,
    said: `${rec.name} is ${state}, though it was ${rec.priorState} before the run ${stoppedBy}. The run asks only for the state a VM had before, so someone or something else put it in this one since (perhaps on purpose): the bot left it as it is and does not count it as restored. ${hint}.`,
  };
}

export interface AsFound {
  short: string;
  said: string;
}

/**
 * The VM as the pool shows it now (VM.get_record), after following to its end any start or resume in progress on it
 * (its failure thrown as the answer). The task is kept, not destroyed: nothing shows it is the run's (another client
 * may be following its own start). `vm` undefined: the VM no longer exists; `followed`: a task was followed.
 */
async function settle(deps: StepDeps, ctx: StepContext, vmRef: Ref, name: string, why: string): Promise<{ vm: SeenVm | undefined; followed: boolean }> {
  const followed = new Set<string>();
  for (;;) {
    const vm = await readVmNow(deps.client, vmRef, name);
    const inProgress = vm && vm.powerState !== 'Running' ? operationInProgress(vm, VM_START_OPERATIONS, followed) : undefined;
    if (!inProgress) return { vm, followed: followed.size > 0 };
    const { task, op } = inProgress;
    if (!deps.client.waitForTask) throw new Error(`this client cannot follow tasks: ${name}'s ${op} in progress (task ${task}) is not followed`);
    followed.add(task);
    await ctx.audit(`${name}: ${why}; following its ${op} in progress (task ${task}), not sent again`, { task });
    await deps.client.waitForTask(task, { keep: true, signal: ctx.signal }); // an abort stops following it at once
  }
}

export function createRestoreVmsStep(deps: StepDeps): StepModule {
  return {
    kind: 'restore-vms',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const hostRef = stepHostRef(ctx);
      const stopped = ((ctx.dataOf(`${name}:stop-vms`)?.stopped ?? {}) as Record<string, StoppedVm>);
      const pool = await readLiveHosts(deps.client); // the hosts; each VM is read just before it is acted on
      const hostNameOf = (ref: Ref | null): string => (ref ? (hostByRef(pool, ref)?.name ?? ref) : 'no host');
      const restored: string[] = [];
      const failures: string[] = [];
      let firstError: { code?: string; params?: string[] } | undefined;
      // after forget-rejoin (R4.2) the host is a fresh install: VMs whose disks were on its local storage are gone
      const replaced = hostRef !== (ctx.planStep.host ?? hostRef);
      /** each with what was observed: the call and the error of the failed start */
      const lost: { name: string; failed: string }[] = [];
      /** up, but not in the state it had before the run: left as found (leftAsFound) */
      const asFound: AsFound[] = [];
      /** restored Paused, as they were before the run */
      const restoredPaused: string[] = [];
      for (const [vmRef, rec] of Object.entries(stopped)) {
        if (!mayHaveStopped(rec)) continue; // not stopped by the run: left as it is
        /** the call sent whose answer was lost, while the pool has not said how it ended */
        let inDoubt: string | undefined;
        let powerState: string | undefined;
        /** the start or resume whose failure ends this VM's attempt, as it is named in the message */
        let attempt = 'the start or resume in progress on it';
        const want = wantedState(rec);
        const done = (): void => {
          restored.push(rec.name);
          if (want === 'Paused') restoredPaused.push(rec.name);
        };
        try {
          // read before acting: a start or resume already in progress is followed, never sent a second time
          const before = await settle(deps, ctx, vmRef, rec.name, 'a start or resume is already in progress on it');
          const vm = before.vm;
          if (!vm) {
            failures.push(`${rec.name}: no longer exists in the pool`);
            continue;
          }
          powerState = vm.powerState;
          if (vm.powerState === want) {
            if (before.followed) done(); // the start in progress, followed, brought it back
            continue;
          }
          if (isUp(vm.powerState)) {
            asFound.push(leftAsFound(rec, vm.powerState));
            continue;
          }
          // its own host, or the host's new record after forget-rejoin (R4.2)
          const target = ctx.resolveHost(rec.host);
          const on = hostByRef(pool, target) ? target : hostRef;
          // a VM Paused before the run comes back Paused, never Running
          const call = { ...bringBackCall(vm.powerState, vmRef, on, want), target: `${rec.name} on ${name}${want === 'Paused' ? ' (paused, as before the run)' : ''}` };
          attempt = call.method;
          const sentAt = deps.clock.now();
          try {
            await ctx.act(call.method, call.params, call.target, { async: true });
          } catch (err) {
            if (isInterruption(err, ctx.signal)) throw err;
            // refused (its answer), or never reached xapi: the outcome is known
            if (!isPoolUnavailable(err) || neverSent(err, `Async.${call.method}`)) throw err;
            // the answer was lost: the pool says how it ended (a pool still unreadable ends the step as unavailable)
            inDoubt = `${call.method} ${rec.name} (sent ${new Date(sentAt).toISOString()})`;
            const after = (await settle(deps, ctx, vmRef, rec.name, `the answer to ${call.method} was lost`)).vm;
            inDoubt = undefined;
            if (!isUp(after?.powerState)) {
              const busy = after && Object.keys(after.operations).length > 0 ? `; in progress on it: ${Object.values(after.operations).join(', ')}` : '; nothing in progress on it';
              const seen = after ? `still ${after.powerState}${busy}` : 'that it no longer exists';
              throw new StepFailure(
                `the answer to ${call.method} (sent ${new Date(sentAt).toISOString()}) was lost, and the pool shows the VM ${seen}: it is not sent again automatically. Retry reads the VM again and sends it if still needed.`,
                { observed: [`${rec.name}: ${after ? `${after.powerState}${busy}` : 'no longer exists'}`] },
              );
            }
            await ctx.audit(`${call.method} ${rec.name}: its answer was lost; the pool shows it ${after!.powerState} on ${hostNameOf(after!.residentOn)}, so it is not sent again`, { method: call.method });
            if (after!.powerState !== want) {
              asFound.push(leftAsFound(rec, after!.powerState));
              continue;
            }
          }
          done();
          await ctx.checkpoint('restored-one');
        } catch (err) {
          if (isInterruption(err, ctx.signal)) throw err; // not this VM's failure: no further VM is started by this runner
          // the pool cannot be read (or a call never reached it): unavailable, so the engine reconnects and re-runs the
          // step, which reads each VM first; unless a VM already failed: then the step fails with it, and Retry re-reads
          if (isPoolUnavailable(err) && failures.length === 0) throw withCallsInDoubt(err, inDoubt ? [inDoubt] : []);
          const e = toStepError(err);
          // its disks were on the local storage of the host that was reinstalled: only the run's baseline says so.
          // VM_REQUIRES_SR alone is no evidence: a shared SR not yet plugged on the fresh host gives it too, and that
          // VM is intact (an ordinary failure: Retry once the SR is attached)
          const onOldLocal = ctx.run.baseline?.vms.find((v) => v.ref === vmRef)?.srs.some((sr) => !sr.shared && sr.host === ctx.planStep.host) ?? false;
          const lostWithHost = replaced && onOldLocal && !(err instanceof StepFailure);
          if (lostWithHost) lost.push({ name: rec.name, failed: `${attempt} failed${e.code ? ` with ${e.code}` : `: ${e.message}`}` });
          else {
            firstError ??= { code: e.code, params: e.params };
            failures.push([`${rec.name}${powerState ? ` (${powerState})` : ''}:`, e.code, e.message].filter(Boolean).join(' '));
          }
        }
      }
      const lostNames = lost.map((l) => l.name);
      if (lost.length > 0) {
        await ctx.saveData({ lostWithHost: lostNames });
        await ctx.say(lostSaid(lost, name));
      }
      // said, not failed: the VM is as someone put it after the run stopped it, a Retry could change nothing without
      // undoing their choice, and holding the upgrade of the other hosts would not bring it back
      if (asFound.length > 0) await ctx.say(`${name}: ${asFound.map((a) => a.said).join(' ')}`);
      if (failures.length > 0) throw new StepFailure(`${failures.length} VM(s) stopped for ${name} could not be restored; first: ${failures[0]}`, { ...firstError, observed: failures });
      if (restored.length > 0) await ctx.say(`${name}: ${restored.join(', ')} ${restored.length === 1 ? 'is' : 'are'} ${restoredAs(restored, restoredPaused)}.`);
      const lostNote = lost.length ? `; not started, disks presumably lost with the reinstalled host: ${lostNames.join(', ')}` : '';
      const asFoundNote = asFound.length ? `; left as found, not as before the run: ${asFound.map((a) => a.short).join(', ')}` : '';
      return { status: 'done', note: `${restored.length > 0 ? `${restored.length} VM(s) restored on ${name}` : `nothing restored on ${name}`}${lostNote}${asFoundNote}` };
    },
  };
}

/** "running again", or "back as before the run" when some were restored Paused */
function restoredAs(restored: string[], paused: string[]): string {
  if (paused.length === 0) return 'running again';
  return `back as before the run (${paused.length === restored.length ? 'paused' : `paused: ${paused.join(', ')}; the others running`})`;
}

/**
 * R4.2: the VMs whose start failed after forget & rejoin, and whose disks the run's baseline put on the reinstalled
 * host's local storage. What was observed (the failed call, its error) is said apart from what it suggests.
 */
function lostSaid(lost: { name: string; failed: string }[], host: string): string {
  const one = lost.length === 1;
  const observed = lost.map((l) => `${l.name}: ${l.failed}`).join('; ');
  return (
    `${observed}. Per the run's baseline, ${one ? 'its disks were' : 'their disks were'} on the local storage of ${host}, which was reinstalled: ` +
    `they are most likely gone with the reinstall, so ${one ? 'it' : 'these VMs'} will not run again (R4.2). Restore ${one ? 'it' : 'them'} from backup.`
  );
}
