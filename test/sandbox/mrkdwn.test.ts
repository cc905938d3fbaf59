import { mrkdwnToHtml, MrkdwnContext, plainTextToHtml } from '../../src/sandbox/mrkdwn';
import { blockToHtml, findElement, messageToHtml, viewToHtml } from '../../src/sandbox/render';

const ctx: MrkdwnContext = {
  userName: (id) => ({ U0KENJI: 'kenji', U0MIKA: 'mika' })[id],
  groupHandle: (id) => (id === 'S0OPSLEADS' ? 'ops-leads' : undefined),
  channelName: (id) => (id === 'C0XSUPGRADE' ? 'xs-upgrades' : undefined),
  currentUser: 'U0MIKA',
};
const md = (s: string) => mrkdwnToHtml(s, ctx);

describe('mrkdwn → HTML', () => {
  it('bold, italic, strike', () => {
    expect(md('*Plan* for _pool-a_ is ~old~')).toBe('<b>Plan</b> for <i>pool-a</i> is <s>old</s>');
  });
  it('does not treat snake_case or arithmetic as formatting', () => {
    expect(md('vm_build_07 uses 2*3*4')).toBe('vm_build_07 uses 2*3*4');
  });
  it('inline code and code blocks are not formatted and are escaped', () => {
    expect(md('run `xe host-list *all*` now')).toBe('run <code>xe host-list *all*</code> now');
    expect(md('```a <b>\n*x*```')).toBe('<pre>a &lt;b&gt;\n*x*</pre>');
  });
  it('resolves user, group and channel mentions; highlights the current user', () => {
    expect(md('<@U0KENJI> asks <!subteam^S0OPSLEADS|@ops-leads> in <#C0XSUPGRADE>')).toBe(
      '<span class="mention">@kenji</span> asks <span class="mention group">@ops-leads</span> in <span class="mention channel">#xs-upgrades</span>',
    );
    expect(md('<@U0MIKA>')).toBe('<span class="mention mention-me">@mika</span>');
    expect(md('<@U0UNKNOWN>')).toBe('<span class="mention">@U0UNKNOWN</span>');
  });
  it('links with and without labels; labels may be formatted', () => {
    expect(md('<https://example.com/a?b=1&amp;c=2|the *docs*>')).toBe(
      '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the <b>docs</b></a>',
    );
    expect(md('<http://repo.local/7.6>')).toContain('href="http://repo.local/7.6"');
  });
  it('escapes HTML in text (Slack entities are decoded first, then escaped once)', () => {
    expect(md('a &lt;b&gt; &amp; <script>')).toBe('a &lt;b&gt; &amp; &lt;script&gt;');
    expect(md('"quote" \'x\'')).toBe('&quot;quote&quot; &#39;x&#39;');
  });
  it('emoji shortcodes the bot uses become emoji; unknown stay as text', () => {
    expect(md(':clipboard: :white_check_mark: :rotating_light: :raised_hand:')).toBe(
      ['📋', '✅', '🚨', '✋'].map((e, i) => `<span class="emoji" title=":${['clipboard', 'white_check_mark', 'rotating_light', 'raised_hand'][i]}:">${e}</span>`).join(' '),
    );
    expect(md(':not_an_emoji:')).toBe(':not_an_emoji:');
  });
  it('newlines, quotes and date tokens', () => {
    expect(md('one\ntwo')).toBe('one<br>two');
    expect(md('&gt; quoted\nafter')).toBe('<blockquote>quoted</blockquote>after');
    expect(md('<!date^1732540000^{time}|02:41 UTC>')).toBe('02:41 UTC');
  });
  it('plain_text is escaped, with emoji unless emoji:false', () => {
    expect(plainTextToHtml('<b> :warning:')).toBe('&lt;b&gt; <span class="emoji" title=":warning:">⚠️</span>');
    expect(plainTextToHtml(':warning:', false)).toBe(':warning:');
  });
});

describe('Block Kit → HTML', () => {
  it('renders header, section with fields, context, divider and styled buttons with a confirm dialog', () => {
    const html = messageToHtml(
      {
        text: 'fallback',
        blocks: [
          { type: 'header', block_id: 'h', text: { type: 'plain_text', text: ':clipboard: Plan for pool-a' } },
          { type: 'section', block_id: 's', text: { type: 'mrkdwn', text: '*3 hosts*' }, fields: [{ type: 'mrkdwn', text: '_a_' }, { type: 'plain_text', text: 'b' }] },
          { type: 'context', block_id: 'c', elements: [{ type: 'mrkdwn', text: 'plan `3f9c`' }] },
          { type: 'divider', block_id: 'd' },
          {
            type: 'actions',
            block_id: 'a',
            elements: [
              { type: 'button', action_id: 'start', style: 'primary', text: { type: 'plain_text', text: 'Start upgrade' }, value: 'v' },
              {
                type: 'button',
                action_id: 'abort',
                style: 'danger',
                text: { type: 'plain_text', text: 'Abort' },
                confirm: { title: { type: 'plain_text', text: 'Abort?' }, text: { type: 'mrkdwn', text: 'Really *abort*?' }, confirm: { type: 'plain_text', text: 'Abort run' }, deny: { type: 'plain_text', text: 'Keep going' }, style: 'danger' },
              },
              { type: 'button', action_id: 'docs', url: 'https://example.com', text: { type: 'plain_text', text: 'Docs' } },
            ],
          },
        ],
      },
      ctx,
    );
    expect(html).not.toContain('fallback');
    expect(html).toContain('<div class="block header" data-block-id="h"><span class="emoji" title=":clipboard:">📋</span> Plan for pool-a</div>');
    expect(html).toContain('<div class="field"><i>a</i></div><div class="field">b</div>');
    expect(html).toContain('<div class="block context" data-block-id="c"><span>plan <code>3f9c</code></span></div>');
    expect(html).toContain('<hr class="block divider"');
    expect(html).toContain('<button type="button" class="btn primary" data-block-id="a" data-action-id="start">Start upgrade</button>');
    const confirm = /data-action-id="abort" data-confirm="([^"]*)"/.exec(html);
    expect(confirm).not.toBeNull();
    const dialog = JSON.parse(confirm![1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
    expect(dialog).toEqual({ title: 'Abort?', text: 'Really <b>abort</b>?', confirm: 'Abort run', deny: 'Keep going', style: 'danger' });
    expect(html).toContain('<a class="btn" href="https://example.com"');
  });

  it('falls back to the message text when there are no blocks', () => {
    expect(messageToHtml({ text: '*hi* <@U0KENJI>' }, ctx)).toContain('<b>hi</b> <span class="mention">@kenji</span>');
  });

  it('renders a modal with plain_text_input, hint, optional mark and an error', () => {
    const v = viewToHtml(
      {
        type: 'modal',
        title: { type: 'plain_text', text: 'Forget & rejoin' },
        submit: { type: 'plain_text', text: 'Forget and rejoin' },
        blocks: [
          { type: 'section', block_id: 'i', text: { type: 'mrkdwn', text: 'Calls `host.destroy`' } },
          { type: 'input', block_id: 'address', optional: false, label: { type: 'plain_text', text: 'New address' }, hint: { type: 'plain_text', text: 'IP' }, element: { type: 'plain_text_input', action_id: 'value', placeholder: { type: 'plain_text', text: '10.0.0.5' } } },
          { type: 'input', block_id: 'note', optional: true, label: { type: 'plain_text', text: 'Note' }, element: { type: 'plain_text_input', action_id: 'v', multiline: true, initial_value: 'x<y' } },
        ],
      },
      ctx,
      { errors: { address: 'not an IPv4 address' } },
    );
    expect(v.title).toBe('Forget &amp; rejoin');
    expect(v.submit).toBe('Forget and rejoin');
    expect(v.close).toBe('Cancel');
    expect(v.body).toContain('<input type="text" name="address" placeholder="10.0.0.5" value="">');
    expect(v.body).toContain('<div class="input-error">not an IPv4 address</div>');
    expect(v.body).toContain('<textarea name="note" placeholder="">x&lt;y</textarea>');
    expect(v.body).toContain('<span class="optional">(optional)</span>');
  });

  it('an unknown block is visible as unsupported instead of silently vanishing', () => {
    expect(blockToHtml({ type: 'video', block_id: 'v' }, ctx)).toContain('unsupported block video');
  });

  it('findElement finds only buttons the message offers', () => {
    const blocks = [{ type: 'actions', block_id: 'a', elements: [{ type: 'button', action_id: 'go' }] }, { type: 'section', block_id: 's', accessory: { type: 'button', action_id: 'acc' } }];
    expect(findElement(blocks, 'a', 'go')).toEqual({ type: 'button', action_id: 'go' });
    expect(findElement(blocks, 's', 'acc')).toBeDefined();
    expect(findElement(blocks, 'a', 'acc')).toBeUndefined();
    expect(findElement(undefined, 'a', 'go')).toBeUndefined();
  });
});
