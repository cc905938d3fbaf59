/**
 * A double click on Retry. The second click of a double click comes from the same rendered alert (same
 * {runId, stepId} value). When the retried step fails again before that second click is handled (a wait-host retry
 * on a host already back on its old version fails at once), the second click must be refused — not retry a new
 * failure the operator has not seen. (With two concurrent clicks this reproduced by itself in 3 of 3 runs; the test
 * below orders them explicitly so that it does not depend on timing.)
 */
import type { Actor } from '../../src/domain/types';
import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from './helpers/fixtures';
import { buttonValue, SlackE2E, startSlackE2E, textOf, until } from './e2e/helpers';

jest.setTimeout(180_000);
const APPROVER_ACTOR: Actor = { userId: APPROVER, source: 'slack', channel: CHANNEL };
const REQUESTER_ACTOR: Actor = { userId: REQUESTER, source: 'slack', channel: CHANNEL };

let e: SlackE2E | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

describe('double click on Retry', () => {
  it('the second click, handled after the retried step failed again, is refused and changes nothing', async () => {
    e = await startSlackE2E({ faults: [{ kind: 'install-fails', host: 'xs-a1', when: 'before', times: 1 } as never] });
    const plan = await e.realCore.plan('pool-a', {}, REQUESTER_ACTOR);
    if (!plan.ok) throw new Error(plan.error);
    const started = await e.realCore.start('pool-a', { planHash: plan.value.id, planMadeAt: plan.value.createdAt }, REQUESTER_ACTOR);
    if (!started.ok) throw new Error(started.error);
    const runId = started.value.id;
    // approve gates until xs-a1's wait-host fails
    for (let run = (await e.store.getRun(runId))!; run.state !== 'failed'; run = (await e.store.getRun(runId))!) {
      const gate = run.steps.find((s) => s.state === 'awaiting-approval');
      if (run.state === 'awaiting-approval' && gate) await e.realCore.approve(runId, gate.id, APPROVER_ACTOR);
      await new Promise((r) => setTimeout(r, 20));
    }
    const alert = await until('the failure alert', () => e!.api.messages(CHANNEL).find((m) => !m.ephemeralTo && buttonValue(m, ACTION.recoverRetry)));
    expect(textOf(alert)).toContain('xs-a1');
    const value = buttonValue(alert, ACTION.recoverRetry)!;

    // first click
    await e.click(ACTION.recoverRetry, value, { user: APPROVER, messageTs: alert.ts, blocks: alert.blocks });
    // the retried wait fails again at once (xs-a1 is up on its old version): attempt 2, a new alert
    await until('attempt 2 failed', () => e!.api.messages(CHANNEL).some((m) => m.ts !== alert.ts && !m.ephemeralTo && buttonValue(m, ACTION.recoverRetry) && /attempt 2/.test(textOf(m))));
    const before = (await e.store.getRun(runId))!;
    const step = before.steps.find((s) => s.state === 'failed')!;
    expect(step).toMatchObject({ id: 'xs-a1:wait-host', attempts: 2 });

    // second click of the double click: same alert, same value
    await e.click(ACTION.recoverRetry, value, { user: APPROVER, messageTs: alert.ts, blocks: alert.blocks });
    await new Promise((r) => setTimeout(r, 1500));

    const after = (await e.store.getRun(runId))!;
    const retries = (await e.store.listAudit(runId)).filter((a) => a.kind === 'recovery' && /^retry on/.test(a.message));
    expect(retries).toHaveLength(1);
    expect(after.steps.find((s) => s.id === 'xs-a1:wait-host')).toMatchObject({ state: 'failed', attempts: 2 });
    expect(e.api.messages().some((m) => m.ephemeralTo === APPROVER)).toBe(true);
  });
});
