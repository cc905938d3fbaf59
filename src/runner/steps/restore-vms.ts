/**
 * R3.7/R6.2: start or resume, on the upgraded host, exactly the VMs stop-vms stopped (its durable record says what
 * each was before). VMs that were already halted before the run stay halted. Level-triggered: a VM already running
 * is done wherever it runs.
 */
import { isInterruption, StepFailure, toStepError } from '../errors';
import { hostByRef, readLivePoolFor, vmByRef } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { stepHostName, stepHostRef } from './common';
import { mayHaveStopped, type StoppedVm } from './stop-vms';

export function createRestoreVmsStep(deps: StepDeps): StepModule {
  return {
    kind: 'restore-vms',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const hostRef = stepHostRef(ctx);
      const stopped = ((ctx.dataOf(`${name}:stop-vms`)?.stopped ?? {}) as Record<string, StoppedVm>);
      const pool = await readLivePoolFor(deps.client, { vms: Object.keys(stopped) }); // only the VMs it stopped
      const restored: string[] = [];
      const failures: string[] = [];
      let firstError: { code?: string; params?: string[] } | undefined;
      // after forget-rejoin (R4.2) the host is a fresh install: VMs whose disks were on its local storage are gone
      const replaced = hostRef !== (ctx.planStep.host ?? hostRef);
      const lost: string[] = [];
      for (const [vmRef, rec] of Object.entries(stopped)) {
        if (!mayHaveStopped(rec)) continue; // not stopped by the run: left as it is
        const vm = vmByRef(pool, vmRef);
        if (!vm) {
          failures.push(`${rec.name}: no longer exists in the pool`);
          continue;
        }
        if (vm.powerState === 'Running') continue;
        // its own host, or the host's new record after forget-rejoin (R4.2)
        const target = ctx.resolveHost(rec.host);
        const on = hostByRef(pool, target) ? target : hostRef;
        try {
          if (vm.powerState === 'Suspended') await ctx.act('VM.resume_on', [vmRef, on, false, false], `${rec.name} on ${name}`, { async: true });
          else if (vm.powerState === 'Halted') await ctx.act('VM.start_on', [vmRef, on, false, false], `${rec.name} on ${name}`, { async: true });
          else if (vm.powerState === 'Paused') await ctx.act('VM.unpause', [vmRef], rec.name);
          restored.push(rec.name);
          await ctx.checkpoint('restored-one');
        } catch (err) {
          if (isInterruption(err, ctx.signal)) throw err; // not this VM's failure: no further VM is started by this runner
          const e = toStepError(err);
          // its disks were on the local storage of the host that was reinstalled: only the run's baseline says so.
          // VM_REQUIRES_SR alone is no evidence: a shared SR not yet plugged on the fresh host gives it too, and that
          // VM is intact (an ordinary failure: Retry once the SR is attached)
          const onOldLocal = ctx.run.baseline?.vms.find((v) => v.ref === vmRef)?.srs.some((sr) => !sr.shared && sr.host === ctx.planStep.host) ?? false;
          const lostWithHost = replaced && onOldLocal;
          if (lostWithHost) lost.push(rec.name);
          else {
            firstError ??= { code: e.code, params: e.params };
            failures.push(`${rec.name} (${vm.powerState}): ${e.code ?? ''} ${e.message}`.trim());
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
