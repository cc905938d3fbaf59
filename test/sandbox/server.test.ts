import { App, LogLevel, verifySlackRequest, type BlockAction } from '@slack/bolt';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { FakeSlackApi, startFakeSlackApi } from '../../src/sandbox/fake-web-api';
import { SandboxServer, startSandboxServer } from '../../src/sandbox/server';
import { slackSignature, signedHeaders } from '../../src/sandbox/signing';

const SECRET = 'sandbox-test-signing-secret';

describe('request signing', () => {
  it("is accepted by Bolt's own verifySlackRequest and matches the documented v0 HMAC", () => {
    const body = 'command=%2Fxsupgrade&text=plan+pool-a';
    const now = 1_732_540_000_000;
    const h = signedHeaders(SECRET, body, now);
    expect(h['content-type']).toBe('application/x-www-form-urlencoded');
    expect(() =>
      verifySlackRequest({ signingSecret: SECRET, body, headers: { 'x-slack-signature': h['x-slack-signature'], 'x-slack-request-timestamp': Number(h['x-slack-request-timestamp']) }, nowMilliseconds: now }),
    ).not.toThrow();
    // known vector: HMAC-SHA256("secret", "v0:1:body")
    expect(slackSignature('secret', 1, 'body')).toBe('v0=' + require('node:crypto').createHmac('sha256', 'secret').update('v0:1:body').digest('hex'));
    expect(() =>
      verifySlackRequest({ signingSecret: 'other', body, headers: { 'x-slack-signature': h['x-slack-signature'], 'x-slack-request-timestamp': Number(h['x-slack-request-timestamp']) }, nowMilliseconds: now }),
    ).toThrow();
  });
});

/** A small real Bolt app standing in for the bot: the same receiver, signature check and parser as production. */
function stubBot(fakeUrl: string, received: unknown[]) {
  const app = new App({
    signingSecret: SECRET,
    token: 'xoxb-stub',
    clientOptions: { slackApiUrl: fakeUrl, retryConfig: { retries: 0 } },
    logLevel: LogLevel.ERROR,
    processBeforeResponse: true,
  });
  app.command('/xsupgrade', async ({ command, ack, client, respond }) => {
    received.push({ kind: 'command', text: command.text, user: command.user_id });
    if (command.text === 'help') return ack({ text: 'usage: /xsupgrade plan <pool>' } as never);
    await ack();
    if (command.text === 'whisper') {
      await respond({ text: 'only for you' });
      return;
    }
    const posted = await client.chat.postMessage({
      channel: command.channel_id,
      text: 'Plan for pool-a',
      blocks: [
        { type: 'section', block_id: 'plan', text: { type: 'mrkdwn', text: `:clipboard: Plan for pool-a by <@${command.user_id}>` } },
        {
          type: 'actions',
          block_id: 'plan-actions',
          elements: [
            { type: 'button', action_id: 'approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: 'pool-a' },
            { type: 'button', action_id: 'forget', text: { type: 'plain_text', text: 'Forget host & rejoin…' }, value: 'xs-a3' },
          ],
        },
      ],
    });
    await client.chat.postMessage({ channel: command.channel_id, thread_ts: posted.ts, text: 'thread reply' });
  });
  app.action('approve', async ({ ack, body, client, action }) => {
    await ack();
    const b = body as BlockAction & { channel: { id: string }; message: { ts: string }; container: { message_ts: string } };
    received.push({ kind: 'action', user: b.user.id, value: (action as { value: string }).value, ts: b.container.message_ts });
    await client.chat.update({ channel: b.channel.id, ts: b.message.ts, text: `Approved by <@${b.user.id}>`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:white_check_mark: Approved by <@${b.user.id}>` } }] });
  });
  app.action('forget', async ({ ack, body, client }) => {
    await ack();
    await client.views.open({
      trigger_id: (body as { trigger_id: string }).trigger_id,
      view: {
        type: 'modal',
        callback_id: 'forget-modal',
        private_metadata: 'run-1',
        title: { type: 'plain_text', text: 'Forget & rejoin' },
        submit: { type: 'plain_text', text: 'Forget and rejoin' },
        blocks: [{ type: 'input', block_id: 'address', label: { type: 'plain_text', text: 'New address' }, element: { type: 'plain_text_input', action_id: 'value' } }],
      },
    });
  });
  app.view('forget-modal', async ({ ack, view, body }) => {
    const address = view.state.values.address.value.value;
    received.push({ kind: 'view', address, user: body.user.id, meta: view.private_metadata });
    if (!address || !/^\d+\.\d+\.\d+\.\d+$/.test(address)) return ack({ response_action: 'errors', errors: { address: 'an IPv4 address like 127.0.0.9' } });
    await ack();
  });
  return app;
}

describe('sandbox server with a real Bolt app', () => {
  let fake: FakeSlackApi;
  let sandbox: SandboxServer;
  let app: App;
  let received: Array<Record<string, unknown>>;
  let boltServer: Server;
  let sim: Server;
  let simCalls: string[];

  beforeEach(async () => {
    received = [];
    simCalls = [];
    fake = await startFakeSlackApi();
    app = stubBot(fake.url, received);
    boltServer = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
    const port = (boltServer.address() as AddressInfo).port;
    sim = createServer((req, res) => {
      simCalls.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url?.endsWith('/reinstall') ? { address: '127.0.9.3', url: 'http://127.0.9.3:1' } : [{ name: 'pool-a', hosts: [] }]));
    });
    await new Promise<void>((ok) => sim.listen(0, '127.0.0.1', ok));
    sandbox = await startSandboxServer({
      port: 0,
      fake,
      slackEventsUrl: `http://127.0.0.1:${port}/slack/events`,
      signingSecret: SECRET,
      simAdminUrl: `http://127.0.0.1:${(sim.address() as AddressInfo).port}`,
    });
  });
  afterEach(async () => {
    await sandbox.stop();
    await app.stop();
    await fake.stop();
    await new Promise((ok) => sim.close(ok));
  });

  const post = async (path: string, body: unknown) => {
    const r = await fetch(new URL(path, sandbox.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const stateFor = async (user: string) => (await (await fetch(new URL(`/api/state?user=${user}`, sandbox.url))).json()) as {
    messages: Array<{ ts: string; threadTs?: string; html: string; ephemeral: boolean; replyCount: number; author: string }>;
    views: Array<{ id: string; body: string }>;
  };

  it('serves the page and its assets', async () => {
    const page = await fetch(sandbox.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/static/app.js');
    expect((await fetch(new URL('/static/app.js', sandbox.url))).headers.get('content-type')).toContain('javascript');
    expect((await fetch(new URL('/static/../server.ts', sandbox.url))).status).toBe(404);
  });

  it('a typed slash command reaches the Bolt app signed; the posted blocks and thread come back rendered', async () => {
    expect((await post('/api/command', { user: 'U0KENJI', text: '/xsupgrade plan pool-a' })).body).toEqual({ ok: true });
    expect(received).toEqual([{ kind: 'command', text: 'plan pool-a', user: 'U0KENJI' }]);
    const s = await stateFor('U0KENJI');
    expect(s.messages).toHaveLength(2);
    expect(s.messages[0].html).toContain('Plan for pool-a by <span class="mention mention-me">@kenji</span>');
    expect(s.messages[0].html).toContain('class="btn primary"');
    expect(s.messages[0].replyCount).toBe(1);
    expect(s.messages[1].threadTs).toBe(s.messages[0].ts);
    expect(s.messages[0].author).toBe('xsupgrade');
  });

  it('the slash command ack body is shown ephemerally to the invoking user only', async () => {
    await post('/api/command', { user: 'U0KENJI', text: '/xsupgrade help' });
    expect((await stateFor('U0KENJI')).messages.map((m) => [m.html.includes('usage: /xsupgrade plan'), m.ephemeral])).toEqual([[true, true]]);
    expect((await stateFor('U0MIKA')).messages).toEqual([]);
  });

  it('respond() through the response_url is ephemeral to the invoking user', async () => {
    await post('/api/command', { user: 'U0MIKA', text: '/xsupgrade whisper' });
    expect((await stateFor('U0MIKA')).messages.map((m) => m.ephemeral)).toEqual([true]);
    expect((await stateFor('U0KENJI')).messages).toEqual([]);
  });

  it('a button click is a signed block_actions payload from the current user; chat.update shows in place', async () => {
    await post('/api/command', { user: 'U0KENJI', text: '/xsupgrade plan pool-a' });
    const ts = (await stateFor('U0MIKA')).messages[0].ts;
    expect((await post('/api/action', { user: 'U0MIKA', ts, blockId: 'plan-actions', actionId: 'approve' })).body).toEqual({ ok: true });
    expect(received[1]).toEqual({ kind: 'action', user: 'U0MIKA', value: 'pool-a', ts });
    const s = await stateFor('U0MIKA');
    expect(s.messages[0].html).toContain('Approved by <span class="mention mention-me">@mika</span>');
    expect(s.messages).toHaveLength(2);
    // the button is gone now: a stale click is refused without reaching the app
    expect((await post('/api/action', { user: 'U0MIKA', ts, blockId: 'plan-actions', actionId: 'approve' })).status).toBe(409);
    expect(received).toHaveLength(2);
  });

  it('a modal opened with views.open is submitted as view_submission; errors are shown, then it closes', async () => {
    await post('/api/command', { user: 'U0KENJI', text: '/xsupgrade plan pool-a' });
    const ts = (await stateFor('U0MIKA')).messages[0].ts;
    await post('/api/action', { user: 'U0MIKA', ts, blockId: 'plan-actions', actionId: 'forget' });
    const [view] = (await stateFor('U0MIKA')).views;
    expect(view.body).toContain('name="address"');
    expect((await stateFor('U0KENJI')).views).toEqual([]); // modals belong to the user who clicked
    const bad = await post('/api/view/submit', { user: 'U0MIKA', viewId: view.id, values: { address: 'nope' } });
    expect(bad.body).toEqual({ ok: false, errors: { address: 'an IPv4 address like 127.0.0.9' } });
    expect((await stateFor('U0MIKA')).views[0].body).toContain('an IPv4 address like 127.0.0.9');
    const good = await post('/api/view/submit', { user: 'U0MIKA', viewId: view.id, values: { address: '127.0.9.3' } });
    expect(good.body).toEqual({ ok: true });
    expect(received.filter((r) => r.kind === 'view')).toEqual([
      { kind: 'view', address: 'nope', user: 'U0MIKA', meta: 'run-1' },
      { kind: 'view', address: '127.0.9.3', user: 'U0MIKA', meta: 'run-1' },
    ]);
    expect((await stateFor('U0MIKA')).views).toEqual([]);
  });

  it('a wrong signing secret is refused by Bolt (401) and Slackbot says the command failed', async () => {
    const boltPort = (boltServer.address() as AddressInfo).port;
    const bad = await startSandboxServer({ port: 0, fake, slackEventsUrl: `http://127.0.0.1:${boltPort}/slack/events`, signingSecret: 'wrong-secret' });
    try {
      const r = await fetch(new URL('/api/command', bad.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'U0KENJI', text: '/xsupgrade plan pool-a' }) });
      expect(await r.json()).toEqual({ ok: false, error: 'the app answered HTTP 401' });
      expect(received).toEqual([]);
      const s = await stateFor('U0KENJI');
      expect(s.messages.map((m) => [m.author, m.ephemeral, m.html.includes('dispatch_failed')])).toEqual([['Slackbot', true, true]]);
    } finally {
      await bad.stop();
    }
  });

  it('rejects malformed requests with the field named, and unknown commands like Slack', async () => {
    expect(await post('/api/command', { user: 'kenji', text: 'x' })).toEqual({ status: 400, body: { ok: false, error: 'user: a sandbox user id like U0KENJI' } });
    expect((await post('/api/command', { user: 'U0KENJI', text: '/deploy now' })).body).toEqual({ ok: false, error: 'unknown command' });
    expect(received).toEqual([]);
  });

  it('proxies the simulator admin API for the side panel, and only its paths', async () => {
    const pools = await fetch(new URL('/sim/pools', sandbox.url));
    expect(await pools.json()).toEqual([{ name: 'pool-a', hosts: [] }]);
    const re = await post('/sim/pools/pool-a/hosts/xs-a3/reinstall', {});
    expect(re.body).toEqual({ address: '127.0.9.3', url: 'http://127.0.9.3:1' });
    await post('/sim/pools/pool-a/faults', { kind: 'install-fails', host: 'xs-a3' });
    expect((await post('/sim/admin/shutdown', {})).status).toBe(404);
    expect(simCalls).toEqual(['GET /pools', 'POST /pools/pool-a/hosts/xs-a3/reinstall', 'POST /pools/pool-a/faults']);
  });
});
