import type { Actor } from '../../../src/domain/types';
import { ACTION } from '../../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from '../helpers/fixtures';
import { buttonValue, SlackE2E, startSlackE2E, textOf, until } from './helpers';

/**
 * Issue 10.4–10.6 as a user would meet them: signed slash commands and button clicks to the real Bolt receiver, the
 * real core and runner on the simulator, everything read back from the fake Slack Web API.
 */
jest.setTimeout(120_000);

const APPROVER_ACTOR: Actor = { userId: APPROVER, source: 'slack', channel: CHANNEL };
const ephemeral = (e: SlackE2E, user: string, re: RegExp) => e.api.messages().find((m) => m.ephemeralTo === user && re.test(textOf(m)));
const message = (e: SlackE2E, ts: string) => e.api.messages(CHANNEL).find((m) => m.ts === ts)!;
const planMessages = (e: SlackE2E) => e.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && /plan/i.test(m.text) && (buttonValue(m, ACTION.planReplan) || buttonValue(m, ACTION.planStart)));

async function postPlan(e: SlackE2E, count: number) {
  await e.command('plan pool-a', { user: REQUESTER });
  return until(`plan message ${count}`, () => {
    const plans = planMessages(e);
    return plans.length >= count && !!buttonValue(plans[count - 1]!, ACTION.planStart) && plans[count - 1];
  });
}

let e: SlackE2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

describe('a stale Start button starts nothing (issue 10.6)', () => {
  it('only the latest plan message starts, every plan message loses Start once a run starts, and a used plan never starts a second run', async () => {
    e = await startSlackE2E();
    const older = await postPlan(e, 1);
    const latest = await postPlan(e, 2);
    // same pool, same content: same hash; the plan messages are told apart by when they were made
    expect(JSON.parse(buttonValue(older, ACTION.planStart)!).planHash).toBe(JSON.parse(buttonValue(latest, ACTION.planStart)!).planHash);

    await e.click(ACTION.planStart, buttonValue(older, ACTION.planStart)!, { user: REQUESTER, messageTs: older.ts, blocks: older.blocks });
    await until('the refusal of the older plan', () => ephemeral(e!, REQUESTER, /not the latest plan of pool-a/));
    expect(await e.store.listRuns({ pool: 'pool-a' })).toEqual([]);

    // a run starts from the latest plan, and is paused and aborted before it changes anything on the pool
    const latestValue = JSON.parse(buttonValue(latest, ACTION.planStart)!) as { planHash: string; planAt: number };
    const started = await e.realCore.start('pool-a', { planHash: latestValue.planHash, planMadeAt: latestValue.planAt }, { userId: REQUESTER, source: 'slack', channel: CHANNEL });
    if (!started.ok) throw new Error(started.error);
    const runId = started.value.id;
    expect((await e.realCore.hold(runId, undefined, APPROVER_ACTOR)).ok).toBe(true);
    await e.realCore.whenIdle(runId);
    expect((await e.realCore.abort(runId, APPROVER_ACTOR)).ok).toBe(true);

    // both plan messages lost their Start button (through the outbox); Re-plan stays
    await until('every plan message without Start', () => [older, latest].every((m) => !buttonValue(message(e!, m.ts), ACTION.planStart)));
    expect(textOf(message(e, latest.ts))).toContain(`Started as run \`${runId}\` by <@${REQUESTER}>`);
    expect(textOf(message(e, older.ts))).toContain(`Start withdrawn: run \`${runId}\``);
    expect(buttonValue(message(e, older.ts), ACTION.planReplan)).toBeDefined();

    // the pool is as the plan saw it (nothing was changed), yet a click on the old button starts no second run
    await e.click(ACTION.planStart, buttonValue(latest, ACTION.planStart)!, { user: REQUESTER, messageTs: latest.ts, blocks: latest.blocks });
    await until('the refusal of a used plan', () => ephemeral(e!, REQUESTER, new RegExp(`was already started as run ${runId} \\(now aborted\\)`)));
    expect((await e.store.listRuns({ pool: 'pool-a' })).map((r) => r.id)).toEqual([runId]);
    const refusals = (await e.store.listAudit('pool:pool-a')).filter((a) => a.kind === 'refused').map((a) => a.message);
    expect(refusals).toEqual([expect.stringMatching(/not the latest plan/), expect.stringMatching(/already started as run/)]);

    // a new plan starts normally
    const fresh = await postPlan(e, 3);
    await e.click(ACTION.planStart, buttonValue(fresh, ACTION.planStart)!, { user: REQUESTER, messageTs: fresh.ts, blocks: fresh.blocks });
    const second = await until('the second run', () => e!.api.messages(CHANNEL).find((m) => !m.thread_ts && m.text.startsWith('pool-a-') && !m.text.startsWith(runId)));
    // a second run with its own id (the counter is per UTC day, so across midnight it is the next day's -1)
    const secondId = second.text.split(' ')[0]!;
    expect(secondId).toMatch(/^pool-a-\d{8}-\d+$/);
    expect((await e.store.listRuns({ pool: 'pool-a' })).map((r) => r.id).sort()).toEqual([runId, secondId].sort());
  });
});

describe('pause means paused (issue 10.5)', () => {
  it('Approve on the still-visible approval message of a paused run records the approval, says the run stays paused and shuts nothing down until Resume', async () => {
    e = await startSlackE2E();
    const plan = await postPlan(e, 1);
    await e.click(ACTION.planStart, buttonValue(plan, ACTION.planStart)!, { user: REQUESTER, messageTs: plan.ts, blocks: plan.blocks });
    const header = await until('the run header', () => e!.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text)));
    const runId = header.text.split(' ')[0]!;
    const approval = await until('the approval request', () => e!.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && buttonValue(m, ACTION.approve)));

    await e.command(`pause ${runId}`, { user: APPROVER });
    await until('the run paused', () => ephemeral(e!, APPROVER, new RegExp(`Run ${runId} will pause`)));
    expect((await e.store.getRun(runId))!.state).toBe('paused');

    await e.click(ACTION.approve, buttonValue(approval, ACTION.approve)!, { user: APPROVER, messageTs: approval.ts });
    await until('the approval recorded', () => /stays paused|is \*not\* rebooted/.test(textOf(message(e!, approval.ts))));
    expect(textOf(message(e, approval.ts))).toContain('Approved by <@U0MIKA>');
    // automatic mode: the host is rebooted into the installer once approved; not while the run is paused
    expect(textOf(message(e, approval.ts))).toContain(`is *not* rebooted until someone resumes the run (\`/xsupgrade resume ${runId}\``);
    const run = (await e.store.getRun(runId))!;
    expect(run.state).toBe('paused');
    expect(run.approvals).toEqual([expect.objectContaining({ stepId: 'xs-a1:approval', decision: 'approved', by: APPROVER })]);

    // simulated time passes (and a restart-like drive of the run changes nothing): no host goes down
    const later = e.clock.now() + 60 * 60_000;
    await until('an hour of simulated time', () => e!.clock.now() >= later);
    await e.realCore.recoverRuns();
    await e.realCore.whenIdle(runId);
    expect(e.sim.stats().shutdowns).toEqual({});
    expect((await e.store.getRun(runId))!.state).toBe('paused');

    // Resume: now the approved host goes ahead
    await e.command(`resume ${runId}`, { user: APPROVER });
    await until('xs-a1 shut down for its upgrade', () => (e!.sim.stats().shutdowns['xs-a1'] ?? 0) >= 1);
    await e.realCore.abort(runId, APPROVER_ACTOR);
  });
});

describe('who may schedule (issue 10.4)', () => {
  it('a channel member who is not an approver can neither schedule nor unschedule a window; an approver can', async () => {
    e = await startSlackE2E();
    await postPlan(e, 1);
    await e.command('schedule pool-a 2099-01-01T02:00Z until 4h', { user: REQUESTER });
    await until('the refusal', () => ephemeral(e!, REQUESTER, /U0KENJI>? is not an approver of pool pool-a: only they may schedule/));
    expect(await e.scheduler.list()).toEqual([]);

    await e.command('schedule pool-a 2099-01-01T02:00Z until 4h', { user: APPROVER });
    await until('the window', () => ephemeral(e!, APPROVER, /Window pool-a-w1 scheduled/));
    await e.command('unschedule pool-a-w1', { user: REQUESTER });
    await until('the unschedule refusal', () => ephemeral(e!, REQUESTER, /unschedule pool-a-w1 refused: (<@)?U0KENJI>? is not an approver/));
    expect((await e.scheduler.list()).map((s) => s.id)).toEqual(['pool-a-w1']);
    const refused = (await e.store.listAudit('pool:pool-a')).filter((a) => a.kind === 'refused');
    expect(refused.map((a) => a.actor)).toEqual([REQUESTER, REQUESTER]);
  });
});
