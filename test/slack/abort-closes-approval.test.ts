import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from './helpers/fixtures';
import { buttonValue, startSlackE2E, textOf, until, type SlackE2E } from './e2e/helpers';

jest.setTimeout(120_000);

let e: SlackE2E | undefined;
const planMessages = (env: SlackE2E) => env.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planReplan));
afterEach(async () => { await e?.close(); e = undefined; });

const message = (env: SlackE2E, ts: string) => env.api.messages(CHANNEL).find((m) => m.ts === ts)!;

/**
 * Abort while a host waits at its approval gate: the approval request in the thread loses its Approve / Hold / Abort
 * buttons and says the run was aborted (slack-ux.md §3), like an approved or held gate's.
 */
describe('Abort from the approval message', () => {
  it('replaces the approval request and its buttons by "Run aborted" once the run is aborted', async () => {
    e = await startSlackE2E({ target: '7.6' });
    await e.command('plan pool-a', { user: REQUESTER });
    const plan = await until('the plan message', () => planMessages(e!).find((m) => buttonValue(m, ACTION.planStart)));
    await e.click(ACTION.planStart, buttonValue(plan, ACTION.planStart)!, { user: REQUESTER, messageTs: plan.ts, blocks: plan.blocks });
    const header = await until('the run header', () => e!.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text)));
    const runId = header.text.split(' ')[0]!;
    const approval = await until('the approval request', () => e!.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && buttonValue(m, ACTION.approve)));

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
