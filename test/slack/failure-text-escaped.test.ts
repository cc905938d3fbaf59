/**
 * A failure alert's notification text carries what the pool said (a step error quotes VM and host names, which the
 * people who own the VMs choose). Slack reads `<…>` in a message's text as a token: a VM named `web<!channel>` would
 * notify the whole channel, and `<https://…|…>` would show a link the bot never wrote. The text shows such characters
 * as they are, as the alert's blocks already do.
 */
import { StepFailure, toStepError } from '../../src/runner/errors';
import { failureMessage } from '../../src/slack/blocks/failure';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';
import { onlyEntities } from './helpers/pool-words';

function failedWith(message: string) {
  const error = toStepError(new StepFailure(message, { code: 'VM_MIGRATE_FAILED', params: [] }));
  const run = withSteps(makeRun({ state: 'failed' }), { 'xs-a2:evacuate': { state: 'failed', attempts: 1, error } });
  return { run, step: step(run, 'xs-a2:evacuate') };
}

describe('the failure alert’s notification text', () => {
  it('shows a mention, a link token and an ampersand from the pool’s words literally: no channel-wide ping, no link', () => {
    const { run, step: s } = failedWith('VM web<!channel> could not move: see <https://evil.example|the docs> & retry');
    const { text } = failureMessage(run, s, ['retry', 'abort'], poolConfig());
    expect(text).not.toMatch(/<!channel>|<https:/);
    expect(text).toContain('VM web&lt;!channel&gt; could not move: see &lt;https://evil.example|the docs&gt; &amp; retry');
  });

  it('escaped and then cut, it never ends inside an entity', () => {
    const { run, step: s } = failedWith(`${'<&>'.repeat(300)}`);
    const { text } = failureMessage(run, s, ['retry'], poolConfig());
    expect(text.length).toBeLessThanOrEqual(400);
    onlyEntities(text);
  });
});
