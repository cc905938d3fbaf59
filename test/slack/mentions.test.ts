/** Mentions render (issue 11 point 16): users as <@id>, groups as <!subteam^id>, kept by slackText, never raw ids. */
import { authorize } from '../../src/core/authorize';
import { formatRunDetail } from '../../src/core/console';
import { mention, plainMentions } from '../../src/domain/mention';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { slackText } from '../../src/slack/blocks/common';
import { CHANNEL, makeRun, poolConfig } from './helpers/fixtures';

describe('mentions', () => {
  it('slackText keeps user, group, channel and date tokens and escapes everything else (<!channel> included)', () => {
    expect(slackText('by <@U0MIKA> for <!subteam^S0OPS|ops> in <#C0X> at <!date^1700000000^{time}|02:00 UTC> & <!channel> <b>')).toBe(
      'by <@U0MIKA> for <!subteam^S0OPS|ops> in <#C0X> at <!date^1700000000^{time}|02:00 UTC> &amp; &lt;!channel&gt; &lt;b&gt;',
    );
  });

  it('a Slack user id becomes a mention; other actors stay words; the terminal shows @id', () => {
    expect(mention('U0MIKA')).toBe('<@U0MIKA>');
    expect(mention('cli')).toBe('cli');
    expect(plainMentions('aborted by <@U0MIKA>, approvers <!subteam^S0OPS>')).toBe('aborted by @U0MIKA, approvers @S0OPS');
  });

  it('refusals name the user as a mention, never a raw id', () => {
    const pool = poolConfig();
    const r = authorize(pool, { userId: 'U0KENJI', source: 'slack', channel: CHANNEL, groups: [] }, 'approve');
    expect(r).toEqual({ ok: false, reason: 'U0KENJI is not an approver of pool pool-a'.replace('U0KENJI', '<@U0KENJI>') });
  });

  it('an aborted run names who aborted it as a mention in the header and the summary; the CLI shows @id', () => {
    const run = makeRun({ state: 'aborted', outcome: 'aborted by <@U0MIKA>', endedAt: Date.now() });
    const header = JSON.stringify(runHeaderMessage(run, poolConfig()).blocks);
    expect(header).toContain('aborted by <@U0MIKA>');
    expect(header).not.toContain('&lt;@U0MIKA');
    expect(JSON.stringify(runEndMessages(run, poolConfig(), { toolsFollowUp: true }).summary.blocks)).toContain('aborted by <@U0MIKA>');
    expect(formatRunDetail(run)).toContain('outcome: aborted by @U0MIKA');
  });
});
