/**
 * A failure alert's recovery buttons ask before they act: their confirm dialog's text is mrkdwn, and it names the host
 * and the update, words anyone with access to the pool sets (name_label). Slack reads `<…>` in mrkdwn as a token: a
 * host named `<https://evil.example|docs>` would show a link the bot never wrote inside "Roll back the master?", and
 * `&`, `<`, `>` would break the words. The dialog shows them as they are; its title and the buttons are plain_text,
 * which Slack shows literally: they keep the names unescaped. `/xsupgrade tools`' notification text escapes the version
 * the pool reports as well.
 */
import type { Button, KnownBlock } from '@slack/types';
import type { RecoveryAction, StepKind, StepRecord } from '../../src/domain/types';
import { failureMessage } from '../../src/slack/blocks/failure';
import { toolsReply } from '../../src/slack/blocks/tools';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';
import { HOSTILE, SHOWN, onlyEntities } from './helpers/pool-words';

/** The button of `action` on the alert of a failed `id` step whose host is named HOSTILE. */
function recoveryButton(id: string, action: RecoveryAction, patch: Partial<StepRecord> = {}): Button {
  const run = withSteps(makeRun({ state: 'failed' }), { [id]: { state: 'failed', attempts: 1, error: { message: 'failed' }, ...patch } });
  const failed = { ...step(run, id), hostName: HOSTILE };
  const { blocks } = failureMessage(run, failed, [action, 'abort'], poolConfig());
  const actions = blocks.find((b: KnownBlock) => b.type === 'actions') as { elements: Button[] };
  return actions.elements[0]!;
}

/** The confirm's text, checked to name the host literally and carry no Slack token. */
function confirmText(b: Button): string {
  const text = b.confirm!.text!.text;
  expect(b.confirm!.text!.type).toBe('mrkdwn');
  expect(text).toContain(SHOWN);
  onlyEntities(text);
  return text;
}

describe('a recovery button’s confirm shows the pool’s words literally', () => {
  it('Roll back master: the master’s name, no link', () => {
    const b = recoveryButton('xs-a1:upgrade', 'rollback-master');
    expect(confirmText(b)).toMatch(/^Restores the master web&lt;!channel&gt;/);
    expect(b.confirm!.title!.text).toBe(`Roll back ${HOSTILE}?`); // plain_text: shown as is
  });

  it('Skip host: the host’s name in what the run’s records show of it', () => {
    const b = recoveryButton('xs-a2:upgrade', 'skip-host');
    confirmText(b);
    expect(b.confirm!.title!.text).toBe(`Skip ${HOSTILE}?`);
  });

  it.each<[StepKind, RegExp]>([
    ['restore-vms', /stays stopped/],
    ['move-back', /are not moved back/],
  ])('go on after %s: the host’s name', (kind, words) => {
    const text = confirmText(recoveryButton('xs-a2:restore-vms', 'skip-host', { kind }));
    expect(text).toMatch(words);
  });

  it('Skip update: the update’s name and the host’s; the button (plain_text) names the update as is', () => {
    const update = 'XS76E009<b>&';
    const b = recoveryButton('xs-a2:upgrade', 'skip-update', { kind: 'apply-updates', data: { failed: { name: update } } });
    const text = confirmText(b);
    expect(text).toContain('The run continues without XS76E009&lt;b&gt;&amp; on web&lt;!channel&gt;');
    expect(b.text.text).toBe(`Skip ${update}`);
    expect(b.confirm!.title!.text).toBe(`Skip ${update} on ${HOSTILE}?`);
  });
});

describe('`/xsupgrade tools`’ notification text', () => {
  const view = (needed: string) => ({ pool: 'pool-a', needed, label: 'XenServer 7.6', pending: [] });

  it('shows the version the pool reports literally', () => {
    const { text } = toolsReply(view('7.6.0<https://evil.example|docs>&'));
    expect(text).toBe('pool-a: 0 VM(s) with Tools below 7.6.0&lt;https://evil.example|docs&gt;&amp;');
  });

  it('is cut to a notification’s 400 characters, never inside an entity', () => {
    const { text } = toolsReply(view('<&>'.repeat(300)));
    expect(text.length).toBeLessThanOrEqual(400);
    onlyEntities(text);
  });
});
