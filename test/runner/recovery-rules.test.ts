import { checkRequest, preparationToRecheck, recoveryMutation, StaleAction, validActions } from '../../src/runner/recovery';
import { makePlan, makeRun } from './helpers';

function failedAt(stepId: string, done: string[] = []) {
  const run = makeRun(makePlan(['m1', 's2', 's3']));
  run.state = 'failed';
  for (const s of run.steps) if (done.includes(s.id)) s.state = 'done';
  const step = run.steps.find((s) => s.id === stepId)!;
  step.state = 'failed';
  step.error = { message: 'boom' };
  return { run, step };
}

describe('recovery rules', () => {
  it('offers roll-back only for the master, forget-rejoin and skip only for other hosts (R4.1, R4.2)', () => {
    const m = failedAt('m1:wait-host');
    expect(validActions(m.run, m.step)).toEqual(['retry', 'rollback-master', 'abort']);
    const s = failedAt('s2:upgrade');
    expect(validActions(s.run, s.step)).toEqual(['retry', 'forget-rejoin', 'skip-host', 'abort']);
    const e = failedAt('s2:evacuate');
    expect(validActions(e.run, e.step)).toEqual(['retry', 'skip-host', 'abort']);
    const b = failedAt('backup');
    expect(validActions(b.run, b.step)).toEqual(['retry', 'abort']);
  });

  it('refuses a master roll-back once another host was upgraded, saying what to decide (R4.1)', () => {
    const { run, step } = failedAt('m1:enable', ['s2:wait-host']);
    expect(validActions(run, step)).not.toContain('rollback-master');
    const res = checkRequest(run, { action: 'rollback-master', stepId: step.id });
    expect(res).toMatchObject({ ok: false, code: 'invalid' });
    expect(!res.ok && res.error).toMatch(/s2 already run the target.*Decide/);
  });

  it('applies an action once: a second identical request against the old revision throws', () => {
    const { run } = failedAt('s2:evacuate');
    const mutate = recoveryMutation({ action: 'retry', stepId: 's2:evacuate' }, 'U1', { revision: run.revision });
    const copy = structuredClone(run);
    mutate(copy);
    expect(copy.state).toBe('running');
    expect(copy.steps.find((s) => s.id === 's2:evacuate')!.state).toBe('pending');
    copy.revision += 1;
    expect(() => mutate(copy)).toThrow(StaleAction);
  });

  it('skip-host skips the host’s remaining steps only', () => {
    const { run } = failedAt('s2:evacuate', ['s2:disable']);
    const copy = structuredClone(run);
    recoveryMutation({ action: 'skip-host', stepId: 's2:evacuate' }, 'U1', { revision: run.revision })(copy);
    expect(copy.steps.filter((s) => s.host === 'ref-s2').map((s) => s.state)).toEqual(['done', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(copy.steps.filter((s) => s.host === 'ref-s3').every((s) => s.state === 'pending')).toBe(true);
  });

  it('Retry of a host step before its shutdown re-runs the host\'s done preparation first (R4.3: reconcile with the live pool)', () => {
    // (this plan has no stop-vms step; when there is one it is re-run too, see test/runner/retry-reconcile.test.ts)
    const prep = ['s2:disable', 's2:evacuate', 's2:approval'];
    const { run, step } = failedAt('s2:upgrade', ['backup', 'm1:disable', ...prep]);
    expect(preparationToRecheck(run, step).map((s) => s.id)).toEqual(['s2:disable', 's2:evacuate']);
    recoveryMutation({ action: 'retry', stepId: step.id }, 'UAPPROVER1', { revision: run.revision })(run);
    const state = (id: string) => run.steps.find((s) => s.id === id)!.state;
    expect(['s2:disable', 's2:evacuate', 's2:upgrade'].map(state)).toEqual(['pending', 'pending', 'pending']);
    expect(state('s2:approval')).toBe('done'); // the approval of this host's shutdown stands
    expect(state('m1:disable')).toBe('done'); // another host's steps are not touched
  });

  it('Retry re-runs nothing else once the shutdown was issued, or for a wait, or for the preparation step itself', () => {
    const issued = failedAt('s2:upgrade', ['s2:disable', 's2:evacuate']);
    issued.step.data = { shutdownIssued: true };
    expect(preparationToRecheck(issued.run, issued.step)).toEqual([]);
    const wait = failedAt('s2:wait-host', ['s2:disable', 's2:evacuate', 's2:upgrade']);
    expect(preparationToRecheck(wait.run, wait.step)).toEqual([]);
    const disable = failedAt('s2:disable');
    expect(preparationToRecheck(disable.run, disable.step)).toEqual([]);
    const evacuate = failedAt('s2:evacuate', ['s2:disable']);
    expect(preparationToRecheck(evacuate.run, evacuate.step).map((s) => s.id)).toEqual(['s2:disable']);
  });
});
