import { startFakeSlackApi } from '../../src/sandbox/fake-web-api';
import { createSlackApp } from '../../src/slack/app';
import { InstantClock } from './helpers/clock';
import { poolConfig } from './helpers/fixtures';
import { fakeCore, SIGNING_SECRET } from './helpers/harness';
import { captureLogs } from './helpers/logs';

describe('createSlackApp start-up', () => {
  it('fails with a clear error when Slack refuses the bot token, naming the variable but not the value', async () => {
    const api = await startFakeSlackApi({ token: 'xoxb-the-right-one' });
    const logs = captureLogs();
    const slack = createSlackApp({
      core: fakeCore(),
      pools: [poolConfig()],
      settings: { mode: 'http', botToken: 'xoxb-wrong-ZZTOKEN', signingSecret: SIGNING_SECRET, port: 0, host: '127.0.0.1', slackApiUrl: api.url },
      logger: logs.logger,
      clock: new InstantClock(),
    });
    try {
      const err = await slack.start().then(() => undefined, (e: Error) => e);
      expect(err?.message).toBe('Slack refused SLACK_BOT_TOKEN (invalid_auth): check SLACK_BOT_TOKEN');
      expect(logs.lines.join('\n')).not.toContain('ZZTOKEN');
    } finally {
      await slack.stop();
      await api.stop();
    }
  });

  it('refuses to start in Socket Mode without an app token', () => {
    expect(() =>
      createSlackApp({ core: fakeCore(), pools: [poolConfig()], settings: { mode: 'socket', botToken: 'xoxb-1', port: 0, host: '127.0.0.1' }, logger: captureLogs().logger }),
    ).toThrow('SLACK_APP_TOKEN is required in Socket Mode');
  });
});
