/** The failure alert's first suggestion is the least destructive one that can work (issue 11 point 10). */
import { failureMessage } from '../../src/slack/blocks/failure';
import { makeRun, step, withSteps } from './helpers/fixtures';

const textOf = (m: { blocks?: unknown[] }) => JSON.stringify(m.blocks);

describe('failure alert guidance', () => {
  it('a slave that refused to go down (re-enabled after a power cycle): Retry, which re-disables and re-evacuates, comes before reinstall + forget', () => {
    const run = withSteps(makeRun({ state: 'failed' }), {
      'xs-a1:*': { state: 'done' },
      'xs-a2:upgrade': { state: 'failed', attempts: 1, error: { message: 'xs-a2 is still enabled; it must be disabled first (R3.3)' } },
    });
    const text = textOf(failureMessage(run, step(run, 'xs-a2:upgrade'), ['retry', 'forget-rejoin', 'skip-host', 'abort'], undefined));
    expect(text).toMatch(/What you can do: Fix the cause \(power `xs-a2` on if it is off\), then Retry \(R4\.3\): the bot first re-reads the pool, disables `xs-a2` again/);
    expect(text.indexOf('Retry (R4.3)')).toBeLessThan(text.indexOf('reinstall XenServer'));
    expect(text).toMatch(/Only if it cannot come back \(R4\.2\): reinstall XenServer 7\.6\.0 on `xs-a2`, then Forget host & rejoin/);
  });

  it('a slave that did not come back: Retry wait first, reinstall + forget only if it cannot come back', () => {
    const run = withSteps(makeRun({ state: 'failed' }), {
      'xs-a1:*': { state: 'done' },
      'xs-a3:wait-host': { state: 'failed', attempts: 1, error: { message: 'xs-a3 did not come back', code: 'HOST_WAIT_TIMEOUT' } },
    });
    const text = textOf(failureMessage(run, step(run, 'xs-a3:wait-host'), ['retry', 'forget-rejoin', 'skip-host', 'abort'], undefined));
    expect(text.indexOf('Retry wait (R4.3)')).toBeGreaterThan(-1);
    expect(text.indexOf('Retry wait (R4.3)')).toBeLessThan(text.indexOf('reinstall XenServer'));
  });
});
