/** Issue 11.9: an alert words what the pool answered distinctly from what the bot concluded itself. */
import { StepFailure, toStepError } from '../../src/runner/errors';
import { failureMessage } from '../../src/slack/blocks/failure';
import { XenApiConnectionError } from '../../src/xenapi';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';

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
