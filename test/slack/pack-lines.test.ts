/**
 * packLines (src/slack/blocks/common.ts) carries lists the bot observed into the thread (the audit's list, the rest of a
 * run's report): a line longer than a section is split over several sections, never cut with "…".
 */
import { LIMIT, messageChars, MAX_CHARS, packLines, splitText } from '../../src/slack/blocks/common';

const sectionTexts = (ms: ReturnType<typeof packLines>) => ms.flatMap((m) => (m.blocks ?? []).slice(1).map((b) => (b as { text: { text: string } }).text.text));

describe('packLines: long lines are split, never cut', () => {
  it('a report line naming 400 VMs (one line, ~8,000 characters) reaches the thread whole, each section within Slack\'s limit', () => {
    const vms = Array.from({ length: 400 }, (_, i) => `vm-app-${String(i).padStart(3, '0')}`);
    const line = `stopped by this run and not running again: ${vms.join(', ')}`;
    const messages = packLines('Report (continued)', ['first line', line, 'last line'], 'run: report');
    const texts = sectionTexts(messages);
    for (const t of texts) expect(t.length).toBeLessThanOrEqual(LIMIT.sectionText);
    for (const m of messages) expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
    const all = texts.join('\n');
    for (const vm of vms) expect(all).toContain(vm);
    expect(all).not.toMatch(/…/);
    expect(all).toMatch(/^first line/);
    expect(all).toMatch(/last line$/);
  });

  it('splitText breaks after "; ", ", " or a space, and keeps every character', () => {
    const text = Array.from({ length: 50 }, (_, i) => `item ${i}`).join('; ');
    const parts = splitText(text, 40);
    expect(parts.join('')).toBe(text);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(40);
    for (const p of parts.slice(0, -1)) expect(p.endsWith('; ')).toBe(true);
    // no separator: cut at the limit, nothing lost
    expect(splitText('x'.repeat(95), 40)).toEqual(['x'.repeat(40), 'x'.repeat(40), 'x'.repeat(15)]);
    // counted escaped when asked: "&" is 5 characters once escaped
    expect(splitText('&&&&', 10, (c) => (c === '&' ? 5 : 1))).toEqual(['&&', '&&']);
  });
});
