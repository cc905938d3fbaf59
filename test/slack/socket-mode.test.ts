/**
 * `xsupgrade serve` in Socket Mode, end to end on loopback with no real Slack: the real Bolt 5 app
 * (@slack/socket-mode over undici's WebSocket) asks the fake Web API for a connection URL with the
 * app-level token, connects to the fake Socket Mode endpoint, and answers envelopes exactly as Slack
 * sends them. Also the compiled CLI: missing/invalid SLACK_APP_TOKEN, and a real start + SIGTERM.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServeConfig, startBot, type RunningBot } from '../../src/cli/serve';
import { FakeCall, FakeSlackApi, startFakeSlackApi } from '../../src/sandbox/fake-web-api';
import { FakeSocketMode, startFakeSocketMode } from '../../src/sandbox/fake-socket-mode';
import { ACTION, encodeButtonValue } from '../../src/slack/blocks/ids';
import { InstantClock } from './helpers/clock';
import { BOT_TOKEN } from './helpers/harness';
import { captureLogs } from './helpers/logs';

const APP_TOKEN = 'xapp-1-A0XSUPGRADE-7001-SOCKETAPPTOKENSECRET0000';
const POOL_PASSWORD = 'socket-test-pool-password-ZZ42';
const CHANNEL = 'C0XSUPGRADE';
/** serve prints this once started; it listens for SIGTERM from before start-up */
const READY_MARKER = 'xsupgrade serve: ready (Socket Mode';

const POOLS = `
pools:
  - name: pool-a
    masterUrl: http://127.0.0.2:34567
    username: root
    passwordEnv: XS_SOCKET_TEST_PASSWORD
    tls: { mode: insecure-http }
    target: "7.6"
    upgrade: { mode: manual }
    slack:
      channel: ${CHANNEL}
      approvers: { users: [U0MIKA] }
`;

function poolsFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-socket-'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(file, POOLS);
  return file;
}

interface Fakes {
  api: FakeSlackApi;
  sm: FakeSocketMode;
  stop(): Promise<void>;
}

async function startFakes(): Promise<Fakes> {
  const sm = await startFakeSocketMode();
  const api = await startFakeSlackApi({ token: BOT_TOKEN, socketMode: { appToken: APP_TOKEN, connectionUrl: () => sm.issueUrl() } });
  return {
    api,
    sm,
    async stop() {
      await api.stop();
      await sm.stop();
    },
  };
}

function socketEnv(api: FakeSlackApi, extra: Record<string, string> = {}): Record<string, string> {
  return {
    XSUPGRADE_SLACK_MODE: 'socket',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_APP_TOKEN: APP_TOKEN,
    SLACK_API_URL: api.url,
    XSUPGRADE_POOLS: poolsFile(),
    XSUPGRADE_STATE: ':memory:',
    XS_SOCKET_TEST_PASSWORD: POOL_PASSWORD,
    ...extra,
  };
}

/** Resolves with the first fake Web API call (already made or future) that matches. */
function nextCall(api: FakeSlackApi, match: (c: FakeCall) => boolean): Promise<FakeCall> {
  const seen = api.calls.find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const listener = (c: FakeCall) => {
      if (!match(c)) return;
      api.off('call', listener);
      resolve(c);
    };
    api.on('call', listener);
  });
}

/** A slash command payload as Slack sends it inside a Socket Mode envelope. */
function slashPayload(api: FakeSlackApi, text: string, user = 'U0KENJI'): Record<string, unknown> {
  return {
    token: 'deprecated-verification-token',
    team_id: api.directory.teamId,
    team_domain: 'sandbox',
    channel_id: CHANNEL,
    channel_name: 'xs-upgrades',
    user_id: user,
    user_name: user.toLowerCase(),
    command: '/xsupgrade',
    text,
    api_app_id: 'A0XSUPGRADE',
    is_enterprise_install: 'false',
    response_url: api.createResponseUrl({ channel: CHANNEL, user }),
    trigger_id: api.issueTrigger(user),
  };
}

/** A block_actions payload as Slack sends it inside an `interactive` envelope. */
function clickPayload(api: FakeSlackApi, actionId: string, value: string, user = 'U0MIKA'): Record<string, unknown> {
  const messageTs = '1732500000.000100';
  return {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: api.directory.teamId },
    api_app_id: 'A0XSUPGRADE',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: messageTs, channel_id: CHANNEL, is_ephemeral: false },
    trigger_id: api.issueTrigger(user),
    team: { id: api.directory.teamId, domain: 'sandbox' },
    channel: { id: CHANNEL, name: 'xs-upgrades' },
    message: { type: 'message', ts: messageTs, text: 'Approval needed', blocks: [] },
    response_url: api.createResponseUrl({ channel: CHANNEL, user, messageTs }),
    actions: [{ type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'Approve' }, action_ts: '1732500001.000200' }],
    state: { values: {} },
  };
}

describe('the fake Socket Mode endpoint', () => {
  it('opens connections only for the app-level token, with one-use URLs', async () => {
    const f = await startFakes();
    try {
      const open = async (token: string) => {
        const res = await fetch(`${f.api.url}apps.connections.open`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
        return (await res.json()) as { ok: boolean; url?: string; error?: string };
      };
      expect(await open(BOT_TOKEN)).toEqual({ ok: false, error: 'not_allowed_token_type' });
      expect(await open('xapp-1-A0OTHER-1-WRONG')).toEqual({ ok: false, error: 'invalid_auth' });
      const r = await open(APP_TOKEN);
      expect(r.ok).toBe(true);
      expect(r.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=[0-9a-f-]+&app_id=A0XSUPGRADE$/);
      // a used ticket (or a made-up one) is refused at the upgrade, so every connection went through the API
      const statusOf = (url: string) =>
        new Promise<number>((resolve, reject) => {
          const http = new URL(url.replace(/^ws/, 'http'));
          const req = request(http, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
          req.on('upgrade', (res: IncomingMessage, socket: Duplex) => {
            socket.destroy();
            resolve(res.statusCode ?? 0);
          });
          req.on('response', (res: IncomingMessage) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await statusOf(r.url!)).toBe(101);
      await f.sm.waitForNoConnection();
      expect(await statusOf(r.url!)).toBe(401);
      expect(await statusOf(r.url!.replace(/ticket=[^&]+/, 'ticket=made-up'))).toBe(401);
      expect(f.sm.accepted).toBe(1);
      expect(f.sm.refused).toBe(2);
    } finally {
      await f.stop();
    }
  });
});

describe('xsupgrade serve in Socket Mode (startBot, in process)', () => {
  it('connects with the app token, answers a slash command and refuses a stale button over the socket, and closes cleanly', async () => {
    const f = await startFakes();
    const env = socketEnv(f.api);
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    expect(loaded.config.slack.mode).toBe('socket');
    const logs = captureLogs('debug');
    let bot: RunningBot | undefined;
    try {
      bot = await startBot(loaded.config, { logger: logs.logger, clock: new InstantClock(), env });
      // start() resolves only after the hello frame: the socket is up, no HTTP port is bound
      expect(bot.port).toBeUndefined();
      expect(f.sm.openConnections()).toBe(1);
      const opens = f.api.calls.filter((c) => c.method === 'apps.connections.open');
      expect(opens.map((c) => [c.token, c.outcome])).toEqual([[APP_TOKEN, 'ok']]);
      // everything else the bot called went with the bot token
      expect(f.api.calls.filter((c) => c.method !== 'apps.connections.open').every((c) => c.token === BOT_TOKEN)).toBe(true);
      expect(logs.lines.join('\n')).toContain('Slack app connected in Socket Mode');

      // /xsupgrade help: answered in the ack itself (accepts_response_payload)
      const helpAck = await f.sm.send('slash_commands', slashPayload(f.api, 'help'));
      expect(helpAck.response_type).toBe('ephemeral');
      expect(String(helpAck.text)).toContain('xsupgrade commands');

      // malformed input: the ack says what was wrong and nothing else happens
      const callsBefore = f.api.calls.length;
      const badAck = await f.sm.send('slash_commands', slashPayload(f.api, 'frobnicate pool-a'));
      expect(JSON.stringify(badAck)).toMatch(/frobnicate/);
      expect(f.api.calls.length).toBe(callsBefore);

      // an Approve click for a run that does not exist (stale or from another install): bare ack, then refused
      const stale = encodeButtonValue({ runId: 'pool-a-20261101-7', stepId: 'xs-a2:approval' });
      const ephemeral = nextCall(f.api, (c) => c.method === 'chat.postEphemeral');
      const clickAck = await f.sm.send('interactive', clickPayload(f.api, ACTION.approve, stale));
      expect(clickAck).toEqual({});
      const refusal = await ephemeral;
      expect(refusal.args).toMatchObject({ channel: CHANNEL, user: 'U0MIKA' });
      expect(String(refusal.args.text)).toContain('There is no run pool-a-20261101-7. Nothing was done.');
      expect(f.api.messages(CHANNEL).filter((m) => !m.ephemeralTo)).toEqual([]);
      expect(f.sm.acks).toHaveLength(3);
    } finally {
      await bot?.stop();
    }
    // Bolt's stop() does not wait for the close handshake: wait for the endpoint to see it
    await f.sm.waitForNoConnection();
    expect(f.sm.closes).toEqual([{ code: 1000, byClient: true }]);
    await f.stop();

    // secrets: the debug log (which includes Bolt's and the socket client's own debug output) never has them
    const text = logs.lines.join('\n');
    // the scan covers the request that carried the app token (logged at debug, headers redacted)
    expect(text).toContain("apiCall('apps.connections.open') start");
    for (const secret of [APP_TOKEN, BOT_TOKEN, POOL_PASSWORD]) expect(text).not.toContain(secret);
  });

  it('malformed envelopes and clicks from another workspace are acknowledged and ignored; the bot keeps answering (issue 10.9, 10.11)', async () => {
    const f = await startFakes();
    const env = socketEnv(f.api);
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const logs = captureLogs('debug');
    let bot: RunningBot | undefined;
    try {
      bot = await startBot(loaded.config, { logger: logs.logger, clock: new InstantClock(), env });
      const abort = encodeButtonValue({ runId: 'pool-a-20261101-7' });
      const before = f.api.calls.length;
      expect(await f.sm.send('interactive', null as never, { acceptsResponsePayload: false })).toEqual({});
      expect(await f.sm.send('interactive', { type: 'block_actions', user: { id: 'U0MIKA' } })).toEqual({});
      expect(await f.sm.send('slash_commands', { command: '/xsupgrade', text: 'help' })).toEqual({});
      const foreign = clickPayload(f.api, ACTION.runAbort, abort);
      foreign.team = { id: 'T0OTHER' };
      foreign.user = { id: 'U0MIKA', team_id: 'T0OTHER' };
      expect(await f.sm.send('interactive', foreign)).toEqual({});
      // nothing was looked up or posted for any of them
      expect(f.api.calls.slice(before)).toEqual([]);
      expect(logs.lines.join('\n')).toContain('Socket Mode envelope dropped before Bolt');
      expect(logs.lines.join('\n')).toContain('refused a request from outside the installed workspace');
      const helpAck = await f.sm.send('slash_commands', slashPayload(f.api, 'help'));
      expect(String(helpAck.text)).toContain('xsupgrade commands');
    } finally {
      await bot?.stop();
      await f.sm.waitForNoConnection();
      await f.stop();
    }
  });

  it('reconnects when Slack asks it to (a "disconnect" frame) and keeps answering', async () => {
    const f = await startFakes();
    const env = socketEnv(f.api);
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const logs = captureLogs('info');
    const bot = await startBot(loaded.config, { logger: logs.logger, clock: new InstantClock(), env });
    try {
      f.sm.requestReconnect('refresh_requested');
      // the socket client waits its own reconnect delay (5 s, a real timer inside @slack/socket-mode)
      await f.sm.waitForConnection(2);
      expect(f.api.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.outcome)).toEqual(['ok', 'ok']);
      expect(f.sm.closes).toEqual([{ code: 1000, byClient: true }]);
      const ack = await f.sm.send('slash_commands', slashPayload(f.api, 'help'));
      expect(String(ack.text)).toContain('xsupgrade commands');
    } finally {
      await bot.stop();
      await f.sm.waitForNoConnection();
      await f.stop();
    }
    expect(logs.lines.join('\n')).not.toContain(APP_TOKEN);
  }, 30000);

  it('a refused app token is a start-up error, with nothing left running and the token not echoed', async () => {
    const f = await startFakes();
    const wrong = 'xapp-1-A0XSUPGRADE-7001-REVOKEDTOKENSECRET9999';
    const env = socketEnv(f.api, { SLACK_APP_TOKEN: wrong });
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const logs = captureLogs('debug');
    try {
      let error: Error | undefined;
      await startBot(loaded.config, { logger: logs.logger, clock: new InstantClock(), env }).catch((e: Error) => (error = e));
      expect(error?.message).toMatch(/SLACK_APP_TOKEN \(invalid_auth\)/);
      expect(error?.message).not.toContain(wrong);
      expect(f.api.calls.filter((c) => c.method === 'apps.connections.open').map((c) => c.outcome)).toEqual(['invalid_auth']);
      expect(f.sm.accepted).toBe(0);
      expect(logs.lines.join('\n')).not.toContain(wrong);
    } finally {
      await f.stop();
    }
  });
});

describe('the compiled CLI: xsupgrade serve in Socket Mode', () => {
  let entry: string;
  let child: ChildProcess | undefined;
  beforeAll(() => {
    entry = 'dist/src/cli.js';
    expect(existsSync(entry)).toBe(true);
  }, 180000);
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  /** Only what is given: nothing from the developer's own environment leaks into the child. */
  const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() });

  /** The serve process; `ready` resolves once it says it is ready. */
  function serve(env: Record<string, string>): { ready: Promise<void>; done: Promise<{ code: number | null; stderr: string; stdout: string }> } {
    child = spawn(process.execPath, [entry, 'serve'], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let markReady: () => void = () => undefined;
    let notReady: (e: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      notReady = reject;
    });
    ready.catch(() => undefined); // only the callers that await it care
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (stdout.includes(READY_MARKER)) markReady();
    });
    const done = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) =>
      child!.once('close', (code) => {
        notReady(new Error(`xsupgrade serve exited (${code}) before it was ready:\n${stderr}`));
        resolve({ code, stderr, stdout: stdout.replace(`\n${READY_MARKER}\n`, '') });
      }),
    );
    return { ready, done };
  }

  const configEnv = () => ({
    XSUPGRADE_SLACK_MODE: 'socket',
    SLACK_BOT_TOKEN: BOT_TOKEN,
    XSUPGRADE_POOLS: poolsFile(),
    XSUPGRADE_STATE: ':memory:',
    XS_SOCKET_TEST_PASSWORD: POOL_PASSWORD,
  });

  it('exits non-zero naming SLACK_APP_TOKEN when it is not set', async () => {
    const r = await serve(configEnv()).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token/);
    // the signing secret is an HTTP-mode setting: not asked for in Socket Mode
    expect(r.stderr).not.toMatch(/SLACK_SIGNING_SECRET/);
  });

  it('exits non-zero naming an invalid SLACK_APP_TOKEN without echoing it', async () => {
    const invalid = 'xoxb-a-bot-token-pasted-by-mistake-ZZSECRET';
    const r = await serve({ ...configEnv(), SLACK_APP_TOKEN: invalid }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SLACK_APP_TOKEN is not an app-level token; expected a value starting with xapp-/);
    expect(r.stderr + r.stdout).not.toContain('ZZSECRET');
  });

  it('starts in Socket Mode against the fake, connects, and stops on SIGTERM with exit 0', async () => {
    const f = await startFakes();
    try {
      const { ready, done } = serve({ ...configEnv(), SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: f.api.url, XSUPGRADE_LOG_LEVEL: 'debug' });
      await ready;
      expect(f.sm.openConnections()).toBe(1);
      const ack = await f.sm.send('slash_commands', slashPayload(f.api, 'help'));
      expect(String(ack.text)).toContain('xsupgrade commands');
      child!.kill('SIGTERM');
      const r = await done;
      expect(r.code).toBe(0);
      await f.sm.waitForNoConnection();
      expect(f.sm.closes).toEqual([{ code: 1000, byClient: true }]);
      expect(r.stderr).toContain('Slack app connected in Socket Mode');
      for (const secret of [APP_TOKEN, BOT_TOKEN, POOL_PASSWORD]) expect(r.stderr + r.stdout).not.toContain(secret);
    } finally {
      await f.stop();
    }
  });
});
