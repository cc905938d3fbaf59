import { checkRequest, recoveryMutation, StaleAction, validActions } from '../../src/runner/recovery';
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
});
