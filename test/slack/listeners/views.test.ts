import { FORGET_REJOIN_INPUT, VIEW } from '../../../src/slack/blocks/ids';
import { hostAddress } from '../../../src/slack/listeners/views/forget-rejoin';
import { ephemeralsFor, fakeCore, Harness, startHarness } from '../helpers/harness';
import { APPROVER, CHANNEL, makeRun, withSteps } from '../helpers/fixtures';

const RUN_ID = 'pool-a-20261125-1';
const values = (address: string) => ({ [FORGET_REJOIN_INPUT.block]: { [FORGET_REJOIN_INPUT.action]: { type: 'plain_text_input', value: address } } });

describe('forget & rejoin modal submission (R4.2)', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  const failed = withSteps(makeRun({ state: 'failed' }), { 'xs-a3:wait-host': { state: 'failed', attempts: 1, error: { message: 'xs-a3 did not come back' } } });

  beforeEach(async () => {
    core = fakeCore(failed);
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  it('closes the modal, asks Core to forget and rejoin at the address, and replaces the alert buttons', async () => {
    const alert = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'alert');
    const meta = JSON.stringify({ runId: RUN_ID, stepId: 'xs-a3:wait-host', channel: CHANNEL, messageTs: alert.ts });
    const res = await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: meta, values: values(' 10.0.0.23 ') });
    expect(res).toEqual({ status: 200, text: '' });
    await h.slack.idle();
    expect(core.recover).toHaveBeenCalledWith(RUN_ID, { action: 'forget-rejoin', stepId: 'xs-a3:wait-host', address: '10.0.0.23' }, expect.objectContaining({ userId: APPROVER, groups: ['S0OPSLEADS'], channel: CHANNEL }));
    const updated = h.api.messages(CHANNEL).find((m) => m.ts === alert.ts)!;
    expect(JSON.stringify(updated.blocks)).toContain('host.destroy on xs-a3, then pool.join from 10.0.0.23');
  });

  it('keeps the modal open with an error for an invalid address, without calling Core', async () => {
    const meta = JSON.stringify({ runId: RUN_ID, stepId: 'xs-a3:wait-host', channel: CHANNEL });
    const res = await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: meta, values: values('10.0.0.300; rm -rf /') });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ response_action: 'errors', errors: { [FORGET_REJOIN_INPUT.block]: expect.stringContaining('IPv4 address') } });
    await h.slack.idle();
    expect(core.recover).not.toHaveBeenCalled();
  });

  it('refuses forged metadata and audits it', async () => {
    const res = await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: '{"runId":"../../x"}', values: values('10.0.0.23') });
    expect(JSON.parse(res.text).response_action).toBe('errors');
    await h.slack.idle();
    expect(core.recover).not.toHaveBeenCalled();
    expect(h.audits[0]).toMatchObject({ kind: 'refused', actor: APPROVER });
  });

  it('tells the user when Core refuses (the step was already recovered)', async () => {
    core.recover.mockResolvedValue({ ok: false, code: 'conflict', error: 'step xs-a3:wait-host is no longer failed' });
    const meta = JSON.stringify({ runId: RUN_ID, stepId: 'xs-a3:wait-host', channel: CHANNEL });
    await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: meta, values: values('xs-a3.lab.local') });
    await h.slack.idle();
    expect(core.recover).toHaveBeenCalledWith(RUN_ID, expect.objectContaining({ address: 'xs-a3.lab.local' }), expect.anything());
    expect(ephemeralsFor(h.api, APPROVER).join()).toContain('is no longer failed');
  });

  it('a refusal of a form opened from an alert in the run thread is told in that thread', async () => {
    core.recover.mockResolvedValue({ ok: false, code: 'conflict', error: 'step xs-a3:wait-host is no longer failed' });
    const header = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'run header');
    const alert = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'alert', { thread_ts: header.ts });
    const meta = JSON.stringify({ runId: RUN_ID, stepId: 'xs-a3:wait-host', channel: CHANNEL, messageTs: alert.ts, threadTs: header.ts });
    await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: meta, values: values('10.0.0.23') });
    await h.slack.idle();
    const refusal = h.api.messages(CHANNEL).find((m) => m.ephemeralTo === APPROVER)!;
    expect(refusal.text).toContain('is no longer failed');
    expect(refusal.thread_ts).toBe(header.ts);
  });
});

describe('hostAddress', () => {
  it.each(['10.0.0.23', '127.0.0.5', 'xs-a3', 'xs-a3.lab.example.com'])('accepts %s', (a) => expect(hostAddress.safeParse(a).success).toBe(true));
  it.each(['', '10.0.0.256', '10.0.0', '-bad', 'a b', 'http://10.0.0.1', '10.0.0.1:443', '1.2.3.4.5'])('refuses %j', (a) =>
    expect(hostAddress.safeParse(a).success).toBe(false),
  );
});
