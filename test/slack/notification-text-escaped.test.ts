/**
 * A message's notification text (`text`: the notification, and what clients without blocks show) carries host and VM
 * names, which anyone with access to the pool sets (name_label). Slack reads `<…>` in that text as a token: a host
 * named `web<!channel>` would notify the whole channel, `<https://…|…>` would show a link the bot never wrote. The
 * approval request, its decided form and a run's event replies show such characters as they are, as their blocks
 * do; mentions the bot wrote itself still notify. A text past Slack's 40,000 characters is refused (msg_too_long)
 * and the message lost: an event's notification text is cut, never inside an entity or a mention.
 */
import { approvalDecidedMessage, approvalMessage } from '../../src/slack/blocks/approval';
import { runEventMessage } from '../../src/slack/blocks/run-header';
import { APPROVER, makeRun, poolConfig, step } from './helpers/fixtures';
import { HOSTILE, SHOWN, onlyEntities } from './helpers/pool-words';

/** A gate of a host whose name_label is `name`. */
function gateOf(name: string) {
  const run = makeRun({ state: 'awaiting-approval' });
  return { run, gate: { ...step(run, 'xs-a2:approval'), hostName: name, state: 'awaiting-approval' as const } };
}

describe('the approval request’s notification text', () => {
  it('shows the host’s name literally: no channel-wide ping, no link', () => {
    const { run, gate } = gateOf(HOSTILE);
    const { text } = approvalMessage(run, gate, poolConfig());
    expect(text).toContain(SHOWN);
    onlyEntities(text);
  });

  it('once decided, shows the host’s name literally and still mentions who decided', () => {
    const { run, gate } = gateOf(HOSTILE);
    const { text } = approvalDecidedMessage(run, gate, 'approved', APPROVER, Date.UTC(2026, 10, 25, 2, 30), poolConfig());
    expect(text).toContain(SHOWN);
    expect(text).toContain(`<@${APPROVER}>`);
    onlyEntities(text.replace(`<@${APPROVER}>`, ''));
  });
});

describe('a run event’s notification text', () => {
  it('shows a VM’s name literally, in the text as in the blocks, and keeps the mention the bot wrote', () => {
    const run = makeRun();
    const m = runEventMessage(run, `xs-a2: ${HOSTILE} is running again. Skipped by <@${APPROVER}>.`);
    expect(m.text).toContain(SHOWN);
    expect(m.text).toContain(`<@${APPROVER}>`);
    onlyEntities(m.text.replace(`<@${APPROVER}>`, ''));
    expect(JSON.stringify(m.blocks)).not.toMatch(/<!channel>|<https:/);
  });

  it('stays far within Slack’s 40,000 characters for a very long event, cut after escaping and never inside an entity', () => {
    const run = makeRun();
    const { text } = runEventMessage(run, `Restore: ${'<&>'.repeat(20_000)}`);
    expect(text.length).toBeLessThanOrEqual(400);
    expect(text.startsWith(`${run.id} · ${run.pool}: Restore: &lt;&amp;&gt;`)).toBe(true);
    onlyEntities(text);
  });
});
