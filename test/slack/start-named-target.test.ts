import { ACTION } from '../../src/slack/blocks/ids';
import { CHANNEL, REQUESTER } from './helpers/fixtures';
import { buttonValue, startSlackE2E, textOf, until, type SlackE2E } from './e2e/helpers';

jest.setTimeout(120_000);

let e: SlackE2E | undefined;
const planMessages = (env: SlackE2E) => env.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planReplan));
afterEach(async () => { await e?.close(); e = undefined; });


/**
 * `/xsupgrade plan <pool> <target>` posts a plan with a Start button for that target. The start re-makes the plan
 * from the live pool towards the target of the plan being started (not the pools file's), so an unchanged pool is
 * started, and the plan the operator saw stays the pool's latest.
 */
describe('Start of a plan made for an explicit target', () => {
  it('starts the plan shown when the pool has not changed, instead of claiming the pool changed and replacing the latest plan', async () => {
    // the pools file aims at 8.2.1 (blocked from 7.1.1, R1.2); the operator plans the step that is possible: 7.6
    e = await startSlackE2E({ target: '8.2.1' });
    await e.command('plan pool-a 7.6', { user: REQUESTER });
    const shown = await until('the 7.6 plan message', () => planMessages(e!).find((m) => buttonValue(m, ACTION.planStart)));
    const value = JSON.parse(buttonValue(shown, ACTION.planStart)!) as { planHash: string; planAt: number };
    expect(textOf(shown)).toContain('XenServer 7.6');

    await e.click(ACTION.planStart, buttonValue(shown, ACTION.planStart)!, { user: REQUESTER, messageTs: shown.ts, blocks: shown.blocks });
    const decided = await until('a run or a refusal', () =>
      e!.api.messages().find((m) => (m.ephemeralTo === REQUESTER && /Start pool-a/.test(textOf(m))) || (!m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text))),
    );
    // nothing changed on the pool between the plan and the click: no "changed since plan" (untrue), a run instead
    expect(textOf(decided)).not.toMatch(/changed since plan/);
    expect((await e.store.listRuns({ pool: 'pool-a' })).map((r) => r.planHash)).toEqual([value.planHash]);
    // and the plan the operator saw is still the pool's latest (not silently replaced by one nobody was shown)
    expect((await e.store.getLatestPlan('pool-a'))?.id).toBe(value.planHash);
  });
});
