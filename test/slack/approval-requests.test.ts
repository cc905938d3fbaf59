/**
 * The approval request of a gate in the run's thread (slack-ux.md §3) on the real core, runner and simulator, driven
 * through the Slack app: it never keeps live buttons for a gate that is decided or a run that is over.
 */
import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from './helpers/fixtures';
import { buttonValue, startSlackE2E, textOf, until, type SlackE2E } from './e2e/helpers';

jest.setTimeout(120_000);

let e: SlackE2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

const message = (env: SlackE2E, ts: string) => env.api.messages(CHANNEL).find((m) => m.ts === ts)!;

/** /xsupgrade plan, Start, then the run's header and its first approval request. */
async function toFirstApprovalRequest(env: SlackE2E) {
  await env.command('plan pool-a', { user: REQUESTER });
  const plan = await until('the plan message', () => env.api.messages(CHANNEL).find((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planStart)));
  await env.click(ACTION.planStart, buttonValue(plan, ACTION.planStart)!, { user: REQUESTER, messageTs: plan.ts, blocks: plan.blocks });
  const header = await until('the run header', () => env.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text)));
  const approval = await until('the approval request', () => env.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && buttonValue(m, ACTION.approve)));
  return { header, runId: header.text.split(' ')[0]!, approval };
}

/**
 * Abort while a host waits at its approval gate: the approval request in the thread loses its Approve / Hold / Abort
 * buttons and says the run was aborted (slack-ux.md §3), like an approved or held gate's.
 */
describe('Abort from the approval message', () => {
  it('replaces the approval request and its buttons by "Run aborted" once the run is aborted', async () => {
    e = await startSlackE2E({ target: '7.6' });
    const { header, runId, approval } = await toFirstApprovalRequest(e);

    // the approver aborts the run with the approval message's own "Abort run" button
    await e.click(ACTION.approvalAbort, buttonValue(approval, ACTION.approvalAbort)!, { user: APPROVER, messageTs: approval.ts, threadTs: header.ts, blocks: approval.blocks });
    await until('the run aborted', () => e!.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && m.text === `${runId} · pool-a: aborted`));
    expect((await e.store.getRun(runId))?.state).toBe('aborted');
    expect((await e.store.getRun(runId))?.approvals).toEqual([expect.objectContaining({ decision: 'aborted', by: APPROVER })]);

    // every message queued before the summary was delivered (one ordered queue per channel): the approval request
    // must no longer ask for an approval nor offer its buttons
    const after = message(e, approval.ts);
    expect(buttonValue(after, ACTION.approve)).toBeUndefined();
    expect(textOf(after)).not.toMatch(/approval needed/);
    expect(textOf(after)).toMatch(/Run aborted by <@U0MIKA>/);
  });
});

/**
 * Hold (header) while a host waits at its gate, then Resume twice: the gate's approval request is asked again in
 * place, never posted anew. Before, each Resume posted another request; once the gate was approved through the
 * newest, the others still said "approval needed" with live buttons.
 */
describe('Hold then Resume (double click) at an approval gate', () => {
  it('leaves no approval request of an approved gate still asking for approval', async () => {
    e = await startSlackE2E({ target: '7.6' });
    const { header, runId, approval: first } = await toFirstApprovalRequest(e);
    const gateValue = (m: { blocks?: unknown[] }) => buttonValue(m as never, ACTION.approve);
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
