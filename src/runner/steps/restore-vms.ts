/**
 * R3.7/R6.2: start or resume, on the upgraded host, exactly the VMs stop-vms stopped (its durable record says what
 * each was before). VMs that were already halted before the run stay halted. Level-triggered: each VM is read again
 * just before it is acted on, and a VM already running is done wherever it runs. A start or resume already in
 * progress on it (the previous attempt's, its answer lost) is followed through its task, not sent a second time; a
 * call whose answer is lost is reconciled from the pool, never blindly re-sent (as stop-vms does for its stops).
 */
import type { Ref } from '../../domain/types';
import { isInterruption, isPoolUnavailable, neverSent, StepFailure, toStepError, withCallsInDoubt } from '../errors';
import { hostByRef, operationInProgress, readLiveHosts, readVmNow, type LiveVm } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';
import { stepHostName, stepHostRef } from './common';
import { mayHaveStopped, type StoppedVm } from './stop-vms';

/** VM.current_operations values of a start or resume (its keys are the task refs): real xapi refuses a second one */
const START_OPS = new Set(['start', 'start_on', 'resume', 'resume_on', 'unpause']);

type SeenVm = LiveVm & { operations: Record<string, string> };

/**
 * The VM as the pool shows it now (VM.get_record), after following to its end any start or resume in progress on it
 * (its failure thrown as the answer). The task is kept, not destroyed: nothing shows it is the run's (another client
 * may be following its own start). `vm` undefined: the VM no longer exists; `followed`: a task was followed.
 */
async function settle(deps: StepDeps, ctx: StepContext, vmRef: Ref, name: string, why: string): Promise<{ vm: SeenVm | undefined; followed: boolean }> {
  const followed = new Set<string>();
  for (;;) {
    const vm = await readVmNow(deps.client, vmRef, name);
    const inProgress = vm && vm.powerState !== 'Running' ? operationInProgress(vm, START_OPS, followed) : undefined;
    if (!inProgress) return { vm, followed: followed.size > 0 };
    const { task, op } = inProgress;
    if (!deps.client.waitForTask) throw new Error(`this client cannot follow tasks: ${name}'s ${op} in progress (task ${task}) is not followed`);
    followed.add(task);
    await ctx.audit(`${name}: ${why}; following its ${op} in progress (task ${task}), not sent again`, { task });
    await deps.client.waitForTask(task, { keep: true });
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
      const lost: string[] = [];
      for (const [vmRef, rec] of Object.entries(stopped)) {
        if (!mayHaveStopped(rec)) continue; // not stopped by the run: left as it is
        /** the call sent whose answer was lost, while the pool has not said how it ended */
        let inDoubt: string | undefined;
        let powerState: string | undefined;
        try {
          // read before acting: a start or resume already in progress is followed, never sent a second time
          const before = await settle(deps, ctx, vmRef, rec.name, 'a start or resume is already in progress on it');
          const vm = before.vm;
          if (!vm) {
            failures.push(`${rec.name}: no longer exists in the pool`);
            continue;
          }
          powerState = vm.powerState;
          if (vm.powerState === 'Running') {
            if (before.followed) restored.push(rec.name); // the start in progress, followed, brought it back
            continue;
          }
          // its own host, or the host's new record after forget-rejoin (R4.2)
          const target = ctx.resolveHost(rec.host);
          const on = hostByRef(pool, target) ? target : hostRef;
          const call =
            vm.powerState === 'Suspended'
              ? { method: 'VM.resume_on', params: [vmRef, on, false, false], target: `${rec.name} on ${name}`, async: true }
              : vm.powerState === 'Halted'
                ? { method: 'VM.start_on', params: [vmRef, on, false, false], target: `${rec.name} on ${name}`, async: true }
                : { method: 'VM.unpause', params: [vmRef], target: rec.name, async: false };
          const sentAt = deps.clock.now();
          try {
            await ctx.act(call.method, call.params, call.target, { async: call.async });
          } catch (err) {
            if (isInterruption(err, ctx.signal)) throw err;
            // refused (its answer), or never reached xapi: the outcome is known
            if (!isPoolUnavailable(err) || neverSent(err, call.async ? `Async.${call.method}` : call.method)) throw err;
            // the answer was lost: the pool says how it ended (a pool still unreadable ends the step as unavailable)
            inDoubt = `${call.method} ${rec.name} (sent ${new Date(sentAt).toISOString()})`;
            const after = (await settle(deps, ctx, vmRef, rec.name, `the answer to ${call.method} was lost`)).vm;
            inDoubt = undefined;
            if (after?.powerState !== 'Running') {
              const busy = after && Object.keys(after.operations).length > 0 ? `; in progress on it: ${Object.values(after.operations).join(', ')}` : '; nothing in progress on it';
              const seen = after ? `still ${after.powerState}${busy}` : 'that it no longer exists';
              throw new StepFailure(
                `the answer to ${call.method} (sent ${new Date(sentAt).toISOString()}) was lost, and the pool shows the VM ${seen}: it is not sent again automatically. Retry reads the VM again and sends it if still needed.`,
                { observed: [`${rec.name}: ${after ? `${after.powerState}${busy}` : 'no longer exists'}`] },
              );
            }
            await ctx.audit(`${call.method} ${rec.name}: its answer was lost; the pool shows it Running on ${hostNameOf(after.residentOn)}, so it is not sent again`, { method: call.method });
          }
          restored.push(rec.name);
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
          if (lostWithHost) lost.push(rec.name);
          else {
            firstError ??= { code: e.code, params: e.params };
            failures.push([`${rec.name}${powerState ? ` (${powerState})` : ''}:`, e.code, e.message].filter(Boolean).join(' '));
          }
        }
      }
      if (lost.length > 0) {
        await ctx.saveData({ lostWithHost: lost });
        await ctx.say(
          `${lost.join(', ')} cannot run again: ${lost.length === 1 ? 'its disks were' : 'their disks were'} on the local storage of ${name}, which was reinstalled (R4.2). Restore ${lost.length === 1 ? 'it' : 'them'} from backup.`,
        );
      }
      if (failures.length > 0) throw new StepFailure(`${failures.length} VM(s) stopped for ${name} could not be restored; first: ${failures[0]}`, { ...firstError, observed: failures });
      if (restored.length > 0) await ctx.say(`${name}: ${restored.join(', ')} ${restored.length === 1 ? 'is' : 'are'} running again.`);
      const lostNote = lost.length ? `; lost with the reinstalled host: ${lost.join(', ')}` : '';
      return { status: 'done', note: `${restored.length > 0 ? `${restored.length} VM(s) restored on ${name}` : `nothing restored on ${name}`}${lostNote}` };
    },
  };
}
