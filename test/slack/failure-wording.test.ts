/** Issue 11.9: an alert words what the pool answered distinctly from what the bot concluded itself. */
import { StepFailure, toStepError } from '../../src/runner/errors';
import { failureMessage } from '../../src/slack/blocks/failure';
import { XenApiConnectionError } from '../../src/xenapi';
import { makePlan, makeRun, poolConfig, step, withSteps } from './helpers/fixtures';

function alertText(error: ReturnType<typeof toStepError>): string {
  const run = withSteps(makeRun(), { 'xs-a2:wait-host': { state: 'failed', error, attempts: 1 } });
  run.state = 'failed';
  return JSON.stringify(failureMessage(run, step(run, 'xs-a2:wait-host'), ['retry', 'abort'], poolConfig()).blocks);
}

describe('alerts: the pool answered vs the bot concluded (issue 11.9)', () => {
  it.each([
    ['HOST_WAIT_TIMEOUT', /the bot concluded the host did not come back in time/],
    ['UPGRADE_NOT_APPLIED', /the bot concluded the upgrade did not apply/],
    ['NO_PLACEMENT', /the bot concluded no host can receive these VMs/],
    ['SHUTDOWN_UNKNOWN', /the bot cannot tell whether its shutdown request reached the host/],
  ])('%s is the bot\'s conclusion, never "the pool answered"', (code, words) => {
    const text = alertText(toStepError(new StepFailure('xs-a2 did not come back', { code })));
    expect(text).toMatch(words);
    expect(text).not.toMatch(/the pool answered/);
  });

  it('no answer at all (CONNECTION) is not worded as an answer', () => {
    const err = toStepError(new XenApiConnectionError('connect ECONNREFUSED 127.0.0.1:443', '127.0.0.1', 'host.get_all_records', 'ECONNREFUSED'));
    expect(err).toMatchObject({ code: 'CONNECTION', concluded: true });
    const text = alertText(err);
    expect(text).toMatch(/the bot could not reach the pool: no answer at all/);
    expect(text).not.toMatch(/the pool answered/);
  });

  it('a XenAPI failure code the bot has no words for is what the pool answered', () => {
    const err = toStepError({ code: 'SOME_NEW_XAPI_CODE', params: ['a'], message: 'SOME_NEW_XAPI_CODE' });
    expect(err.concluded).toBe(false);
    expect(alertText(err)).toMatch(/the pool answered SOME_NEW_XAPI_CODE \(a\)/);
  });

  it('a XenAPI code carried by a step failure (a refused migration) stays the pool\'s answer', () => {
    const err = toStepError(new StepFailure('1 of 2 migration(s) failed', { code: 'VM_MIGRATE_FAILED', params: ['vm', 'h', 'h2', 'no memory'] }));
    expect(err.concluded).toBe(false);
    expect(alertText(err)).toMatch(/a live migration failed: no memory/);
  });
});

/**
 * A failed update precheck cites the rule of the update being applied: the 7.6 update ISO that is the upgrade of a
 * 7.4/7.5 host (R1.3), or a hotfix applied after the upgrade (R3.10) — never R1.3 for a hotfix.
 */
describe('update failures cite the rule of the step that applied the update', () => {
  function updateAlert(kind: 'upgrade' | 'apply-updates', code: string, params: string[]): string {
    const base = makePlan();
    const a2 = base.hosts.find((h) => h.name === 'xs-a2')!;
    const plan = makePlan({
      steps: [...base.steps, { id: 'xs-a2:apply-updates', kind: 'apply-updates', host: a2.host, hostName: 'xs-a2', description: 'Apply XS76E009, XS76E011 to xs-a2 (R3.10)', expectedSeconds: 420 }],
    });
    const id = `xs-a2:${kind}`;
    const error = toStepError(new StepFailure(`the precheck failed on xs-a2: ${code}`, { code, params }));
    const run = withSteps(makeRun({ plan }), { [id]: { state: 'failed', error, attempts: 1 } });
    run.state = 'failed';
    const actions = kind === 'apply-updates' ? (['retry', 'skip-update', 'abort'] as const) : (['retry', 'abort'] as const);
    return JSON.stringify(failureMessage(run, step(run, id), [...actions], poolConfig()).blocks);
  }

  it.each([
    ['UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', ['XS76E011', 'XS76E009'], /the update's precheck failed on the host \(conflict present: XS76E011, XS76E009\)[^"]*\(R3\.10\)/],
    ['UPDATE_PRECHECK_FAILED_UNKNOWN_ERROR', [], /the update's precheck failed on the host[^"]*\(R3\.10\)/],
    ['UPDATE_APPLY_FAILED', ['yum: no space'], /applying the update failed on the host: yum: no space[^"]*\(R3\.10\)/],
  ])('%s on a hotfix (apply-updates) cites R3.10', (code, params, words) => {
    const text = updateAlert('apply-updates', code, params);
    expect(text).toMatch(words);
    expect(text).not.toMatch(/R1\.3/);
  });

  it('the same precheck failure on the 7.6 update ISO of a 7.4/7.5 host (the upgrade step) cites R1.3', () => {
    const text = updateAlert('upgrade', 'UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', ['XS75E002']);
    expect(text).toMatch(/the update's precheck failed on the host \(conflict present: XS75E002\)[^"]*\(R1\.3\)/);
    expect(text).not.toMatch(/R3\.10/);
  });
});

describe('Skip on a host already back on the target (restore-vms, move-back)', () => {
  const alert = (stepId: string, kind?: 'move-back') => {
    const run = withSteps(makeRun(), { [stepId]: { state: 'failed', error: toStepError(new StepFailure('local-a1 cannot start', { code: 'VM_INCOMPATIBLE_WITH_THIS_HOST' })), attempts: 2 } });
    run.state = 'failed';
    const failed = step(run, stepId);
    return JSON.stringify(failureMessage(run, kind ? { ...failed, kind } : failed, ['retry', 'skip-host', 'abort'], poolConfig()).blocks);
  };

  it('is worded as going on without its VMs, never as leaving the host on its old version', () => {
    const text = alert('xs-a1:restore-vms');
    expect(text).toContain('Continue without these VMs');
    expect(text).toMatch(/xs-a1 stays on the target, enabled\. Any VM this run stopped for it and did not start again stays stopped: start it yourself/);
    expect(text).not.toMatch(/old version|Skip host/);
    expect(alert('xs-a2:restore-vms', 'move-back')).toContain('Leave the VMs where they are');
  });

  it('before the upgrade it is still Skip host', () => {
    const text = alert('xs-a2:evacuate');
    expect(text).toContain('Skip host');
    expect(text).toMatch(/stays out of this run on its old version/);
  });
});
