/**
 * sections() (src/slack/blocks/common.ts) counts every piece it shows against what a message can carry. A failure
 * alert whose *Error:* line and *Observed:* line are both long used to come to over 13,000 characters of blocks with
 * its recovery buttons: Slack refuses that (msg_blocks_too_long), the outbox falls back to the text alone, and the
 * operator gets the alert without its Retry / Forget & rejoin / Roll back buttons. What is left out is said in a line,
 * every short line that fits (the headline, what to do, who is asked) is shown, and no entity or mention is cut.
 */
import { StepFailure, toStepError } from '../../src/runner/errors';
import { LIMITS, validateBlocks } from '../../src/sandbox/block-kit-limits';
import { blocksTextLength, esc, LIMIT, MAX_CHARS, sections, SPLIT_ROOM_CHARS } from '../../src/slack/blocks/common';
import { failureMessage } from '../../src/slack/blocks/failure';
import { ACTION } from '../../src/slack/blocks/ids';
import type { RecoveryAction } from '../../src/domain/types';
import { startHarness } from './helpers/harness';
import { makeRun, poolConfig, step, withSteps } from './helpers/fixtures';

const sectionTexts = (blocks: unknown[]) => blocks.filter((b) => (b as { type: string }).type === 'section').map((b) => (b as { text: { text: string } }).text.text);
const chars = (texts: string[]) => texts.reduce((n, t) => n + t.length, 0);
/** In escaped mrkdwn "&", "<" and ">" only open/close an entity or a token: a piece with a stray one was cut inside. */
const broken = (t: string) => /[&<>]/.test(t.replace(/&(?:amp|lt|gt);/g, '').replace(/<[^<>]*>/g, ''));
const count = (s: string) => Number(s.replace(/,/g, ''));

/** A long line as a failure puts it: escaped words, entities and mentions, `n` items. */
const longLine = (label: string, n: number) => `*${label}:* ${Array.from({ length: n }, (_, i) => esc(`vm-${label}-${i}: VM.start failed <local> & gone`) + ` <@U0MIKA${i % 10}>`).join('; ')}`;
const shortLines = (n: number, label = 'short') => Array.from({ length: n }, (_, i) => `${label} line ${i}: ${'s'.repeat(40 + (i % 50))}`);

/** Each long line's start shown and its note: the characters the note says are left out are what is missing. */
function expectLongLineSaid(joined: string, line: string): void {
  const label = line.slice(0, line.indexOf(':*') + 2);
  const at = joined.indexOf(label);
  const rest = joined.slice(at);
  const said = rest.match(/^([^]*?)\n?_… ([\d,]+) more characters of this line not shown \(Slack's message size\)_/);
  if (at >= 0 && said && !said[1]!.includes('\n')) {
    expect(line.startsWith(said[1]!)).toBe(true);
    expect(count(said[2]!)).toBe(line.length - said[1]!.length);
  } else {
    // not cut, or left out whole and said so
    const whole = at >= 0 && rest.startsWith(line);
    const gone = new RegExp(`_… a line of ${line.length.toLocaleString('en-US')} characters not shown \\(Slack's message size\\)_`).test(joined);
    expect(whole || gone).toBe(true);
  }
}

describe('sections() stays within what a message can carry, whatever the text', () => {
  const cases: Array<[string, string[]]> = [
    ['two long lines between short ones (a failure alert)', ['head', longLine('Error', 400), longLine('Observed', 400), 'guidance', 'mentions']],
    ['two long lines that just pass a section', ['head', longLine('Error', 60), longLine('Observed', 60), 'tail']],
    ['five long lines', ['head', ...['A', 'B', 'C', 'D', 'E'].map((l) => longLine(l, 150)), 'tail']],
    ['one very long line', ['head', longLine('Error', 3000), 'tail']],
    ['long lines among many short ones', [...shortLines(40, 'x'), longLine('Error', 300), ...shortLines(40, 'y'), longLine('Observed', 300), ...shortLines(10, 'z')]],
  ];

  it.each(cases)('%s: within SPLIT_ROOM, every short line shown, each long line\'s cut said', (_, lines) => {
    const blocks = sections(lines.join('\n'));
    const texts = sectionTexts(blocks);
    expect(chars(texts)).toBeLessThanOrEqual(SPLIT_ROOM_CHARS);
    expect(blocks.length).toBeLessThanOrEqual(LIMIT.blocks - 10);
    expect(validateBlocks(blocks, 'message')).toEqual([]);
    for (const t of texts) expect(broken(t)).toBe(false);
    const joined = texts.join('\n');
    for (const l of lines) if (l.length <= LIMIT.sectionText) expect(joined).toContain(l);
    // what the pieces show, without the section breaks inside a line
    const flat = texts.join('');
    for (const l of lines) if (l.length > LIMIT.sectionText) expectLongLineSaid(flat, l);
    // a line's start is shown while there is room for it
    expect(flat).toContain(lines.find((l) => l.length > LIMIT.sectionText)!.slice(0, 2000));
  });

  it('two long lines each show their start, and the second is not dropped for the first', () => {
    const error = longLine('Error', 400);
    const observed = longLine('Observed', 400);
    const flat = sectionTexts(sections(['head', error, observed, 'what to do', '<@U0MIKA>'].join('\n'))).join('');
    expect(flat).toContain(error.slice(0, 2500));
    expect(flat).toContain(observed.slice(0, 2500));
    expect(flat.match(/more characters of this line not shown/g)).toHaveLength(2);
  });

  it('many short lines: as many as a message carries, in order, then how many more are not shown', () => {
    const lines = shortLines(3000);
    const texts = sectionTexts(sections(lines.join('\n')));
    expect(chars(texts)).toBeLessThanOrEqual(MAX_CHARS);
    expect(texts.length).toBeLessThanOrEqual(LIMIT.blocks - 10);
    const joined = texts.join('\n');
    const said = joined.match(/\n_… ([\d,]+) more lines not shown \(Slack's message size\)_$/);
    expect(said).not.toBeNull();
    const shown = joined.slice(0, said!.index).split('\n');
    expect(shown).toEqual(lines.slice(0, shown.length));
    expect(shown.length + count(said![1]!)).toBe(lines.length);
    // no line that fits is left out: the next one would not have
    expect(chars(texts) + lines[shown.length]!.length).toBeGreaterThan(MAX_CHARS - 100);
  });

  it('short lines a caller has fitted to a message itself (a status reply, a run\'s end) are all shown, as before', () => {
    const lines = shortLines(200);
    const text = lines.join('\n').slice(0, MAX_CHARS);
    expect(text.length).toBeGreaterThan(SPLIT_ROOM_CHARS);
    expect(sectionTexts(sections(text)).join('\n')).toBe(text);
  });

  it('a text within the room is shown whole, as before', () => {
    const lines = ['head', longLine('Error', 60), 'tail'];
    const texts = sectionTexts(sections(lines.join('\n')));
    expect(texts.join('').replace(/\n/g, '')).toBe(lines.join(''));
    expect(texts.join('\n')).not.toMatch(/not shown/);
  });
});

/** A failure whose error carries a long output and whose observed facts name hundreds of VMs. */
function failedRun() {
  // short items: its sections come close to Slack's 3,000 characters each
  const output = Array.from({ length: 3000 }, (_, i) => `pkg-${i} <old> & new`).join('; ');
  const observed = Array.from({ length: 3000 }, (_, i) => `vm-${i} <local> & gone`);
  const error = toStepError(new StepFailure(`preparing xs-a2 for the upgrade failed: ${output}`, { code: 'XENAPI_PLUGIN_FAILURE', params: ['main', 'Exception', output], observed }));
  const run = withSteps(makeRun({ state: 'failed' }), { 'xs-a2:upgrade': { state: 'failed', attempts: 1, error } });
  return { run, step: step(run, 'xs-a2:upgrade') };
}
const ACTIONS: RecoveryAction[] = ['retry', 'forget-rejoin', 'rollback-master', 'skip-host', 'abort'];

describe('a failure alert with a long error and a long observed line', () => {
  it('its blocks, buttons included, are within what Slack takes', () => {
    const { run, step: s } = failedRun();
    const m = failureMessage(run, s, ACTIONS, poolConfig());
    expect(blocksTextLength(m.blocks)).toBeLessThanOrEqual(LIMITS.messageBlocksText);
    const flat = sectionTexts(m.blocks).join('');
    expect(flat).toContain('*Error:* preparing xs-a2 for the upgrade failed: pkg-0 &lt;old&gt; &amp; new; pkg-1');
    expect(flat).toContain('*Observed:* vm-0 &lt;local&gt; &amp; gone; vm-1');
    expect(flat.match(/more characters of this line not shown/g)).toHaveLength(2);
    // what to do and who is asked are still there
    expect(flat).toContain('What you can do:');
    expect(flat).toContain('<!subteam^S0OPSLEADS>');
  });

  it('is posted in the thread with its five recovery buttons, no Slack call refused', async () => {
    const { run, step: s } = failedRun();
    const h = await startHarness();
    try {
      await h.slack.notifier.runStarted(run);
      await h.slack.notifier.stepFailed(run, s, ACTIONS);
      await h.slack.idle();
      expect(h.api.calls.filter((c) => c.outcome !== 'ok').map((c) => c.outcome)).toEqual([]);
      const alert = h.api.messages().find((m) => JSON.stringify(m.blocks ?? []).includes(ACTION.recoverRetry));
      expect(alert).toBeDefined();
      const blocks = JSON.stringify(alert!.blocks);
      for (const id of [ACTION.recoverRetry, ACTION.recoverForgetRejoin, ACTION.recoverRollbackMaster, ACTION.recoverSkipHost, ACTION.recoverAbort]) expect(blocks).toContain(id);
      expect(blocks).toContain('more characters of this line not shown');
    } finally {
      await h.stop();
    }
  });
});
