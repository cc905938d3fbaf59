/**
 * The R2.3 cycle of pool-prep (resume → eject → suspend) against a scripted pool: level-triggered from the VM's
 * live state, the phase saved before each side effect, and never a suspend of a VM the step did not resume.
 */
import type { SuspendedCdCycle } from '../../src/domain/types';
import { StepFailure } from '../../src/runner/errors';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { cycleSuspendedCds } from '../../src/runner/steps/suspended-cds';

const CYCLE: SuspendedCdCycle = { vm: 'OpaqueRef:vm', vmName: 'old-build', host: 'OpaqueRef:h1', hostName: 'xs-a1', vbds: ['OpaqueRef:cd'] };

/** a VM whose power state and CD change as xapi would change them on each call */
function scripted(initial: { power: string; empty: boolean }, data: Record<string, unknown> = {}) {
  const vm = { ...initial };
  const acts: string[] = [];
  const deps = {
    client: {
      call: async (method: string) => {
        if (method === 'VM.get_power_state') return vm.power;
        if (method === 'VBD.get_empty') return vm.empty;
        throw new Error(`unexpected read ${method}`);
      },
    },
  } as unknown as StepDeps;
  const ctx = {
    step: { id: 'pool-prep', data },
    signal: new AbortController().signal,
    saveData: async (patch: Record<string, unknown>) => {
      // acts record the phase stored when each call goes out: it must be durable before the call it guards
      Object.assign(data, structuredClone(patch));
    },
    act: async (method: string) => {
      acts.push(`${method} (phase ${JSON.stringify((data.cycled as Record<string, string>)?.[CYCLE.vm])})`);
      if (method === 'VM.resume_on') vm.power = 'Running';
      if (method === 'VBD.eject') vm.empty = true;
      if (method === 'VM.suspend') vm.power = 'Suspended';
    },
  } as unknown as StepContext;
  return { vm, acts, deps, ctx, data };
}

describe('pool-prep: a VM suspended with a disc in (R2.3)', () => {
  it('resumes it on the planned host, ejects, suspends it again, each phase saved before its call', async () => {
    const t = scripted({ power: 'Suspended', empty: false });
    const notes = await cycleSuspendedCds(t.deps, t.ctx, [CYCLE]);
    expect(t.acts).toEqual(['VM.resume_on (phase "resuming")', 'VBD.eject (phase "ejecting")', 'VM.suspend (phase "suspending")']);
    expect(t.data.cycled).toEqual({ [CYCLE.vm]: 'done' });
    expect(notes).toEqual(['old-build resumed on xs-a1, disc ejected, suspended again']);
  });

  it('after a crash between the eject and the suspend, the re-run only suspends (nothing is resumed or ejected twice)', async () => {
    const t = scripted({ power: 'Running', empty: true }, { cycled: { [CYCLE.vm]: 'ejecting' } });
    await cycleSuspendedCds(t.deps, t.ctx, [CYCLE]);
    expect(t.acts).toEqual(['VM.suspend (phase "suspending")']);
  });

  it('never suspends a VM someone else resumed since the plan: the step fails saying so, having changed nothing', async () => {
    const t = scripted({ power: 'Running', empty: false });
    const err = await cycleSuspendedCds(t.deps, t.ctx, [CYCLE]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailure);
    expect((err as Error).message).toMatch(/old-build is Running, not suspended as planned: the bot does not suspend a VM it did not resume/);
    expect(t.acts).toEqual([]);
  });

  it('a VM shut down since the plan only has its drive emptied', async () => {
    const t = scripted({ power: 'Halted', empty: false });
    expect(await cycleSuspendedCds(t.deps, t.ctx, [CYCLE])).toEqual(['old-build was found Halted: disc ejected']);
    expect(t.acts).toEqual(['VBD.eject (phase undefined)']);
  });

  it('a refused resume fails the step with the VM\'s state and the XenAPI code; no host has gone down', async () => {
    const t = scripted({ power: 'Suspended', empty: false });
    (t.ctx as unknown as { act: () => Promise<void> }).act = async () => {
      throw Object.assign(new Error('HOST_NOT_ENOUGH_FREE_MEMORY'), { code: 'HOST_NOT_ENOUGH_FREE_MEMORY', params: ['4294967296', '1073741824'] });
    };
    const err = (await cycleSuspendedCds(t.deps, t.ctx, [CYCLE]).catch((e: unknown) => e)) as StepFailure;
    expect(err.code).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    expect(err.message).toMatch(/old-build: resume, eject and suspend again \(R2\.3\) failed: .*no host has gone down\. old-build is now Suspended/);
  });
});
