import { ACTION, encodeButtonValue } from '../../src/slack/blocks/ids';
import { BOT_TOKEN, fakeCore, Harness, sign, SIGNING_SECRET, startHarness } from './helpers/harness';
import { CHANNEL, makeRun, step, withSteps } from './helpers/fixtures';

/** Requests not signed by Slack have no effect; secrets never reach Slack messages or log lines. */
describe('request verification', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  const body = new URLSearchParams({ command: '/xsupgrade', text: 'start pool-a', user_id: 'U0MIKA', channel_id: CHANNEL, team_id: 'T0SANDBOX', response_url: 'http://127.0.0.1:9/none', trigger_id: 't' }).toString();
  const now = () => Math.floor(Date.now() / 1000);

  beforeEach(async () => {
    core = fakeCore();
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  const expectNoEffect = async () => {
    await h.slack.idle();
    expect(Object.values(core).every((fn) => fn.mock.calls.length === 0)).toBe(true);
    expect(h.api.calls.filter((c) => c.method !== 'auth.test')).toHaveLength(0);
  };

  it('accepts the same request correctly signed (control)', async () => {
    const ts = now();
    const res = await h.post(body, { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) });
    expect(res.status).toBe(200);
    await h.slack.idle();
    expect(core.start).toHaveBeenCalledTimes(1);
  });

  it('rejects a bad signature with 401', async () => {
    const ts = now();
    const res = await h.post(body, { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts, 'ffffffffffffffffffffffffffffffff') });
    expect(res.status).toBe(401);
    await expectNoEffect();
  });

  it('rejects a body changed after signing with 401', async () => {
    const ts = now();
    const res = await h.post(body.replace('start', 'abort'), { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) });
    expect(res.status).toBe(401);
    await expectNoEffect();
  });

  it('rejects a stale timestamp (replay older than 5 minutes) with 401', async () => {
    const ts = now() - 6 * 60;
    const res = await h.post(body, { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) });
    expect(res.status).toBe(401);
    await expectNoEffect();
  });

  it.each([
    ['no signature', (ts: number) => ({ 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts) })],
    ['no timestamp', (ts: number) => ({ 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Signature': sign(body, ts) })],
    ['no headers at all', () => ({ 'Content-Type': 'application/x-www-form-urlencoded' })],
  ])('rejects a request with %s with 401', async (_name, headers) => {
    const res = await h.post(body, headers(now()));
    expect(res.status).toBe(401);
    await expectNoEffect();
  });

  it('rejects a signed button click with a bad signature, with no effect', async () => {
    const payload = JSON.stringify({ type: 'block_actions', user: { id: 'U0MIKA' }, actions: [{ action_id: ACTION.approve, value: encodeButtonValue({ runId: 'pool-a-20261125-1', stepId: 'xs-a2:approval' }) }] });
    const b = new URLSearchParams({ payload }).toString();
    const res = await h.post(b, { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(now()), 'X-Slack-Signature': 'v0=00' });
    expect(res.status).toBe(401);
    await expectNoEffect();
  });
});

describe('secrets never reach Slack or the logs', () => {
  const POOL_PASSWORD = 'Pool-A-root-password-ZZ91';

  it('scans every fake API call and every log line of a busy session', async () => {
    process.env.XS_POOL_A_PASSWORD = POOL_PASSWORD;
    const failedRun = withSteps(makeRun({ state: 'failed' }), {
      'xs-a3:wait-host': { state: 'failed', attempts: 1, error: { message: 'xs-a3 did not come back', code: 'SESSION_AUTHENTICATION_FAILED', params: ['root'] } },
    });
    const core = fakeCore(failedRun);
    core.plan.mockRejectedValueOnce(Object.assign(new Error('connect failed'), { password: POOL_PASSWORD, token: BOT_TOKEN }));
    const h = await startHarness({ core });
    try {
      await h.command('plan pool-a');
      await h.command('plan pool-a');
      await h.command('start pool-a');
      await h.command('status');
      await h.command('bogus');
      await h.click(ACTION.approve, encodeButtonValue({ runId: failedRun.id, stepId: 'xs-a2:approval' }));
      await h.click(ACTION.recoverRetry, encodeButtonValue({ runId: failedRun.id, stepId: 'xs-a3:wait-host' }));
      await h.click(ACTION.approve, 'forged');
      await h.slack.notifier.runStarted(failedRun);
      await h.slack.notifier.stepFailed(failedRun, step(failedRun, 'xs-a3:wait-host'), ['retry', 'forget-rejoin', 'skip-host', 'abort']);
      await h.slack.notifier.runFinished({ ...failedRun, state: 'aborted', endedAt: failedRun.createdAt + 3_600_000 });
      h.api.failNext('chat.postMessage', { error: 'invalid_auth' });
      await h.slack.notifier.poolNotice('pool-a', 'window starts');
      await h.slack.idle();

      expect(h.api.calls.length).toBeGreaterThan(10);
      expect(h.logs.lines.length).toBeGreaterThan(5);
      const everything = [JSON.stringify(h.api.calls.map((c) => ({ method: c.method, args: c.args }))), JSON.stringify(h.api.messages()), ...h.logs.lines].join('\n');
      for (const secret of [BOT_TOKEN, SIGNING_SECRET, POOL_PASSWORD]) expect(everything).not.toContain(secret);
      // the token does travel, but only in the Authorization header
      expect(h.api.calls.every((c) => c.token === BOT_TOKEN)).toBe(true);
    } finally {
      delete process.env.XS_POOL_A_PASSWORD;
      await h.stop();
    }
  });
});
