/**
 * `/xsupgrade status <run>` of an aborted run on a large pool: its outcome carries the abort's report, a line per host
 * and per VM (src/runner/report.ts). The reply must stay within what Slack accepts (3000 characters a section, 50
 * blocks, ~12k characters a message), show the outcome's first line and the report's head in a code block, say where
 * the report is cut, and send the rest as follow-up messages to the same user: nothing dropped unsaid.
 */
import type { Run } from '../../src/domain/types';
import { esc, LIMIT, MAX_CHARS, messageChars, type SlackMessage } from '../../src/slack/blocks/common';
import { runDetailReply } from '../../src/slack/blocks/replies';
import { LIMITS, validateBlocks } from '../../src/sandbox/block-kit-limits';
import { ephemeralsFor, fakeCore, Harness, startHarness } from './helpers/harness';
import { APPROVER, CHANNEL, makeRun, REQUESTER, withSteps } from './helpers/fixtures';

const VMS = 500;
const vmLine = (i: number) => `  vm-${String(i).padStart(3, '0')}: Running on xs-${String((i % 16) + 1).padStart(2, '0')}`;

/** An abort's report as runReport writes it: the steps, every host, every VM. */
function report(): string[] {
  return [
    'steps: 20/130 done; stopped at xs-03:evacuate (failed)',
    'hosts:',
    ...Array.from({ length: 16 }, (_, i) => `  xs-${String(i + 1).padStart(2, '0')}: enabled, 8.2.1, live`),
    'VMs:',
    ...Array.from({ length: VMS }, (_, i) => vmLine(i + 1)),
  ];
}

function abortedRun(first = `aborted by <@${APPROVER}>; still changed: xs-03 disabled`): Run {
  const run = withSteps(makeRun({ state: 'aborted', slack: { channel: CHANNEL, headerTs: '1732500000.000100' } }), {
    'xs-a1:*': { state: 'done' },
    'xs-a2:disable': { state: 'done' },
    'xs-a2:evacuate': { state: 'failed', error: { message: 'interrupted: run aborted by <@U0MIKA>' } },
  });
  return { ...run, endedAt: run.createdAt + 3_600_000, outcome: [first, ...report()].join('\n') };
}

/** An abort's outcome of a few lines: shown whole. */
const shortRun = (): Run => ({ ...abortedRun(), outcome: `aborted by <@${APPROVER}>; nothing left changed\nsteps: 20/130 done\nhosts:\n  xs-01: enabled` });

/** Every limit Slack checks on a posted message (the fake Web API refuses the same). */
function expectWithinSlackLimits(m: SlackMessage): void {
  expect(m.blocks.length).toBeLessThanOrEqual(LIMIT.blocks);
  expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
  expect(validateBlocks(m.blocks, 'message')).toEqual([]);
  expect(m.text.length).toBeLessThanOrEqual(LIMITS.messageText);
}

const all = (ms: SlackMessage[]) => ms.map((m) => JSON.stringify(m.blocks)).join('\n');
/** a line as it appears in a block, JSON-encoded like the blocks above */
const asInBlocks = (line: string) => JSON.stringify(esc(line)).slice(1, -1);

describe('status <run> of an aborted run with a 500-VM report', () => {
  it('the reply and each follow-up are within Slack limits; the cut is said; every report line is in one of them', () => {
    const reply = runDetailReply(abortedRun(), 'UTC', 'https://slack.example/thread');
    expectWithinSlackLimits(reply);
    expect(reply.followUps.length).toBeGreaterThan(0);
    const messages = [reply, ...reply.followUps];
    for (const m of messages) expectWithinSlackLimits(m);

    const head = JSON.stringify(reply.blocks);
    // the first line, its mention rendered (not in a code span), in italics on one line
    expect(head).toContain(`_aborted by <@${APPROVER}>; still changed: xs-03 disabled_`);
    // the report's head in a code block
    expect(head).toContain('```steps: 20/130 done; stopped at xs-03:evacuate (failed)\\nhosts:');
    // the cut, said with where the rest is
    expect(head).toMatch(new RegExp(`cut here.*follows in ${reply.followUps.length} more message`));
    // the steps are still listed
    expect(head).toContain('`xs-a2:evacuate` failed');

    const text = all(messages);
    for (const line of report()) expect(text).toContain(asInBlocks(line));
    // the follow-ups say what they are and whose run
    for (const m of reply.followUps) expect(m.text).toContain('pool-a-20261125-1');
  });

  it('no italics around a multi-line text', () => {
    for (const run of [shortRun(), abortedRun()]) {
      const reply = runDetailReply(run, 'UTC');
      for (const m of [reply, ...(reply.followUps ?? [])])
        for (const b of m.blocks) {
          const t = b.type === 'section' ? (b.text?.text ?? '') : '';
          for (const italic of t.match(/(?<=^|\s)_[^_`]+_(?=\s|$)/g) ?? []) expect(italic).not.toContain('\n');
        }
    }
  });

  it('a first line of thousands of characters (every changed VM) is cut too, said, and sent whole after', () => {
    const changed = Array.from({ length: 300 }, (_, i) => `vm-${String(i + 1).padStart(3, '0')} stopped by the run, not running`);
    const first = `aborted by <@${APPROVER}>; still changed: ${changed.join('; ')}`;
    const reply = runDetailReply(abortedRun(first), 'UTC');
    expectWithinSlackLimits(reply);
    const messages = [reply, ...reply.followUps];
    for (const m of messages) expectWithinSlackLimits(m);
    expect(JSON.stringify(reply.blocks)).toMatch(/cut here/);
    const text = all(messages);
    for (const c of changed) expect(text).toContain(c);
    for (const line of report()) expect(text).toContain(asInBlocks(line));
  });

  it('a short outcome is shown whole in the one reply, nothing said cut', () => {
    const reply = runDetailReply(shortRun(), 'UTC');
    const head = JSON.stringify(reply.blocks);
    expect(head).toContain(`_aborted by <@${APPROVER}>; nothing left changed_`);
    expect(head).toContain('```steps: 20/130 done\\nhosts:\\n  xs-01: enabled```');
    expect(head).not.toMatch(/cut here/);
    expect(reply.followUps).toEqual([]);
  });
});

describe('/xsupgrade status <run> with a 500-VM report, through Slack', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('the user gets the reply with its blocks and the rest of the report after it, in order', async () => {
    const run = abortedRun();
    h = await startHarness({ core: fakeCore(run) });
    await h.command(`status ${run.id}`);
    await h.slack.idle();
    const said = h.api.messages().filter((m) => m.ephemeralTo === REQUESTER);
    // none refused by Slack and sent as its bare fallback text
    for (const m of said) expect(m.blocks?.length).toBeGreaterThan(0);
    const expected = runDetailReply(run, 'UTC', 'x');
    expect(said.length).toBe(1 + expected.followUps.length);
    expect(said[0]!.text).toBe(expected.text);
    const text = ephemeralsFor(h.api, REQUESTER).join('\n');
    expect(text).toContain(asInBlocks(vmLine(1)));
    expect(text).toContain(asInBlocks(vmLine(VMS)));
    expect(text.indexOf(asInBlocks(vmLine(1)))).toBeLessThan(text.indexOf(asInBlocks(vmLine(VMS))));
  });
});
