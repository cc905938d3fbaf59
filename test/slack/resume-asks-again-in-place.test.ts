import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from './helpers/fixtures';
import { buttonValue, startSlackE2E, textOf, until, type SlackE2E } from './e2e/helpers';

jest.setTimeout(120_000);

let e: SlackE2E | undefined;
const planMessages = (env: SlackE2E) => env.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planReplan));
afterEach(async () => { await e?.close(); e = undefined; });

const message = (env: SlackE2E, ts: string) => env.api.messages(CHANNEL).find((m) => m.ts === ts)!;

/**
 * Hold (header) while a host waits at its gate, then Resume twice: the gate's approval request is asked again in
 * place, never posted anew. Before, each Resume posted another request; once the gate was approved through the
 * newest, the others still said "approval needed" with live buttons.
 */
describe('Hold then Resume (double click) at an approval gate', () => {
  it('leaves no approval request of an approved gate still asking for approval', async () => {
    e = await startSlackE2E({ target: '7.6' });
    await e.command('plan pool-a', { user: REQUESTER });
    const plan = await until('the plan message', () => planMessages(e!).find((m) => buttonValue(m, ACTION.planStart)));
    await e.click(ACTION.planStart, buttonValue(plan, ACTION.planStart)!, { user: REQUESTER, messageTs: plan.ts, blocks: plan.blocks });
    const header = await until('the run header', () => e!.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text)));
    const runId = header.text.split(' ')[0]!;
    const gateValue = (m: { blocks?: unknown[] }) => buttonValue(m as never, ACTION.approve);
    const first = await until('the approval request', () => e!.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && gateValue(m)));
    const gate = (JSON.parse(gateValue(first)!) as { stepId: string }).stepId;
    const requestsForGate = () => e!.api.messages(CHANNEL).filter((m) => m.thread_ts === header.ts && gateValue(m) && JSON.parse(gateValue(m)!).stepId === gate);

    // an approver holds the run from the header, then resumes it (a double click on Resume)
    const headerValue = JSON.stringify({ runId });
    await e.click(ACTION.runHold, headerValue, { user: APPROVER, messageTs: header.ts });
    for (let i = 0; i < 100 && (await e.store.getRun(runId))?.state !== 'paused'; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await e.store.getRun(runId))?.state).toBe('paused');
    await e.click(ACTION.runResume, headerValue, { user: APPROVER, messageTs: header.ts });
    await e.click(ACTION.runResume, headerValue, { user: APPROVER, messageTs: header.ts });
    for (let i = 0; i < 100 && (await e.store.getRun(runId))?.state !== 'awaiting-approval'; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 1500)); // let the outbox deliver what the clicks queued

    // the gate is approved through the newest request
    const newest = requestsForGate().at(-1)!;
    await e.click(ACTION.approve, gateValue(newest)!, { user: APPROVER, messageTs: newest.ts, threadTs: header.ts, blocks: newest.blocks });
    await until('the approval recorded on its message', () => /Approved by <@U0MIKA>/.test(textOf(message(e!, newest.ts))));
    expect((await e.store.getRun(runId))?.approvals).toEqual(expect.arrayContaining([expect.objectContaining({ stepId: gate, decision: 'approved' })]));

    // no message in the thread still asks for this (approved) gate with live buttons
    const stillAsking = requestsForGate().map((m) => m.ts);
    expect(stillAsking).toEqual([]);
  });
});
