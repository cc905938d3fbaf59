/**
 * Cutting Slack text short (truncate in src/slack/blocks/common.ts): section(), context() and the plan message cut
 * mrkdwn that is already escaped (esc/slackText: `&amp;`, `&lt;`, `&gt;`, kept tokens `<@U…>`, `<!subteam^…>`,
 * `<!date^…|…>`, `<url|label>`). The cut text must never end inside an entity, a `<…>` token or a character of two
 * UTF-16 units (Slack would show "&am…", a mention that notifies nobody, a dead link, a replacement character), and
 * must stay within the limit it was cut for.
 */
import { validateBlocks } from '../../src/sandbox/block-kit-limits';
import { context, esc, LIMIT, section, truncate } from '../../src/slack/blocks/common';
import { planBlocks } from '../../src/slack/blocks/plan';
import { threeHostPool } from '../planner/builder';
import { plan } from '../planner/helpers';

/** In escaped mrkdwn "&", "<" and ">" only open/close an entity or a token: a text with a stray one was cut inside. */
function brokenIn(text: string): string | undefined {
  const rest = text.replace(/&(?:amp|lt|gt);/g, '').replace(/<[^<>]*>/g, '');
  return /[&<>]/.test(rest) ? `…${text.slice(-40)}` : undefined;
}
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const sectionText = (b: unknown) => (b as { text: { text: string } }).text.text;
const contextText = (b: unknown) => (b as { elements: Array<{ text: string }> }).elements[0]!.text;

const TOKENS: Array<[string, string]> = [
  ['an entity', '&amp;'],
  ['&gt;', '&gt;'],
  ['a user mention', '<@U0MIKA>'],
  ['a user group mention', '<!subteam^S0OPS|@ops>'],
  ['a date token', '<!date^1700000000^{time}|02:41 UTC>'],
  ['a link with a label', '<https://xo.example/pools/a|open the pool in Xen Orchestra>'],
];

describe('truncate never ends inside an entity, a <…> token or a two-unit character', () => {
  it.each(TOKENS)('%s across the cut of a section: cut before it, ellipsis kept, within the limit', (_, token) => {
    const max = LIMIT.sectionText;
    // the cut (max - 1 characters, then "…") falls at every character of the token in turn
    for (let at = max - 1 - token.length; at <= max - 1; at++) {
      const text = `${'x'.repeat(at)}${token}${' tail'.repeat(10)}`;
      const out = sectionText(section(text));
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out.endsWith('…')).toBe(true);
      expect(brokenIn(out)).toBeUndefined();
      // a token that fits before the cut is kept whole; one that straddles it is left out whole
      const kept = out.slice(0, -1);
      expect(text.startsWith(kept)).toBe(true);
      expect(kept).toBe(at + token.length <= max - 1 ? text.slice(0, max - 1) : 'x'.repeat(at));
    }
  });

  it.each(TOKENS)('%s across the cut of a context block', (_, token) => {
    const max = LIMIT.contextText;
    for (let at = max - 1 - token.length; at <= max - 1; at++) {
      const out = contextText(context(`${'y'.repeat(at)}${token}${' tail'.repeat(10)}`));
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out.endsWith('…')).toBe(true);
      expect(brokenIn(out)).toBeUndefined();
    }
  });

  it('slackText-style text with mentions and entities at every position of the cut', () => {
    const text = Array.from({ length: 200 }, (_, i) => `${esc(`vm-${i}<stopped>&`)}<@U0MIKA${i}>`).join(' ');
    for (let max = 100; max < 160; max++) {
      const out = truncate(text, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out.endsWith('…')).toBe(true);
      expect(brokenIn(out)).toBeUndefined();
    }
  });

  it('never cuts an emoji (two UTF-16 units) in half', () => {
    for (const pad of [0, 1]) {
      const out = truncate(`${'z'.repeat(pad)}${'😀'.repeat(30)}`, 11);
      expect(out.length).toBeLessThanOrEqual(11);
      expect(out).not.toMatch(loneSurrogate);
      expect(out.endsWith('…')).toBe(true);
    }
    expect(truncate('😀'.repeat(30), 11)).toBe(`${'😀'.repeat(5)}…`);
    expect(truncate(`z${'😀'.repeat(30)}`, 11)).toBe(`z${'😀'.repeat(4)}…`);
  });

  it('text with no token near the cut is cut exactly as before: max - 1 characters and "…"', () => {
    const text = `<@U0MIKA> &amp; ${'plain words '.repeat(50)}`;
    for (const max of [30, 75, 100, 299]) expect(truncate(text, max)).toBe(`${text.slice(0, max - 1)}…`);
    expect(truncate('short &amp; <@U1>', 3000)).toBe('short &amp; <@U1>');
    expect(truncate('exactly10!', 10)).toBe('exactly10!');
    expect(truncate('exactly11!!', 10)).toBe('exactly11…');
  });

  it('a token longer than the limit is cut (never more than the limit), not dropped', () => {
    const token = `<https://x.example/${'p'.repeat(100)}|label>`;
    const out = truncate(`${token} after`, 40);
    expect(out).toBe(`${token.slice(0, 39)}…`);
  });
});

describe('the plan message', () => {
  it('an order line cut at its 400 characters never ends inside an entity of the host name', () => {
    const demo = plan(threeHostPool().build());
    for (let pad = 0; pad < 6; pad++) {
      // the escaped name is "a&amp;a&amp;…": the cut at 399 falls at each character of an entity in turn
      const name = `${'n'.repeat(pad)}${'a&'.repeat(100)}`;
      const p = { ...demo, hosts: demo.hosts.map((h, i) => (i === 0 ? { ...h, name } : h)) };
      const m = planBlocks(p, { requestedBy: 'U0KENJI' });
      const order = m.blocks.map((b) => (b.type === 'section' ? sectionText(b) : '')).find((t) => t.startsWith('*Order*'))!;
      const line = order.split('\n').find((l) => l.startsWith('1. '))!;
      expect(line.length).toBeLessThanOrEqual(400);
      expect(line.endsWith('…')).toBe(true);
      expect(brokenIn(line)).toBeUndefined();
      expect(validateBlocks(m.blocks, 'message')).toEqual([]);
    }
  });
});
