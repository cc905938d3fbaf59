/** A refusal for a click goes to the user where they clicked (issue 11 point 17): ephemeral, in the thread when the button was in one. */
import { ACTION, encodeButtonValue } from '../../../src/slack/blocks/ids';
import { fakeCore, Harness, startHarness } from '../helpers/harness';
import { CHANNEL, makeRun, OUTSIDER } from '../helpers/fixtures';

describe('refusals of a click', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  const run = makeRun({ state: 'awaiting-approval' });
  const value = encodeButtonValue({ runId: run.id, stepId: 'xs-a2:approval' });

  beforeEach(async () => {
    core = fakeCore(run);
    core.approve.mockResolvedValue({ ok: false, code: 'forbidden', error: '<@U0SAM> is not an approver of pool-a' });
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  const refusalsTo = (user: string) => h.api.messages(CHANNEL).filter((m) => m.ephemeralTo === user);

  it('a click on a button inside the run thread is refused in that thread, to that user only', async () => {
    const header = h.api.postAsUser('U0KENJI', CHANNEL, 'run header');
    const gate = h.api.postAsUser('U0KENJI', CHANNEL, 'approval request', { thread_ts: header.ts });
    await h.click(ACTION.approve, value, { user: OUTSIDER, messageTs: gate.ts, threadTs: header.ts });
    await h.slack.idle();
    const [refusal, ...more] = refusalsTo(OUTSIDER);
    expect(more).toEqual([]);
    expect(refusal.thread_ts).toBe(header.ts);
    expect(refusal.text).toContain('<@U0SAM> is not an approver of pool-a');
    expect(h.api.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(0);
  });

  it('a click on a message in the channel itself (a thread parent included) is refused in the channel', async () => {
    const header = h.api.postAsUser('U0KENJI', CHANNEL, 'run header');
    await h.click(ACTION.approve, value, { user: OUTSIDER, messageTs: header.ts, threadTs: header.ts });
    await h.slack.idle();
    const [refusal] = refusalsTo(OUTSIDER);
    expect(refusal.thread_ts).toBeUndefined();
  });
});
