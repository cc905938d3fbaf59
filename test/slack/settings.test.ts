import { loadSlackSettings, SettingsError } from '../../src/slack/settings';

const BOT = 'xoxb-111-222-SECRETBOTTOKEN';
const SIGNING = 'deadbeefdeadbeefdeadbeefdeadbeef';
const APP = 'xapp-1-A111-SECRETAPPTOKEN';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadSlackSettings(env);
  } catch (e) {
    if (e instanceof SettingsError) return e.problems;
    throw e;
  }
  throw new Error('expected a SettingsError');
}

describe('loadSlackSettings', () => {
  it('reads HTTP mode with loopback defaults', () => {
    expect(loadSlackSettings({ SLACK_BOT_TOKEN: BOT, SLACK_SIGNING_SECRET: SIGNING })).toEqual({
      mode: 'http',
      botToken: BOT,
      signingSecret: SIGNING,
      appToken: undefined,
      port: 3000,
      host: '127.0.0.1',
      slackApiUrl: undefined,
    });
  });

  it('reads Socket Mode without a signing secret', () => {
    const s = loadSlackSettings({ XSUPGRADE_SLACK_MODE: 'socket', SLACK_BOT_TOKEN: BOT, SLACK_APP_TOKEN: APP, SLACK_API_URL: 'http://127.0.0.1:4000/api/' });
    expect(s).toMatchObject({ mode: 'socket', appToken: APP, slackApiUrl: 'http://127.0.0.1:4000/api/' });
  });

  it('names every missing variable at once', () => {
    const problems = problemsOf({});
    expect(problems.join('\n')).toMatch(/SLACK_BOT_TOKEN is not set/);
    expect(problems.join('\n')).toMatch(/SLACK_SIGNING_SECRET is not set; HTTP mode/);
    expect(problemsOf({ XSUPGRADE_SLACK_MODE: 'socket', SLACK_BOT_TOKEN: BOT })).toEqual([
      expect.stringMatching(/^SLACK_APP_TOKEN is not set; Socket Mode/),
    ]);
  });

  it('names invalid values without echoing secrets', () => {
    const env = {
      XSUPGRADE_SLACK_MODE: 'websocket',
      SLACK_BOT_TOKEN: 'xoxp-user-token-ZZLEAKUSER',
      SLACK_SIGNING_SECRET: 'short!ZZLEAKSIGN',
      SLACK_APP_TOKEN: 'xoxb-not-app-ZZLEAKAPP',
      XSUPGRADE_PORT: '99999',
      XSUPGRADE_HOST: '0.0.0.0',
      SLACK_API_URL: 'ftp://x',
    };
    const text = problemsOf(env).join('\n');
    for (const name of Object.keys(env)) expect(text).toContain(name);
    expect(text).toMatch(/XSUPGRADE_HOST must be a loopback address/);
    expect(text).not.toMatch(/ZZLEAK|xoxp|xoxb-not/);
  });

  it('treats blank variables as unset', () => {
    expect(problemsOf({ SLACK_BOT_TOKEN: '  ', SLACK_SIGNING_SECRET: SIGNING })).toEqual([expect.stringMatching(/^SLACK_BOT_TOKEN is not set/)]);
  });
});

// issue 10.11: the bot token goes with every Web API call
describe('SLACK_API_URL', () => {
  const base = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'a'.repeat(32) };
  it.each([['http://slack-proxy.example.com/api/'], ['http://10.0.0.5:4000/api/'], ['http://127.0.0.1.evil.example/api/']])('refuses plain http to %s', (url) => {
    expect(() => loadSlackSettings({ ...base, SLACK_API_URL: url })).toThrow(/SLACK_API_URL must be https:\/\/, or http:\/\/ to a loopback address/);
  });
  it.each([['https://slack-proxy.example.com/api/'], ['http://127.0.0.1:4000/api/'], ['http://localhost:4000/api/'], ['http://[::1]:4000/api/']])('accepts %s', (url) => {
    expect(loadSlackSettings({ ...base, SLACK_API_URL: url }).slackApiUrl).toBe(url);
  });
});

