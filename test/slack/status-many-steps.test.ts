/**
 * `/xsupgrade status <run>` of a run with hundreds of steps to act on or watch (a large pool whose run failed with
 * many hosts' steps failed, or many awaiting approval), each with a long note: the reply must stay within what Slack
 * accepts (50 blocks, 3000 characters a section, ~12k characters a message), show the steps that fit, say how many
 * lines it left out, and send the rest as follow-up messages to the same user: no step dropped unsaid.
 */
import type { Run, StepRecord, StepState } from '../../src/domain/types';
import { LIMIT, MAX_CHARS, messageChars, type SlackMessage } from '../../src/slack/blocks/common';
import { runDetailReply } from '../../src/slack/blocks/replies';
import { LIMITS, validateBlocks } from '../../src/sandbox/block-kit-limits';
import { fakeCore, Harness, startHarness } from './helpers/harness';
import { CHANNEL, makeRun, REQUESTER } from './helpers/fixtures';

const HOSTS = 25;
const KINDS = ['disable', 'evacuate', 'approval', 'stop-vms', 'upgrade', 'wait-host', 'enable', 'restore-vms'] as const;

/** A long note, unique to its step. */
const noteOf = (id: string) => `${id}: VM.pool_migrate of vm-${id} failed: VM_MIGRATE_FAILED (the remote host refused the migration: not enough free memory on the destination, 2048 MiB needed, 1024 MiB free)`;

/** A run of HOSTS hosts × 8 steps (200), every one in `state` with a long note (an error when failed). */
function manyStepsRun(state: StepState): Run {
  const base = makeRun({ state: state === 'failed' ? 'failed' : 'running', slack: { channel: CHANNEL, headerTs: '1732500000.000100' } });
  const steps: StepRecord[] = Array.from({ length: HOSTS }, (_, h) => `xs-${String(h + 1).padStart(3, '0')}`).flatMap((host) =>
    KINDS.map((kind): StepRecord => {
      const id = `${host}:${kind}`;
      return state === 'failed'
        ? { id, kind, host: `OpaqueRef:${host}`, hostName: host, state, attempts: 1, error: { message: noteOf(id) } }
        : { id, kind, host: `OpaqueRef:${host}`, hostName: host, state, attempts: 1, data: { note: noteOf(id) } };
    }),
  );
  return { ...base, steps };
}

/** Every limit Slack checks on a posted message (the fake Web API refuses the same). */
function expectWithinSlackLimits(m: SlackMessage): void {
  expect(m.blocks.length).toBeLessThanOrEqual(LIMIT.blocks);
  expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
  expect(validateBlocks(m.blocks, 'message')).toEqual([]);
  expect(m.text.length).toBeLessThanOrEqual(LIMITS.messageText);
}

/** The text of every section and context block of a message. */
const texts = (m: SlackMessage): string[] =>
  m.blocks.flatMap((b) => (b.type === 'section' ? [b.text?.text ?? ''] : b.type === 'context' ? b.elements.map((e) => ('text' in e ? e.text : '')) : []));
const linesOf = (m: SlackMessage): string[] => texts(m).flatMap((t) => t.split('\n'));

describe.each<StepState>(['failed', 'awaiting-approval', 'running'])('status <run> of a run with 200 steps %s, each with a long note', (state) => {
  it('the reply and each follow-up are within Slack limits; what is left out is counted; every step is in one of them', () => {
    const run = manyStepsRun(state);
    const reply = runDetailReply(run, 'UTC', 'https://slack.example/thread');
    const messages = [reply, ...reply.followUps];
    for (const m of messages) expectWithinSlackLimits(m);
    expect(reply.followUps.length).toBeGreaterThan(0);

    // the reply says how many lines it left out and in how many messages they follow
    const replyText = texts(reply).join('\n');
    const said = replyText.match(/… (\d+) more line\(s\) not shown \(Slack's message size\).*they follow in (\d+) more messages? to you/);
    expect(said).not.toBeNull();
    const shown = run.steps.filter((s) => linesOf(reply).some((l) => l.includes(`\`${s.id}\``)));
    expect(shown.length).toBeGreaterThan(0);
    expect(Number(said![1])).toBe(run.steps.length - shown.length);
    expect(Number(said![2])).toBe(reply.followUps.length);
    // the first steps are the ones shown, in order
    expect(shown.map((s) => s.id)).toEqual(run.steps.slice(0, shown.length).map((s) => s.id));

    // every step, with its whole note, in exactly one message: the reply or a follow-up
    const all = messages.flatMap(linesOf);
    for (const s of run.steps) expect(all.filter((l) => l.includes(`\`${s.id}\` ${state}`) && l.includes(noteOf(s.id)))).toHaveLength(1);
    // the follow-ups say what they are and whose run
    for (const m of reply.followUps) {
      expect(m.text).toContain(run.id);
      expect(texts(m)[0]).toMatch(/^\*Steps \(continued\)\*/);
    }
  });
});

describe('status <run> with a step whose note is longer than a section', () => {
  it('the note is not cut: the step follows whole (split over lines) after the reply, and the reply says so', () => {
    const run = manyStepsRun('failed');
    const words = Array.from({ length: 600 }, (_, i) => `vm-${String(i + 1).padStart(4, '0')}`);
    run.steps = [{ ...run.steps[0]!, error: { message: `could not migrate ${words.join(', ')}` } }, ...run.steps.slice(1, 3)];
    const reply = runDetailReply(run, 'UTC');
    const messages = [reply, ...reply.followUps];
    for (const m of messages) expectWithinSlackLimits(m);
    expect(texts(reply).join('\n')).toMatch(/… 1 more line\(s\) not shown .*they follow in 1 more message to you/);
    const all = messages.flatMap(texts).join('\n');
    for (const w of words) expect(all).toContain(w);
    // the two short steps stay in the reply
    expect(texts(reply).join('\n')).toContain('`xs-001:evacuate` failed');
    expect(texts(reply).join('\n')).toContain('`xs-001:approval` failed');
  });
});

describe('/xsupgrade status <run> of a run with 200 failed steps, through Slack', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('the user gets the reply with its blocks and every step after it, none refused by Slack', async () => {
    const run = manyStepsRun('failed');
    h = await startHarness({ core: fakeCore(run) });
    await h.command(`status ${run.id}`);
    await h.slack.idle();
    const said = h.api.messages().filter((m) => m.ephemeralTo === REQUESTER);
    // none refused by Slack and sent as its bare fallback text
    for (const m of said) expect(m.blocks?.length).toBeGreaterThan(0);
    const expected = runDetailReply(run, 'UTC', 'x');
    expect(said.length).toBe(1 + expected.followUps.length);
    expect(said[0]!.text).toBe(expected.text);
    const text = said.map((m) => JSON.stringify(m.blocks)).join('\n');
    const first = text.indexOf('`xs-001:disable`');
    const last = text.indexOf(`\`xs-${String(HOSTS).padStart(3, '0')}:restore-vms\``);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(last).toBeGreaterThan(first);
  });
});
