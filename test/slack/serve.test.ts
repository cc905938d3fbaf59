import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServeConfig, startBot } from '../../src/cli/serve';
import { startFakeSlackApi } from '../../src/sandbox/fake-web-api';
import { InstantClock } from './helpers/clock';
import { BOT_TOKEN, sign, SIGNING_SECRET } from './helpers/harness';
import { captureLogs } from './helpers/logs';

const POOLS = `
pools:
  - name: pool-a
    masterUrl: http://127.0.0.2:34567
    username: root
    passwordEnv: XS_SERVE_TEST_PASSWORD
    tls: { mode: insecure-http }
    target: "7.6"
    upgrade: { mode: manual }
    slack:
      channel: C0XSUPGRADE
      approvers: { users: [U0MIKA] }
`;

function poolsFile(text = POOLS): string {
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-serve-'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(file, text);
  return file;
}

/** The environment of a bot on the fake Web API at `apiUrl` with the given pools file. */
function serveEnv(apiUrl: string, pools = POOLS): Record<string, string> {
  return {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    XSUPGRADE_PORT: '0',
    SLACK_API_URL: apiUrl,
    XSUPGRADE_POOLS: poolsFile(pools),
    XSUPGRADE_STATE: ':memory:',
    XS_SERVE_TEST_PASSWORD: 'serve-test-password',
  };
}

describe('xsupgrade serve configuration', () => {
  it('names every missing setting at once, never a value', () => {
    const r = loadServeConfig({ SLACK_BOT_TOKEN: 'xoxp-wrong-ZZSECRET' });
    expect(r.ok).toBe(false);
    const text = r.ok ? '' : r.problems.join('\n');
    expect(text).toMatch(/SLACK_BOT_TOKEN is not a bot token/);
    expect(text).toMatch(/SLACK_SIGNING_SECRET is not set/);
    expect(text).toMatch(/XSUPGRADE_POOLS is not set/);
    expect(text).not.toContain('ZZSECRET');
  });

  it('names a pool password variable that is not set, and pools file errors with their field', () => {
    const base = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET };
    const r = loadServeConfig({ ...base, XSUPGRADE_POOLS: poolsFile() });
    expect(r.ok ? [] : r.problems).toEqual(['XS_SERVE_TEST_PASSWORD is not set; it holds the password of pool pool-a (pools file: passwordEnv)']);
    const bad = loadServeConfig({ ...base, XSUPGRADE_POOLS: poolsFile(POOLS.replace('channel: C0XSUPGRADE', 'channel: ""')) });
    expect(bad.ok ? '' : bad.problems.join('\n')).toMatch(/pool pool-a: slack.channel/);
  });

  it('finds pools-file mistakes at start-up, naming the pool and the field (issue 10.11)', () => {
    const base = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, XS_SERVE_TEST_PASSWORD: 'x' };
    const text = POOLS.replace('    tls: { mode: insecure-http }\n', '').replace('target: "7.6"', 'target: "7.6"\n    timezone: Mars/Olympus');
    const r = loadServeConfig({ ...base, XSUPGRADE_POOLS: poolsFile(text) });
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual([
      expect.stringMatching(/pool pool-a: tls\.mode: "verify" needs an https:\/\/ masterUrl, but masterUrl is http:\/\/127\.0\.0\.2:34567/),
      expect.stringMatching(/pool pool-a: timezone: "Mars\/Olympus" is not a time zone/),
    ]);
  });
});

describe('xsupgrade serve start-up', () => {
  it('starts store, core, scheduler and the Slack app on loopback and answers a signed command', async () => {
    const api = await startFakeSlackApi({ token: BOT_TOKEN });
    const env = serveEnv(api.url);
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const logs = captureLogs('info');
    const bot = await startBot(loaded.config, { logger: logs.logger, clock: new InstantClock(), env });
    try {
      expect(bot.port).toBeGreaterThan(0);
      const body = new URLSearchParams({ command: '/xsupgrade', text: 'help', user_id: 'U0KENJI', channel_id: 'C0XSUPGRADE', team_id: 'T0SANDBOX' }).toString();
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(`http://127.0.0.1:${bot.port}/slack/events`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) },
        body,
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { text: string }).text).toContain('xsupgrade commands');
      expect(logs.lines.join('\n')).toContain('Slack app listening on http://127.0.0.1:');
      expect(logs.lines.join('\n')).not.toContain('serve-test-password');
    } finally {
      await bot.stop();
      await api.stop();
    }
  });
});

// issue 10.11: a pool whose channel is written by name could post plans but never be started or approved
describe('a pool channel written by name', () => {
  const startWith = async (channel: string) => {
    const api = await startFakeSlackApi({ token: BOT_TOKEN });
    const env = serveEnv(api.url, POOLS.replace('channel: C0XSUPGRADE', `channel: "${channel}"`));
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    return { api, loaded, env };
  };

  it('is resolved to its id at start-up: Slack requests (which carry the id) then match the pool', async () => {
    const { api, loaded, env } = await startWith('#xs-upgrades');
    const bot = await startBot(loaded.config, { logger: captureLogs('info').logger, clock: new InstantClock(), env });
    try {
      expect(api.calls.filter((c) => c.method === 'conversations.list')).toHaveLength(1);
      const body = new URLSearchParams({ command: '/xsupgrade', text: 'pools', user_id: 'U0KENJI', channel_id: 'C0XSUPGRADE', team_id: 'T0SANDBOX' }).toString();
      const ts = Math.floor(Date.now() / 1000);
      await fetch(`http://127.0.0.1:${bot.port}/slack/events`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) }, body });
      const deadline = Date.now() + 10_000;
      let reply: string | undefined;
      while (!reply && Date.now() < deadline) {
        reply = api.messages().map((m) => JSON.stringify(m.blocks ?? [])).find((t) => t.includes('pool-a'));
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(reply).toContain('<#C0XSUPGRADE>');
    } finally {
      await bot.stop();
      await api.stop();
    }
  });

  it('that the bot cannot see refuses the start-up, naming the pool and the field, with nothing left running', async () => {
    const { api, loaded, env } = await startWith('#no-such-channel');
    try {
      await expect(startBot(loaded.config, { logger: captureLogs('info').logger, clock: new InstantClock(), env })).rejects.toThrow(
        /pool pool-a: slack\.channel "#no-such-channel": no channel of that name is visible to the bot/,
      );
    } finally {
      await api.stop();
    }
  });
});

