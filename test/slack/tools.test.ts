/**
 * The Tools follow-up in Slack (R5.1, R5.3; issue 15): `/xsupgrade tools <pool>` (any channel, to the asking user
 * only), the checklist message posted once in the run's thread and edited in place, and its Dismiss button
 * (approvers only, stale and duplicate clicks refused) — through the real Bolt app and the real follow-up service.
 */
import type { Run, ToolsFollowUp } from '../../src/domain/types';
import { openStore, type Store } from '../../src/store';
import { createToolsFollowUp, type ToolsService } from '../../src/tools/follow-up';
import { encodeButtonValue } from '../../src/slack/blocks/ids';
import { toolsChecklistMessage } from '../../src/slack/blocks/tools';
import { parseCommand } from '../../src/interface/grammar';
import { ephemeralsFor, fakeCore, Harness, startHarness } from './helpers/harness';
import { APPROVER, CHANNEL, makeRun, OUTSIDER, poolConfig, REQUESTER } from './helpers/fixtures';
import { InstantClock } from './helpers/clock';

function followUp(over: Partial<ToolsFollowUp> = {}): ToolsFollowUp {
  return {
    needed: '7.6.0',
    label: 'XenServer 7.6',
    openedAt: 1_000,
    checkedAt: 1_000,
    pending: [
      { vm: 'vm-web-1', uuid: 'u1', current: '7.1.0', needed: '7.6.0' },
      { vm: 'vm-web-2', uuid: 'u2', current: null, needed: '7.6.0' },
    ],
    done: ['vm-db-1'],
    version: 3,
    shownVersion: 3,
    ...over,
  };
}

describe('grammar: tools <pool>', () => {
  it('parses, validates the pool name, and refuses extra words', () => {
    expect(parseCommand('tools pool-a')).toEqual({ kind: 'command', command: { name: 'tools', pool: 'pool-a' } });
    expect(parseCommand('tools')).toMatchObject({ kind: 'error', message: 'tools needs a pool name', usage: 'Usage: /xsupgrade tools <pool>' });
    expect(parseCommand('tools Pool_A')).toMatchObject({ kind: 'error', message: expect.stringMatching(/^tools: pool: expected a pool name/) });
    expect(parseCommand('tools pool-a now')).toMatchObject({ kind: 'error', message: 'unexpected "now" after tools pool-a' });
    expect(parseCommand('help')).toMatchObject({ kind: 'help', text: expect.stringMatching(/tools <pool> +VMs whose XenServer Tools are below the final version/) });
  });
});

describe('checklist message states', () => {
  const text = (f: ToolsFollowUp) => {
    const m = toolsChecklistMessage(makeRun({ state: 'done', toolsFollowUp: f }), poolConfig());
    return { all: `${m.text}\n${JSON.stringify(m.blocks)}`, button: JSON.stringify(m.blocks).includes('tools_dismiss') };
  };
  it('open: rows and Dismiss; complete, dismissed, superseded or held (R5.3): no rows, no button', () => {
    expect(text(followUp())).toMatchObject({ button: true, all: expect.stringContaining('vm-web-1') });
    for (const f of [followUp({ pending: [] }), followUp({ dismissed: { by: APPROVER, at: 2 } }), followUp({ supersededBy: 'pool-a-20261126-1' }), followUp({ note: 'Tools advice waits until every host runs 7.6 (R5.3): xs-a3 still runs 7.1.1' })]) {
      const t = text(f);
      expect(t.button).toBe(false);
      expect(t.all).not.toContain('vm-web-1');
    }
    expect(text(followUp({ supersededBy: 'pool-a-20261126-1' })).all).toMatch(/no longer followed: run pool-a-20261126-1 started on this pool since/);
    expect(text(followUp({ note: 'Tools advice waits until every host runs 7.6 (R5.3): xs-a3 still runs 7.1.1' })).all).toMatch(/Tools advice waits \(R5\.3\)/);
    expect(text(followUp({ pending: [] })).all).toMatch(/complete: every listed VM reports Tools 7\.6 or newer \(1 VM upgraded\)/);
  });
});

describe('/xsupgrade tools and the checklist message', () => {
  let h: Harness;
  let store: Store;
  let tools: ToolsService;
  let core: ReturnType<typeof fakeCore>;
  const clock = new InstantClock();
  let run: Run;

  beforeEach(async () => {
    store = await openStore({ path: ':memory:', clock });
    run = makeRun({ state: 'done', toolsFollowUp: followUp() });
    await store.createRun(run);
    core = fakeCore(run);
    core.getRun.mockImplementation((id: string) => store.getRun(id));
    const said: string[] = [];
    tools = createToolsFollowUp({
      store,
      clock,
      pools: [poolConfig()],
      // the Slack notifier of the app started below (set once it exists)
      notifier: { toolsChecklist: (r, first) => h.slack.notifier.toolsChecklist(r, first), runEvent: async (_r, t) => void said.push(t) },
      client: () => undefined,
    });
    h = await startHarness({ core, deps: { tools }, clock });
  });
  afterEach(async () => {
    await h.stop();
    await store.close();
  });

  it('`tools <pool>` answers the asking user from any channel; unknown pool and the R5.3 refusal are said clearly', async () => {
    const show = jest.spyOn(tools, 'show');
    show.mockResolvedValueOnce({ ok: true, value: { pool: 'pool-a', needed: '7.6.0', label: 'XenServer 7.6', pending: followUp().pending, runId: run.id, followUp: followUp() } });
    await h.command('tools pool-a', { user: OUTSIDER, channel: 'C0RANDOM' });
    await h.slack.idle();
    const [reply] = ephemeralsFor(h.api, OUTSIDER);
    expect(reply).toMatch(/pool-a: 2 VM\(s\) with Tools below 7\.6\.0/);
    expect(reply).toContain('vm-web-1');
    expect(reply).toContain('Followed in the thread of run pool-a-20261125-1');
    expect(h.api.messages(CHANNEL).filter((m) => !m.ephemeralTo)).toHaveLength(0); // nothing posted for everyone

    await h.command('tools pool-zz', { user: OUTSIDER, channel: 'C0RANDOM' });
    await h.slack.idle();
    expect(ephemeralsFor(h.api, OUTSIDER)[1]).toMatch(/There is no pool "pool-zz" \(configured: pool-a\)/);
    expect(show).toHaveBeenCalledTimes(1);

    show.mockResolvedValueOnce({ ok: false, code: 'blocked', error: 'Tools advice waits until every host runs 7.6 (R5.3): xs-a3 still runs 7.1.1' });
    await h.command('tools pool-a', { user: OUTSIDER });
    await h.slack.idle();
    const refused = ephemeralsFor(h.api, OUTSIDER)[2];
    expect(refused).toContain('Tools advice waits until every host runs 7.6 (R5.3): xs-a3 still runs 7.1.1');
    expect(refused).not.toContain('vm-web-1');
  });

  it('the checklist is posted once in the run thread and edited in place; Dismiss removes the button', async () => {
    await h.slack.notifier.toolsChecklist(run, true);
    await h.slack.idle();
    const posted = h.api.messages(CHANNEL).filter((m) => m.text.includes('XenServer Tools checklist'));
    expect(posted).toHaveLength(1);
    const header = h.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo)!;
    expect(posted[0].thread_ts).toBe(header.ts);
    const blocks = JSON.stringify(posted[0].blocks);
    expect(blocks).toContain('tools_dismiss');
    expect(blocks).toContain('vm-web-2');
    expect(blocks).toContain('no version reported');

    // an approver dismisses from the current message
    const value = encodeButtonValue({ runId: run.id, stepId: 'tools-v3' });
    await h.click('tools_dismiss', value, { user: APPROVER, messageTs: posted[0].ts, threadTs: header.ts });
    await h.slack.idle();
    expect((await store.getRun(run.id))!.toolsFollowUp!.dismissed).toMatchObject({ by: APPROVER });
    const updates = h.api.calls.filter((c) => c.method === 'chat.update' && (c.args as { ts?: string }).ts === posted[0].ts);
    expect(updates).toHaveLength(1);
    const edited = h.api.messages(CHANNEL).filter((m) => m.text.includes('XenServer Tools checklist'));
    expect(edited).toHaveLength(1); // the same message, edited: no second post
    expect(JSON.stringify(edited[0].blocks)).not.toContain('tools_dismiss');
    expect(JSON.stringify(edited[0].blocks)).toContain('dismissed by');

    // the same click again: refused, nothing changes
    await h.click('tools_dismiss', value, { user: APPROVER, messageTs: posted[0].ts });
    await h.slack.idle();
    expect(ephemeralsFor(h.api, APPROVER).join('\n')).toMatch(/already dismissed by <@U0MIKA>/);
  });

  it('Dismiss: a non-approver, the requester without approver rights, another channel, an older message and a forged value are refused', async () => {
    const current = encodeButtonValue({ runId: run.id, stepId: 'tools-v3' });
    await h.click('tools_dismiss', current, { user: OUTSIDER });
    await h.click('tools_dismiss', current, { user: REQUESTER });
    await h.click('tools_dismiss', current, { user: APPROVER, channel: 'C0RANDOM' });
    await h.click('tools_dismiss', encodeButtonValue({ runId: run.id, stepId: 'tools-v2' }), { user: APPROVER });
    await h.click('tools_dismiss', encodeButtonValue({ runId: run.id, stepId: 'xs-a1:approval' }), { user: APPROVER });
    await h.slack.idle();
    expect((await store.getRun(run.id))!.toolsFollowUp!.dismissed).toBeUndefined();
    expect(ephemeralsFor(h.api, OUTSIDER).join('\n')).toMatch(/not an approver of pool pool-a/);
    expect(ephemeralsFor(h.api, REQUESTER).join('\n')).toMatch(/not an approver of pool pool-a/);
    const approver = ephemeralsFor(h.api, APPROVER).join('\n');
    expect(approver).toMatch(/operated from .* only/);
    expect(approver).toMatch(/changed since this message/);
    expect(approver).toMatch(/not made by this bot/);
    // every refusal is audited (in the store by the follow-up, or by the Slack layer)
    const audited = (await store.listAudit(run.id)).filter((e) => e.kind === 'refused').length + h.audits.filter((e) => e.kind === 'refused').length;
    expect(audited).toBe(5);
  });
});

describe('the end-of-run message promises the checklist only from an app that runs the follow-up (R5.1)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  const doneRun = (): Run => ({ ...makeRun(), state: 'done', endedAt: Date.UTC(2026, 10, 25, 4, 0), plan: { ...makeRun().plan, hosts: makeRun().plan.hosts.map((x) => ({ ...x, alreadyDone: true })) } });

  async function summaryWith(tools: boolean): Promise<string> {
    const port = { show: jest.fn(), dismiss: jest.fn() };
    h = await startHarness(tools ? { deps: { tools: port } } : {});
    await h.slack.notifier.runFinished(doneRun());
    await h.slack.idle();
    return JSON.stringify(h.api.messages(CHANNEL).map((m) => m.blocks));
  }

  it('`xsupgrade serve` (the app has the Tools follow-up): the checklist follows in this thread', async () => {
    expect(await summaryWith(true)).toMatch(/Next \(R5\.1\): upgrade XenServer Tools in 2 VMs: `vm-web-1`, `vm-web-2` → the Tools checklist in this thread follows them/);
  });

  it('an app without the follow-up says none follows and who keeps it', async () => {
    const text = await summaryWith(false);
    expect(text).toMatch(/Next \(R5\.1\): upgrade XenServer Tools in 2 VMs/);
    expect(text).not.toMatch(/checklist in this thread/);
    expect(text).toMatch(/no Tools checklist follows: this bot runs without the Tools follow-up \(`xsupgrade serve` keeps it\)/);
  });
});
