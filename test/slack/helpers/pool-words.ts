/**
 * A name as anyone with access to the pool may set it (name_label): a channel-wide mention, a link token and an
 * ampersand, which Slack would read as tokens in mrkdwn or a message's text; and how the bot must show it.
 */
export const HOSTILE = 'web<!channel> <https://evil.example|docs> & co';
export const SHOWN = 'web&lt;!channel&gt; &lt;https://evil.example|docs&gt; &amp; co';

/** Only entities: no `<`, `>` nor a bare `&` (a token or a cut entity). */
export function onlyEntities(text: string): void {
  expect(text).not.toMatch(/[<>]/);
  expect(text.replace(/&(?:amp|lt|gt);/g, '')).not.toContain('&');
}
