import { ACTION, encodeButtonValue } from '../../../src/slack/blocks/ids';
import { ephemeralsFor, fakeCore, Harness, startHarness } from '../helpers/harness';
import { APPROVER, CHANNEL, makeRun, OUTSIDER, REQUESTER, step, withSteps } from '../helpers/fixtures';

const RUN_ID = 'pool-a-20261125-1';
const runValue = (stepId?: string) => encodeButtonValue(stepId ? { runId: RUN_ID, stepId } : { runId: RUN_ID });

describe('buttons through the real Bolt app', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  const failed = withSteps(makeRun({ state: 'failed' }), {
    'xs-a1:*': { state: 'done' },
    'xs-a3:wait-host': { state: 'failed', attempts: 1, error: { message: 'xs-a3 did not come back within 60 min', code: 'HOST_OFFLINE', params: ['OpaqueRef:xs-a3'], observed: ['host_metrics.live = false since 03:40'] } },
  });

  beforeEach(async () => {
    core = fakeCore(failed);
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  it('acks a click with an empty 200 and approves through Core with the approver as actor', async () => {
    const res = await h.click(ACTION.approve, runValue('xs-a2:approval'));
    expect(res).toEqual({ status: 200, text: '' });
    await h.slack.idle();
    expect(core.approve).toHaveBeenCalledWith(RUN_ID, 'xs-a2:approval', { userId: APPROVER, source: 'slack', groups: ['S0OPSLEADS'], channel: CHANNEL });
  });

  it.each([
    [ACTION.approvalHold, 'hold', [RUN_ID, 'xs-a2:approval']],
    [ACTION.runHold, 'hold', [RUN_ID, undefined]],
    [ACTION.runResume, 'resume', [RUN_ID]],
    [ACTION.runAbort, 'abort', [RUN_ID]],
    [ACTION.approvalAbort, 'abort', [RUN_ID]],
    [ACTION.runRestore, 'restore', [RUN_ID]],
  ] as const)('%s calls core.%s', async (actionId, method, args) => {
    await h.click(actionId, runValue('xs-a2:approval'));
    await h.slack.idle();
    expect(core[method]).toHaveBeenCalledWith(...args, expect.objectContaining({ userId: APPROVER }));
  });

  it('surfaces Core refusals (non-approver, self-approval, stale click) ephemerally; Core audits them', async () => {
    core.approve
      .mockResolvedValueOnce({ ok: false, code: 'forbidden', error: '<@U0SAM> is not an approver of pool-a' })
      .mockResolvedValueOnce({ ok: false, code: 'forbidden', error: 'you requested this run and cannot approve it yourself' })
      .mockResolvedValueOnce({ ok: false, code: 'conflict', error: 'step xs-a2:approval was already approved by <@U0MIKA> at 03:02' });
    await h.click(ACTION.approve, runValue('xs-a2:approval'), { user: OUTSIDER });
    await h.click(ACTION.approve, runValue('xs-a2:approval'), { user: REQUESTER });
    await h.click(ACTION.approve, runValue('xs-a2:approval'), { user: APPROVER });
    await h.slack.idle();
    expect(core.approve).toHaveBeenCalledTimes(3);
    expect(ephemeralsFor(h.api, OUTSIDER).join()).toContain('Not allowed: <@U0SAM> is not an approver of pool-a'); // a mention, never escaped or raw
    expect(ephemeralsFor(h.api, REQUESTER).join()).toContain('cannot approve it yourself');
    expect(ephemeralsFor(h.api, APPROVER).join()).toContain('Nothing done: step xs-a2:approval was already approved');
    // nothing else was posted or edited for a refused click
    expect(h.api.calls.filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')).toHaveLength(0);
  });

  it('a Restore click refused by Core (not an approver, already restored) is told to the user only (issue 10.7)', async () => {
    core.restore.mockResolvedValueOnce({ ok: false, code: 'forbidden', error: 'recover refused: U0SAM is not an approver of pool pool-a' });
    await h.click(ACTION.runRestore, runValue(), { user: OUTSIDER });
    await h.slack.idle();
    expect(core.restore).toHaveBeenCalledWith(RUN_ID, expect.objectContaining({ userId: OUTSIDER }));
    expect(ephemeralsFor(h.api, OUTSIDER).join()).toContain('Not allowed: recover refused: U0SAM is not an approver');
    expect(h.api.calls.filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')).toHaveLength(0);
  });

  it('refuses a forged button value without calling Core, and audits it', async () => {
    await h.click(ACTION.approve, '{"runId":"pool-a-20261125-1","stepId":"xs-a2:approval","admin":true}');
    await h.click(ACTION.approve, 'not json at all');
    await h.click(ACTION.approve, runValue()); // approve without a step
    await h.slack.idle();
    expect(core.approve).not.toHaveBeenCalled();
    expect(h.audits).toHaveLength(3);
    expect(h.audits.every((a) => a.kind === 'refused' && a.actor === APPROVER)).toBe(true);
    expect(ephemeralsFor(h.api, APPROVER)).toHaveLength(3);
    expect(ephemeralsFor(h.api, APPROVER)[0]).toContain('This button is not valid');
  });

  it('refuses a click from another channel (a copied message), audits it, and does not call Core', async () => {
    await h.click(ACTION.approve, runValue('xs-a2:approval'), { channel: 'C0RANDOM' });
    await h.slack.idle();
    expect(core.approve).not.toHaveBeenCalled();
    expect(h.audits).toEqual([expect.objectContaining({ kind: 'refused', runId: RUN_ID, actor: APPROVER, message: expect.stringContaining('from a channel that does not operate pool-a') })]);
  });

  it('refuses a click on a run that does not exist', async () => {
    await h.click(ACTION.runAbort, encodeButtonValue({ runId: 'pool-a-20200101-1' }));
    await h.slack.idle();
    expect(core.abort).not.toHaveBeenCalled();
    expect(h.audits[0]).toMatchObject({ runId: 'pool-a-20200101-1', kind: 'refused' });
  });

  it.each([
    [ACTION.recoverRetry, 'retry'],
    [ACTION.recoverRollbackMaster, 'rollback-master'],
    [ACTION.recoverSkipHost, 'skip-host'],
  ] as const)('%s asks Core to recover with %s and replaces the alert buttons by the decision', async (actionId, action) => {
    const alert = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'alert');
    await h.click(actionId, runValue('xs-a3:wait-host'), { messageTs: alert.ts });
    await h.slack.idle();
    expect(core.recover).toHaveBeenCalledWith(RUN_ID, { action, stepId: 'xs-a3:wait-host' }, expect.objectContaining({ userId: APPROVER }));
    const update = h.api.calls.find((c) => c.method === 'chat.update')!;
    expect(update.outcome).toBe('ok');
    expect(update.args.ts).toBe(alert.ts);
    expect(JSON.stringify(update.args.blocks)).toContain('chosen by <@U0MIKA>');
    expect(JSON.stringify(update.args.blocks)).not.toContain('"type":"button"');
  });

  it('an alert that no longer exists gets the decision as a new message instead', async () => {
    await h.click(ACTION.recoverRetry, runValue('xs-a3:wait-host'), { messageTs: '1732500000.000900' });
    await h.slack.idle();
    expect(h.api.calls.filter((c) => c.method.startsWith('chat.')).map((c) => `${c.method}:${c.outcome}`)).toEqual(['chat.update:message_not_found', 'chat.postMessage:ok']);
    expect(JSON.stringify(h.api.messages(CHANNEL).at(-1)!.blocks)).toContain('*Retry* chosen by <@U0MIKA>');
  });

  it("recover-abort asks Core to abort for the alert's step, and says Core's refusal of an alert out of date", async () => {
    const alert = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'alert');
    await h.click(ACTION.recoverAbort, runValue('xs-a3:wait-host'), { messageTs: alert.ts });
    await h.slack.idle();
    expect(core.recover).toHaveBeenCalledWith(RUN_ID, { action: 'abort', stepId: 'xs-a3:wait-host' }, expect.objectContaining({ userId: APPROVER }));
    expect(core.abort).not.toHaveBeenCalled();
    expect(JSON.stringify(h.api.calls.find((c) => c.method === 'chat.update')!.args.blocks)).toContain('chosen by <@U0MIKA>');

    // the failure was handled elsewhere (a retry from the command line): Core refuses, the alert keeps its buttons
    core.recover.mockResolvedValueOnce({ ok: false, code: 'conflict', error: 'run pool-a-20261125-1 is running, not failed: abort refused (already handled?)' });
    const updates = h.api.calls.filter((c) => c.method === 'chat.update').length;
    await h.click(ACTION.recoverAbort, runValue('xs-a3:wait-host'), { messageTs: alert.ts });
    await h.slack.idle();
    expect(ephemeralsFor(h.api, APPROVER).join()).toContain('not failed: abort refused (already handled?)');
    expect(h.api.calls.filter((c) => c.method === 'chat.update')).toHaveLength(updates);
  });

  it('"Forget host & rejoin…" opens the modal naming host.destroy and pool.join', async () => {
    await h.click(ACTION.recoverForgetRejoin, runValue('xs-a3:wait-host'), { messageTs: '1732500000.000900' });
    await h.slack.idle();
    const [modal] = h.api.views();
    expect(modal.view.callback_id).toBe('forget_rejoin_modal');
    const text = JSON.stringify(modal.view.blocks);
    expect(text).toContain('host.destroy');
    expect(text).toContain('pool.join');
    expect(text).toContain('xs-a3');
    expect(JSON.parse(String(modal.view.private_metadata))).toEqual({ runId: RUN_ID, stepId: 'xs-a3:wait-host', channel: CHANNEL, messageTs: '1732500000.000900' });
    expect(core.recover).not.toHaveBeenCalled();
  });

  it('does not open the modal from a stale alert (the step is no longer failed), and audits it', async () => {
    core.getRun.mockResolvedValue(withSteps(failed, { 'xs-a3:wait-host': { state: 'done' } }));
    await h.click(ACTION.recoverForgetRejoin, runValue('xs-a3:wait-host'));
    await h.slack.idle();
    expect(h.api.views()).toHaveLength(0);
    expect(h.audits[0]).toMatchObject({ kind: 'refused', message: expect.stringContaining('stale forget-rejoin click') });
    expect(ephemeralsFor(h.api, APPROVER).join()).toContain('this alert is out of date');
  });

  it('Start on a plan message starts with the plan hash shown and replaces the buttons', async () => {
    const planValue = encodeButtonValue({ pool: 'pool-a', planHash: failed.planHash, planAt: failed.plan.createdAt });
    const blocks = [
      { type: 'section', text: { type: 'mrkdwn', text: 'Plan for pool-a' } },
      { type: 'actions', elements: [{ type: 'button', action_id: ACTION.planStart, value: planValue, text: { type: 'plain_text', text: 'Start upgrade' } }] },
    ];
    const planMsg = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'plan');
    await h.click(ACTION.planStart, planValue, { user: REQUESTER, messageTs: planMsg.ts, blocks });
    await h.slack.idle();
    expect(core.start).toHaveBeenCalledWith('pool-a', { planHash: failed.planHash, planMadeAt: failed.plan.createdAt }, expect.objectContaining({ userId: REQUESTER }));
    // the real Core notifies runStarted; the notifier withdraws the Start button of every plan message of the pool
    expect(h.api.calls.filter((c) => c.method === 'chat.update')).toHaveLength(0);
    await h.slack.notifier.runStarted({ ...failed, requestedBy: REQUESTER });
    await h.slack.idle();
    const update = h.api.calls.find((c) => c.method === 'chat.update')!;
    expect(JSON.stringify(update.args.blocks)).toContain('Started as run `pool-a-20261125-1` by <@U0KENJI>');
    expect(JSON.stringify(update.args.blocks)).not.toContain(ACTION.planStart);
  });

  it('Start refused (stale plan) is told to the user and the plan message stays', async () => {
    core.start.mockResolvedValue({ ok: false, code: 'conflict', error: 'the pool changed since plan 3f9c0a1b2c3d: re-plan first' });
    await h.click(ACTION.planStart, encodeButtonValue({ pool: 'pool-a', planHash: 'old' }), { user: REQUESTER });
    await h.slack.idle();
    expect(ephemeralsFor(h.api, REQUESTER).join()).toContain('re-plan first');
    expect(h.api.calls.filter((c) => c.method === 'chat.update')).toHaveLength(0);
  });

  it('Re-plan posts a fresh plan', async () => {
    await h.click(ACTION.planReplan, encodeButtonValue({ pool: 'pool-a' }), { user: REQUESTER });
    await h.slack.idle();
    expect(core.plan).toHaveBeenCalledWith('pool-a', {}, expect.objectContaining({ userId: REQUESTER }));
    expect(h.api.messages(CHANNEL).some((m) => JSON.stringify(m.blocks).includes(ACTION.planStart))).toBe(true);
  });

  it('a failed views.open (expired trigger) is told to the user', async () => {
    h.api.failNext('views.open', { error: 'expired_trigger_id' });
    await h.click(ACTION.recoverForgetRejoin, runValue('xs-a3:wait-host'));
    await h.slack.idle();
    expect(ephemeralsFor(h.api, APPROVER).join()).toContain('could not be opened in time');
  });

  it('the failure alert for this step offers exactly the actions Core said are valid', () => {
    // rendering check kept next to the click tests: the ids rendered are the ids routed
    const { failureMessage } = jest.requireActual('../../../src/slack/blocks/failure') as typeof import('../../../src/slack/blocks/failure');
    const msg = failureMessage(failed, step(failed, 'xs-a3:wait-host'), ['retry', 'forget-rejoin', 'skip-host', 'abort'], undefined);
    const ids = JSON.stringify(msg.blocks).match(/"action_id":"[a-z_]+"/g);
    expect(ids).toEqual(['"action_id":"recover_retry"', '"action_id":"recover_forget_rejoin"', '"action_id":"recover_skip_host"', '"action_id":"recover_abort"']);
  });
});
