import { FORGET_REJOIN_CONFIRM_INPUT, FORGET_REJOIN_INPUT, VIEW } from '../../../src/slack/blocks/ids';
import { hostAddress } from '../../../src/slack/listeners/views/forget-rejoin';
import { ephemeralsFor, fakeCore, Harness, PROBED_FINGERPRINT, startHarness } from '../helpers/harness';
import { APPROVER, CHANNEL, makeRun, withSteps } from '../helpers/fixtures';

const RUN_ID = 'pool-a-20261125-1';
const STEP = 'xs-a3:wait-host';
const values = (address: string) => ({ [FORGET_REJOIN_INPUT.block]: { [FORGET_REJOIN_INPUT.action]: { type: 'plain_text_input', value: address } } });
const typed = (fp: string) => ({ [FORGET_REJOIN_CONFIRM_INPUT.block]: { [FORGET_REJOIN_CONFIRM_INPUT.action]: { type: 'plain_text_input', value: fp } } });

/**
 * Forget & rejoin through signed view submissions to the real Bolt receiver (R4.2, issue 10): the address step only
 * looks at the host (probeNewHost) and shows its certificate; only a typed fingerprint that matches it reaches recover.
 */
describe('forget & rejoin dialog (R4.2)', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  const failed = withSteps(makeRun({ state: 'failed' }), { [STEP]: { state: 'failed', attempts: 1, error: { message: 'xs-a3 did not come back' } } });

  beforeEach(async () => {
    core = fakeCore(failed);
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  /** a modal open in the fake Slack (as after the button), so views.update can replace it */
  const openModal = () => h.api.openViewFor(APPROVER, { type: 'modal', callback_id: VIEW.forgetRejoin, title: { type: 'plain_text', text: 'x' }, blocks: [] });
  const confirmMeta = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ runId: RUN_ID, stepId: STEP, channel: CHANNEL, address: '10.0.0.23', fingerprint256: PROBED_FINGERPRINT, ...extra });

  it('the address step looks at the host only, then shows its fingerprint and the VMs lost with the local storage; nothing is forgotten', async () => {
    const v = openModal();
    const meta = JSON.stringify({ runId: RUN_ID, stepId: STEP, channel: CHANNEL });
    const res = await h.submitView({ id: v.id, callback_id: VIEW.forgetRejoin, private_metadata: meta, values: values(' 10.0.0.23 ') });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ response_action: 'update', view: { type: 'modal' } });
    await h.slack.idle();
    expect(core.probeNewHost).toHaveBeenCalledWith(RUN_ID, STEP, '10.0.0.23', expect.objectContaining({ userId: APPROVER, channel: CHANNEL }));
    expect(core.recover).not.toHaveBeenCalled();
    const shown = h.api.getView(v.id)!.view;
    expect(shown.callback_id).toBe(VIEW.forgetRejoinConfirm);
    const text = JSON.stringify(shown.blocks);
    expect(text).toContain('A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90');
    expect(text).toContain('01:12:23:34:45:56:67:78:89:9A:AB:BC:CD:DE:EF:F0');
    expect(text).toMatch(/Lost with xs-a3's local storage.*vm-licence-srv/);
    expect(text).not.toMatch(/running again/);
    expect(JSON.parse(String(shown.private_metadata))).toMatchObject({ address: '10.0.0.23', fingerprint256: PROBED_FINGERPRINT });
  });

  it('a probe refusal (nobody there) brings the address back with the reason, to correct it', async () => {
    core.probeNewHost.mockResolvedValue({ ok: false, code: 'invalid', error: 'cannot reach 10.0.0.99:443: ECONNREFUSED. Nothing was done' });
    const v = openModal();
    await h.submitView({ id: v.id, callback_id: VIEW.forgetRejoin, private_metadata: JSON.stringify({ runId: RUN_ID, stepId: STEP, channel: CHANNEL }), values: values('10.0.0.99') });
    await h.slack.idle();
    const shown = h.api.getView(v.id)!.view;
    expect(shown.callback_id).toBe(VIEW.forgetRejoin);
    expect(JSON.stringify(shown.blocks)).toContain('ECONNREFUSED');
    expect(JSON.stringify(shown.blocks)).toContain('"initial_value":"10.0.0.99"');
    expect(core.recover).not.toHaveBeenCalled();
  });

  it('keeps the modal open with an error for an invalid address, without calling Core', async () => {
    const meta = JSON.stringify({ runId: RUN_ID, stepId: STEP, channel: CHANNEL });
    const res = await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: meta, values: values('10.0.0.300; rm -rf /') });
    expect(JSON.parse(res.text)).toEqual({ response_action: 'errors', errors: { [FORGET_REJOIN_INPUT.block]: expect.stringContaining('IPv4 address') } });
    await h.slack.idle();
    expect(core.probeNewHost).not.toHaveBeenCalled();
    expect(core.recover).not.toHaveBeenCalled();
  });

  it('confirming with the fingerprint read on the console (its last 16 hex digits) asks Core to forget and rejoin, pinned to it', async () => {
    const alert = h.api.postAsUser(h.api.directory.bot.userId, CHANNEL, 'alert');
    const res = await h.submitView({ callback_id: VIEW.forgetRejoinConfirm, private_metadata: confirmMeta({ messageTs: alert.ts }), values: typed('89:9a:ab:bc cd:de:ef:f0') }, APPROVER);
    expect(res).toEqual({ status: 200, text: '' });
    await h.slack.idle();
    expect(core.recover).toHaveBeenCalledWith(
      RUN_ID,
      { action: 'forget-rejoin', stepId: STEP, address: '10.0.0.23', fingerprint256: PROBED_FINGERPRINT },
      expect.objectContaining({ userId: APPROVER, groups: ['S0OPSLEADS'], channel: CHANNEL }),
    );
    const updated = h.api.messages(CHANNEL).find((m) => m.ts === alert.ts)!;
    expect(JSON.stringify(updated.blocks)).toMatch(/10\.0\.0\.23 \(certificate sha256 A1:B2.*verified first, then host\.destroy on xs-a3 and pool\.join/);
  });

  it.each([
    ['another certificate', '00:11:22:33:44:55:66:77', /does not match the certificate the bot saw at 10\.0\.0\.23/],
    ['too little of it', 'EF:F0', /at least its last 16 hex digits/],
    ['nothing', '', /at least its last 16 hex digits/],
  ])('a typed fingerprint that is %s keeps the dialog open and changes nothing', async (_what, fp, message) => {
    const res = await h.submitView({ callback_id: VIEW.forgetRejoinConfirm, private_metadata: confirmMeta(), values: typed(fp) }, APPROVER);
    expect(JSON.parse(res.text)).toEqual({ response_action: 'errors', errors: { [FORGET_REJOIN_CONFIRM_INPUT.block]: expect.stringMatching(message) } });
    await h.slack.idle();
    expect(core.recover).not.toHaveBeenCalled();
  });

  it('refuses forged metadata (on either step) and audits it', async () => {
    const res = await h.submitView({ callback_id: VIEW.forgetRejoin, private_metadata: '{"runId":"../../x"}', values: values('10.0.0.23') });
    expect(JSON.parse(res.text).response_action).toBe('errors');
    const forgedPin = await h.submitView({ callback_id: VIEW.forgetRejoinConfirm, private_metadata: confirmMeta({ fingerprint256: 'not-a-fingerprint' }), values: typed('not-a-fingerprint') });
    expect(JSON.parse(forgedPin.text).response_action).toBe('errors');
    await h.slack.idle();
    expect(core.probeNewHost).not.toHaveBeenCalled();
    expect(core.recover).not.toHaveBeenCalled();
    expect(h.audits.filter((a) => a.kind === 'refused' && a.actor === APPROVER)).toHaveLength(2);
  });

  it('tells the user when Core refuses (the step was already recovered)', async () => {
    core.recover.mockResolvedValue({ ok: false, code: 'conflict', error: 'step xs-a3:wait-host is no longer failed' });
    await h.submitView({ callback_id: VIEW.forgetRejoinConfirm, private_metadata: confirmMeta({ address: 'xs-a3.lab.local' }), values: typed(PROBED_FINGERPRINT) });
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
