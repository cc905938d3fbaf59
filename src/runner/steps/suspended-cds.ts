/**
 * R2.3 for a VM suspended with a disc in its CD drive (approved in the plan, run by pool-prep before any host goes
 * down): resume it on the planned host (still on its old version), eject the disc, suspend it again. Level-triggered
 * from the VM's live state; the phase is saved BEFORE each side effect, and only a VM this step resumed is ever
 * suspended by it.
 */
import type { Ref, SuspendedCdCycle } from '../../domain/types';
import { isInterruption, StepFailure, toStepError, xenErrorCode } from '../errors';
import type { StepDeps } from '../ports';
import type { StepContext } from '../step';

export type CyclePhase = 'resuming' | 'ejecting' | 'suspending' | 'done';

const isTrue = (v: unknown): boolean => v === true || v === 'true';

async function insertedDiscs(deps: StepDeps, vbds: Ref[]): Promise<Ref[]> {
  const out: Ref[] = [];
  for (const vbd of vbds) if (!isTrue(await deps.client.call('VBD.get_empty', [vbd]))) out.push(vbd);
  return out;
}

async function eject(ctx: StepContext, c: SuspendedCdCycle, vbds: Ref[]): Promise<void> {
  for (const vbd of vbds) {
    try {
      await ctx.act('VBD.eject', [vbd], `CD drive of ${c.vmName}`);
    } catch (err) {
      if (xenErrorCode(err) !== 'VBD_IS_EMPTY') throw err;
    }
  }
}

/** One VM through resume → eject → suspend; returns what was done, in words. */
async function cycleOne(deps: StepDeps, ctx: StepContext, c: SuspendedCdCycle, phases: Record<string, CyclePhase>): Promise<string> {
  const save = async (phase: CyclePhase): Promise<void> => {
    phases[c.vm] = phase;
    await ctx.saveData({ cycled: { ...phases } });
  };
  for (let turn = 0; turn < 4; turn++) {
    const power = String(await deps.client.call('VM.get_power_state', [c.vm]));
    const discs = await insertedDiscs(deps, c.vbds);
    const ours = phases[c.vm] !== undefined;
    if (power === 'Suspended' && discs.length === 0) {
      await save('done');
      return ours ? `${c.vmName} resumed on ${c.hostName}, disc ejected, suspended again` : `${c.vmName} is suspended with an empty drive`;
    }
    if (power === 'Suspended') {
      await save('resuming');
      await ctx.act('VM.resume_on', [c.vm, c.host, false, false], `${c.vmName} on ${c.hostName} (to eject its disc, R2.3)`, { async: true });
      continue;
    }
    if (power === 'Halted') {
      // shut down since the plan: its drive can simply be emptied; nothing to suspend
      if (discs.length > 0) await eject(ctx, c, discs);
      await save('done');
      return `${c.vmName} was found Halted: disc ejected`;
    }
    if (power === 'Running' && ours && discs.length > 0) {
      await save('ejecting');
      await eject(ctx, c, discs);
      continue;
    }
    if (power === 'Running' && ours) {
      await save('suspending');
      await ctx.act('VM.suspend', [c.vm], c.vmName, { async: true });
      continue;
    }
    // resumed by someone else since the plan (or Paused): not ours to suspend
    throw new StepFailure(`${c.vmName} is ${power}, not suspended as planned: the bot does not suspend a VM it did not resume; check it and make a new plan`, {
      observed: [`${c.vmName}: ${power}${discs.length ? ', disc still inserted' : ', drive empty'}`],
    });
  }
  throw new StepFailure(`${c.vmName} did not settle as suspended with an empty drive`);
}

export async function cycleSuspendedCds(deps: StepDeps, ctx: StepContext, cycles: SuspendedCdCycle[]): Promise<string[]> {
  const phases = { ...((ctx.step.data?.cycled as Record<string, CyclePhase> | undefined) ?? {}) };
  const notes: string[] = [];
  for (const c of cycles) {
    if (phases[c.vm] === 'done') continue;
    try {
      notes.push(await cycleOne(deps, ctx, c, phases));
    } catch (err) {
      if (err instanceof StepFailure || isInterruption(err, ctx.signal)) throw err;
      const e = toStepError(err);
      const power = await deps.client.call('VM.get_power_state', [c.vm]).catch(() => 'unknown');
      throw new StepFailure(`${c.vmName}: resume, eject and suspend again (R2.3) failed: ${e.message}; no host has gone down. ${c.vmName} is now ${String(power)}`, {
        code: e.code,
        params: e.params,
        observed: [`${c.vmName}: ${String(power)}`],
      });
    }
  }
  return notes;
}
