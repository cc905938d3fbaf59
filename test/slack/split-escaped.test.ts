/**
 * Splitting Slack text (src/slack/blocks/common.ts): packLines and sections() get mrkdwn that is already escaped
 * (esc/slackText: `&amp;`, `&lt;`, `&gt;`, and kept tokens `<@U…>`, `<!subteam^…>`, `<!date^…|…>`, `<url|label>`).
 * A piece must never start or end inside an entity or a `<…>` token (broken text, a mention that notifies nobody,
 * a dead link), and a line longer than a section is split over sections, not cut, within the message's limits.
 */
import { StepFailure, toStepError } from '../../src/runner/errors';
import { validateBlocks, LIMITS } from '../../src/sandbox/block-kit-limits';
import { failureMessage } from '../../src/slack/blocks/failure';
import { blocksTextLength, esc, LIMIT, MAX_CHARS, packLines, sections, slackText, splitText } from '../../src/slack/blocks/common';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';

/** In escaped mrkdwn "&", "<" and ">" only open/close an entity or a token: a piece with a stray one was cut inside. */
function brokenIn(piece: string): string | undefined {
  const rest = piece.replace(/&(?:amp|lt|gt);/g, '').replace(/<[^<>]*>/g, '');
  return /[&<>]/.test(rest) ? piece.slice(0, 40) + ' … ' + piece.slice(-40) : undefined;
}
const sectionTexts = (blocks: unknown[]) => blocks.filter((b) => (b as { type: string }).type === 'section').map((b) => (b as { text: { text: string } }).text.text);
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('splitText never cuts inside an entity or a <…> token', () => {
  it.each([
    ['an entity', '&amp;'],
    ['&lt;', '&lt;'],
    ['a user mention', '<@U0MIKA>'],
    ['a user group mention', '<!subteam^S0OPS|@ops>'],
    ['a date token (spaces inside)', '<!date^1700000000^{time}|02:41 UTC>'],
    ['a link with a label (spaces inside)', '<https://xo.example/pools/a|open the pool in Xen Orchestra>'],
  ])('%s across the limit stays whole, and no character is lost', (_, token) => {
    const max = 80;
    // the limit falls at every character of the token in turn
    for (let at = max - token.length; at <= max; at++) {
      const text = `${'x'.repeat(at)}${token}${' tail'.repeat(10)}`;
      const parts = splitText(text, max);
      expect(parts.join('')).toBe(text);
      for (const p of parts) {
        expect(p.length).toBeLessThanOrEqual(max);
        expect(brokenIn(p)).toBeUndefined();
      }
      expect(parts.some((p) => p.includes(token))).toBe(true);
    }
  });

  it('never breaks at a space inside a token, even when it is the last space of the window', () => {
    const token = '<https://x.ex/|label with words>';
    const parts = splitText(`a b ${token}tail`, 35);
    expect(parts).toEqual(['a b ', `${token}tai`, 'l']);
  });

  it('a token longer than the limit is cut (a piece over the limit would be refused by Slack), nothing dropped', () => {
    const token = `<https://x.example/${'p'.repeat(60)}|label>`;
    const text = `see ${token} now`;
    const parts = splitText(text, 30);
    expect(parts.join('')).toBe(text);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(30);
  });

  it('never cuts a character made of two UTF-16 units (an emoji) in half', () => {
    const text = '😀'.repeat(25);
    const parts = splitText(text, 5);
    expect(parts.join('')).toBe(text);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(5);
      expect(p).not.toMatch(loneSurrogate);
    }
  });

  it('in a status reply\'s step follow-ups (packLines of slackText notes) every mention and entity reaches Slack whole', () => {
    // a step note with "<", ">" and "&", and mentions slackText keeps, with no space to break at
    const note = Array.from({ length: 120 }, (_, i) => `vm-${i}<stopped>&<@U0MIKA${i}>`).join('');
    // wherever the limit falls in the note (pad moves it)
    for (let pad = 0; pad < 40; pad++) {
      const lines = [`:x: \`xs-a2:restore-vms\` failed — ${'x'.repeat(pad)}${slackText(note)}`, 'last line'];
      const messages = packLines('Steps (continued)', lines, 'run: steps');
      const texts = messages.flatMap((m) => sectionTexts(m.blocks).slice(1));
      for (const t of texts) {
        expect(t.length).toBeLessThanOrEqual(LIMIT.sectionText);
        expect(brokenIn(t)).toBeUndefined();
      }
      const all = texts.join('');
      for (let i = 0; i < 120; i++) expect(all).toContain(`<@U0MIKA${i}>`);
      expect(all.match(/&lt;stopped&gt;&amp;<@U0MIKA/g)).toHaveLength(120);
    }
  });
});

describe('sections(): a line longer than a section is split over sections, not cut', () => {
  const observed = (n: number) => Array.from({ length: n }, (_, i) => `vm-db-${String(i).padStart(3, '0')}: VM.start failed: SR_BACKEND_FAILURE <local> & gone`);

  it('a 7,000-character line keeps every character, each section within 3,000 and none broken', () => {
    const line = `*Observed:* ${observed(100).map(esc).join('; ')}`;
    expect(line.length).toBeGreaterThan(7000);
    const blocks = sections(`first\n${line}\nlast`);
    const texts = sectionTexts(blocks);
    for (const t of texts) {
      expect(t.length).toBeLessThanOrEqual(LIMIT.sectionText);
      expect(brokenIn(t)).toBeUndefined();
    }
    expect(texts.join('').replace(/\n/g, '')).toBe(`first${line}last`);
    expect(texts.join('\n')).not.toMatch(/…/);
    expect(validateBlocks(blocks, 'message')).toEqual([]);
  });

  it.each([80, 600])('a failure alert with %i VMs observed names them (all that fit), and keeps its recovery buttons within Slack\'s limits', (n) => {
    const vms = observed(n);
    const error = toStepError(new StepFailure(`${n} VM(s) stopped for xs-a2 could not be restored; first: ${vms[0]}`, { observed: vms }));
    const run = withSteps(makeRun(), { 'xs-a2:restore-vms': { state: 'failed', error, attempts: 1 } });
    run.state = 'failed';
    const m = failureMessage(run, step(run, 'xs-a2:restore-vms'), ['retry', 'abort'], poolConfig());
    const text = sectionTexts(m.blocks).join('');
    if (n === 80) for (const vm of vms) expect(text).toContain(esc(vm));
    else expect(text).toMatch(/more characters of this line not shown/);
    expect(validateBlocks(m.blocks, 'message')).toEqual([]);
    expect(blocksTextLength(m.blocks)).toBeLessThanOrEqual(LIMITS.messageBlocksText);
    expect(m.blocks.some((b) => b.type === 'actions')).toBe(true);
  });

  it('text past what a message can carry is not cut silently: the last section says how many characters are not shown', () => {
    const line = `*Observed:* ${observed(600).map(esc).join('; ')}`; // ~50,000 characters
    const blocks = sections(`:rotating_light: head\n${line}\nafter`);
    expect(validateBlocks(blocks, 'message')).toEqual([]);
    expect(blocks.length).toBeLessThan(LIMIT.blocks - 5);
    const texts = sectionTexts(blocks);
    expect(texts.join('').length).toBeLessThanOrEqual(MAX_CHARS - 1500);
    for (const t of texts) expect(brokenIn(t)).toBeUndefined();
    const said = texts.join('').match(/^:rotating_light: head\n([^]*?)\n?_… ([\d,]+) more characters of this line not shown \(Slack's message size\)_\nafter$/);
    expect(said).not.toBeNull();
    // what is shown is the line's start (more of it than the one section it used to be cut to), and the count what is left
    const lineShown = said![1]!;
    expect(line.startsWith(lineShown)).toBe(true);
    expect(lineShown.length).toBeGreaterThan(2 * LIMIT.sectionText);
    expect(Number(said![2]!.replace(/,/g, ''))).toBe(line.length - lineShown.length);
  });

  it('short lines are packed as before, and an empty text gives no section', () => {
    expect(sections('')).toEqual([]);
    expect(sectionTexts(sections('a\nb\nc'))).toEqual(['a\nb\nc']);
    const l = 'y'.repeat(1600);
    expect(sectionTexts(sections(`${l}\n${l}`))).toEqual([l, l]);
  });
});
