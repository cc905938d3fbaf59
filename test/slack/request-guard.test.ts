import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeSlackApi } from '../../src/sandbox/fake-web-api';
import { ACTION, encodeButtonValue } from '../../src/slack/blocks/ids';
import { foreignWorkspace } from '../../src/slack/request-guard';
import { BOT_TOKEN, fakeCore, Harness, sign, SIGNING_SECRET, startHarness } from './helpers/harness';
import { CHANNEL, makeRun } from './helpers/fixtures';

/** Issue 10.9 and 10.11 as an attacker holding a validly signed request would try them, against the real receiver. */

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const now = () => Math.floor(Date.now() / 1000);
const signed = (body: string, ts = now(), contentType = 'application/x-www-form-urlencoded') => ({ 'Content-Type': contentType, 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': sign(body, ts) });
const helpCommand = form({ command: '/xsupgrade', text: 'help', user_id: 'U0KENJI', channel_id: CHANNEL, team_id: 'T0SANDBOX', trigger_id: 't' });

describe('malformed or future-dated signed requests are refused before Bolt sees them, and the bot keeps serving', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  beforeEach(async () => {
    core = fakeCore();
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  it.each([
    ['payload=null', form({ payload: 'null' })],
    ['a payload that is not JSON', form({ payload: '{"type":' })],
    ['a JSON array payload', form({ payload: '[]' })],
    ['a click without a user', form({ payload: JSON.stringify({ type: 'block_actions', actions: [{ action_id: ACTION.runAbort, type: 'button' }] }) })],
    ['a click without actions', form({ payload: JSON.stringify({ type: 'block_actions', user: { id: 'U0MIKA' }, actions: [] }) })],
    ['a view submission without a view', form({ payload: JSON.stringify({ type: 'view_submission', user: { id: 'U0MIKA' } }) })],
    ['an unknown payload type', form({ payload: JSON.stringify({ type: 'nonsense', user: { id: 'U0MIKA' } }) })],
    ['two payloads', 'payload=null&payload=%7B%7D'],
    ['a command without a user', form({ command: '/xsupgrade', text: 'abort x', channel_id: CHANNEL, team_id: 'T0SANDBOX' })],
    ['an empty form', ''],
  ])('%s → 400', async (_what, body) => {
    const res = await h.post(body, signed(body));
    expect(res.status).toBe(400);
    await h.slack.idle();
    expect(Object.values(core).every((fn) => fn.mock.calls.length === 0)).toBe(true);
    // the process is still there and serves the next request
    expect((await h.post(helpCommand, signed(helpCommand))).status).toBe(200);
    expect(h.logs.lines.join('\n')).toContain('Slack request refused before Bolt');
  });

  it.each([
    ['JSON null', 'null'],
    ['a JSON event the app does not subscribe to', JSON.stringify({ type: 'event_callback', event: null })],
  ])('a JSON body with %s → 400', async (_what, body) => {
    const res = await h.post(body, signed(body, now(), 'application/json'));
    expect(res.status).toBe(400);
    expect((await h.post(helpCommand, signed(helpCommand))).status).toBe(200);
  });

  it('an unsigned payload=null is refused 401 (the signature is checked first)', async () => {
    const body = form({ payload: 'null' });
    expect((await h.post(body, { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Slack-Request-Timestamp': String(now()), 'X-Slack-Signature': 'v0=00' })).status).toBe(401);
  });

  // request timestamps more than 5 minutes in the future are refused (Bolt only checks the past)
  it('a signed start 6 minutes ahead → 401 and no effect; 4 minutes ahead is within the window', async () => {
    const body = form({ command: '/xsupgrade', text: 'start pool-a', user_id: 'U0MIKA', channel_id: CHANNEL, team_id: 'T0SANDBOX', trigger_id: 't' });
    expect((await h.post(body, signed(body, now() + 6 * 60))).status).toBe(401);
    expect((await h.post(body, signed(body, now() + 24 * 3600))).status).toBe(401);
    await h.slack.idle();
    expect(core.start).not.toHaveBeenCalled();
    expect((await h.post(body, signed(body, now() + 4 * 60))).status).toBe(200);
    await h.slack.idle();
    expect(core.start).toHaveBeenCalledTimes(1);
  });
});

describe('requests from outside the installed workspace are refused (team and enterprise checked against auth.test)', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  const run = makeRun();
  beforeEach(async () => {
    core = fakeCore(run);
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  const click = (patch: (p: Record<string, unknown>) => void) => {
    const payload: Record<string, unknown> = {
      type: 'block_actions',
      user: { id: 'U0MIKA', team_id: 'T0SANDBOX' },
      team: { id: 'T0SANDBOX', domain: 'sandbox' },
      channel: { id: CHANNEL, name: 'xs-upgrades' },
      container: { type: 'message', message_ts: '1.1', channel_id: CHANNEL },
      message: { ts: '1.1', blocks: [] },
      trigger_id: 't',
      actions: [{ type: 'button', action_id: ACTION.runAbort, value: encodeButtonValue({ runId: run.id }), block_id: 'b', action_ts: '1' }],
    };
    patch(payload);
    const body = form({ payload: JSON.stringify(payload) });
    return h.post(body, signed(body));
  };

  it('control: the same click from the installed workspace aborts', async () => {
    expect((await click(() => undefined)).status).toBe(200);
    await h.slack.idle();
    expect(core.abort).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['another team', (p: Record<string, unknown>) => { p.team = { id: 'T0OTHER' }; p.user = { id: 'U0MIKA', team_id: 'T0OTHER' }; }],
    ['a Slack Connect user of another workspace', (p: Record<string, unknown>) => { p.user = { id: 'U0MIKA', team_id: 'T0OTHER' }; }],
    ['an enterprise this app is not installed in', (p: Record<string, unknown>) => { p.enterprise = { id: 'E0OTHER' }; }],
  ])('a click from %s is refused, audited, and changes nothing', async (_what, patch) => {
    expect((await click(patch)).status).toBe(200); // acknowledged, so Slack does not retry it
    await h.slack.idle();
    expect(core.abort).not.toHaveBeenCalled();
    expect(core.getRun).not.toHaveBeenCalled();
    expect(h.audits).toEqual([expect.objectContaining({ kind: 'refused', actor: 'U0MIKA', message: expect.stringMatching(/outside the installed workspace/) })]);
  });

  it('a slash command from another team is refused', async () => {
    const body = form({ command: '/xsupgrade', text: 'start pool-a', user_id: 'U0MIKA', channel_id: CHANNEL, team_id: 'T0OTHER', trigger_id: 't' });
    expect((await h.post(body, signed(body))).status).toBe(200);
    await h.slack.idle();
    expect(core.start).not.toHaveBeenCalled();
  });

  it('foreignWorkspace: an enterprise install accepts its own teams and refuses another enterprise', () => {
    expect(foreignWorkspace({ team_id: 'T1', enterprise_id: 'E1' }, { teamId: 'T0', enterpriseId: 'E1' })).toBeUndefined();
    expect(foreignWorkspace({ team_id: 'T1', enterprise_id: 'E2' }, { teamId: 'T0', enterpriseId: 'E1' })).toMatch(/enterprise E2/);
    expect(foreignWorkspace({ team_id: 'T0' }, { teamId: 'T0' })).toBeUndefined();
    expect(foreignWorkspace({}, { teamId: 'T0' })).toBe('no team named');
    expect(foreignWorkspace(null, { teamId: 'T0' })).toBe('no body');
  });
});

describe('the serve process survives (compiled `xsupgrade serve`)', () => {
  jest.setTimeout(60_000);

  it('signed payload=null gets a 400 and the process keeps answering; an unhandled rejection is logged, not fatal', async () => {
    const api = await startFakeSlackApi({ token: BOT_TOKEN });
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-guard-'));
    const pools = join(dir, 'pools.yaml');
    writeFileSync(
      pools,
      ['pools:', '  - name: pool-a', '    masterUrl: http://127.0.0.2:34567', '    username: root', '    passwordEnv: XS_GUARD_PASSWORD', '    tls: { mode: insecure-http }', '    target: "7.6"', '    upgrade: { mode: manual }', '    slack:', `      channel: ${CHANNEL}`, '      approvers: { users: [U0MIKA] }', ''].join('\n'),
    );
    const env = { PATH: process.env.PATH ?? '', SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, XSUPGRADE_PORT: '0', SLACK_API_URL: api.url, XSUPGRADE_POOLS: pools, XSUPGRADE_STATE: join(dir, 'state.sqlite'), XS_GUARD_PASSWORD: 'guard-password', XSUPGRADE_LOG_LEVEL: 'info' };
    // the compiled serve, with one detached rejection injected after start-up (as a library bug would produce)
    const inject = join(dir, 'inject.js');
    writeFileSync(inject, "setTimeout(() => { Promise.reject(new Error('detached failure')); }, 500);\n");
    const child = spawn(process.execPath, ['--require', inject, 'dist/src/cli.js', 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/ready \(HTTP on (http:\/\/127\.0\.0\.1:\d+\/slack\/events)/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start: ${stdout} ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const url = /ready \(HTTP on (http:\/\/127\.0\.0\.1:\d+\/slack\/events)/.exec(stdout)![1]!;
      const bad = form({ payload: 'null' });
      expect((await fetch(url, { method: 'POST', headers: signed(bad), body: bad })).status).toBe(400);
      while (!stderr.includes('detached failure')) {
        if (Date.now() > deadline) throw new Error(`no rejection logged: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const res = await fetch(url, { method: 'POST', headers: signed(helpCommand), body: helpCommand });
      expect(res.status).toBe(200);
      expect(child.exitCode).toBeNull();
      expect(stderr).toMatch(/unhandled promise rejection: logged, the process keeps running/);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
