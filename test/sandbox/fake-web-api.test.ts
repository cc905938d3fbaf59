import { LogLevel, WebClient, WebClientEvent } from '@slack/web-api';
import { FakeSlackApi, startFakeSlackApi } from '../../src/sandbox/fake-web-api';

const TOKEN = 'xoxb-test-token';
const blocks = [
  { type: 'section', block_id: 'b1', text: { type: 'mrkdwn', text: '*Plan* for pool-a' } },
  { type: 'actions', block_id: 'b2', elements: [{ type: 'button', action_id: 'start', text: { type: 'plain_text', text: 'Start' }, style: 'primary', value: 'x' }] },
];

describe('fake Slack Web API with the real WebClient', () => {
  let fake: FakeSlackApi;
  let client: WebClient;
  beforeEach(async () => {
    fake = await startFakeSlackApi();
    client = new WebClient(TOKEN, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
  });
  afterEach(() => fake.stop());

  it('answers auth.test with the bot identity and records the bearer token', async () => {
    const r = await client.auth.test();
    expect(r).toMatchObject({ ok: true, user_id: fake.directory.bot.userId, bot_id: fake.directory.bot.botId });
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ method: 'auth.test', token: TOKEN, outcome: 'ok' });
  });

  it('posts messages with increasing ts, decodes JSON-encoded blocks and keeps threads', async () => {
    const a = await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'plan', blocks });
    const b = await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'reply', thread_ts: a.ts });
    expect(a.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(b.ts)).toBeGreaterThan(Number(a.ts));
    expect(fake.calls[0].args.blocks).toEqual(blocks);
    const msgs = fake.messages('C0XSUPGRADE');
    expect(msgs.map((m) => [m.text, m.thread_ts])).toEqual([['plan', undefined], ['reply', a.ts]]);
    expect(msgs[0].reply_count).toBe(1);
    expect(msgs[0].user).toBe(fake.directory.bot.userId);
  });

  it('chat.update replaces the stored message; text-only update drops the old blocks', async () => {
    const a = await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'v1', blocks });
    await client.chat.update({ channel: 'C0XSUPGRADE', ts: a.ts!, text: 'v2', blocks: [blocks[0]] });
    expect(fake.messages()[0]).toMatchObject({ text: 'v2', blocks: [blocks[0]], ts: a.ts });
    expect(fake.messages()[0].edited).toBeDefined();
    await client.chat.update({ channel: 'C0XSUPGRADE', ts: a.ts!, text: 'v3' });
    expect(fake.messages()[0].blocks).toBeUndefined();
    expect(fake.messages()).toHaveLength(1);
  });

  it('rejects updating an unknown message like Slack', async () => {
    await expect(client.chat.update({ channel: 'C0XSUPGRADE', ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { ok: false, error: 'message_not_found' },
    });
  });

  it('ephemeral messages are visible to one user and cannot be updated with chat.update', async () => {
    const r = await client.chat.postEphemeral({ channel: 'C0XSUPGRADE', user: 'U0KENJI', text: 'only you' });
    const m = fake.messages()[0];
    expect(m).toMatchObject({ ts: r.message_ts, ephemeralTo: 'U0KENJI' });
    await expect(client.chat.update({ channel: 'C0XSUPGRADE', ts: m.ts, text: 'x' })).rejects.toMatchObject({ data: { error: 'cant_update_message' } });
  });

  it('chat.delete removes the message', async () => {
    const a = await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'gone soon' });
    await client.chat.delete({ channel: 'C0XSUPGRADE', ts: a.ts! });
    expect(fake.messages()).toEqual([]);
  });

  it('rejects a message with more blocks than Slack allows (invalid_blocks, naming the pointer)', async () => {
    const many = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    await expect(client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'x', blocks: many })).rejects.toMatchObject({
      data: { error: 'invalid_blocks', response_metadata: { messages: [expect.stringContaining('/blocks')] } },
    });
    expect(fake.messages()).toEqual([]);
  });

  it('rejects a message whose blocks carry more text in all than Slack accepts (msg_blocks_too_long), though each block is within its own limit', async () => {
    const sections = Array.from({ length: 5 }, () => ({ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(2900) } }));
    await expect(client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'x', blocks: sections })).rejects.toMatchObject({ data: { error: 'msg_blocks_too_long' } });
    expect(fake.messages()).toEqual([]);
    // four of them (11,600 characters) are accepted
    await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'x', blocks: sections.slice(0, 4) });
    expect(fake.messages()).toHaveLength(1);
  });

  it('missing channel is invalid_arguments naming the field', async () => {
    await expect(client.apiCall('chat.postMessage', { text: 'x' })).rejects.toMatchObject({
      data: { error: 'invalid_arguments', response_metadata: { messages: ['[ERROR] missing required field: channel'] } },
    });
  });

  it('views.open / update / push record the view and tie it to the trigger user', async () => {
    const view = { type: 'modal', callback_id: 'forget', title: { type: 'plain_text', text: 'Forget host' }, blocks: [
      { type: 'input', block_id: 'addr', label: { type: 'plain_text', text: 'Address' }, element: { type: 'plain_text_input', action_id: 'v' } },
    ] };
    const trigger = fake.issueTrigger('U0MIKA');
    const opened = await client.views.open({ trigger_id: trigger, view: view as never });
    const id = opened.view!.id!;
    expect(fake.getView(id)).toMatchObject({ user: 'U0MIKA', open: true, view });
    await client.views.update({ view_id: id, view: { ...view, title: { type: 'plain_text', text: 'Changed' } } as never });
    expect((fake.getView(id)!.view.title as { text: string }).text).toBe('Changed');
    const pushed = await client.views.push({ trigger_id: fake.issueTrigger('U0MIKA'), view: view as never });
    expect(fake.getView(pushed.view!.id!)).toMatchObject({ previousViewId: id, rootViewId: id });
    // a trigger is single-use, like Slack's
    await expect(client.views.open({ trigger_id: trigger, view: view as never })).rejects.toMatchObject({ data: { error: 'exchanged_trigger_id' } });
    expect(fake.views()).toHaveLength(2);
  });

  it('a trigger_id expires after 3 s of clock time (Slack: trigger_id lives about 3 s)', async () => {
    let now = 1_700_000_000_000;
    const clock = { now: () => now, sleep: async () => undefined, scale: 1 };
    const timed = await startFakeSlackApi({ clock });
    try {
      const c = new WebClient(TOKEN, { slackApiUrl: timed.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
      const view = { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] };
      const trigger = timed.issueTrigger('U0MIKA');
      now += 3001;
      await expect(c.views.open({ trigger_id: trigger, view: view as never })).rejects.toMatchObject({ data: { error: 'expired_trigger_id' } });
      const fresh = timed.issueTrigger('U0MIKA');
      now += 2999;
      await expect(c.views.open({ trigger_id: fresh, view: view as never })).resolves.toMatchObject({ ok: true });
    } finally {
      await timed.stop();
    }
  });

  it('users.info, usergroups.users.list and conversations.info answer from the directory', async () => {
    expect((await client.users.info({ user: 'U0MIKA' })).user).toMatchObject({ name: 'mika' });
    expect((await client.usergroups.users.list({ usergroup: 'S0OPSLEADS' })).users).toEqual(['U0MIKA']);
    expect((await client.conversations.info({ channel: 'C0XSUPGRADE' })).channel).toMatchObject({ name: 'xs-upgrades' });
    await expect(client.users.info({ user: 'U0NOBODY' })).rejects.toMatchObject({ data: { error: 'user_not_found' } });
  });

  it('failNext: {ok:false} is a platform error, once', async () => {
    fake.failNext('chat.postMessage', { error: 'channel_not_found' });
    await expect(client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'x' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
    await expect(client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'x' })).resolves.toMatchObject({ ok: true });
    expect(fake.calls.map((c) => c.outcome)).toEqual(['channel_not_found', 'ok']);
  });

  it('failNext: a 500 is an HTTP error for WebClient', async () => {
    fake.failNext('chat.update', { status: 500 });
    await expect(client.chat.update({ channel: 'C0XSUPGRADE', ts: '1.1', text: 'x' })).rejects.toMatchObject({ code: 'slack_webapi_http_error', statusCode: 500 });
  });

  it('failNext: a 429 with Retry-After is honoured by WebClient, which retries and succeeds', async () => {
    const retrying = new WebClient(TOKEN, { slackApiUrl: fake.url, retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 0 }, logLevel: LogLevel.ERROR });
    const rateLimited: number[] = [];
    retrying.on(WebClientEvent.RATE_LIMITED, (sec: number) => rateLimited.push(sec));
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 0 });
    const r = await retrying.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'after the limit' });
    expect(r.ok).toBe(true);
    expect(rateLimited).toEqual([0]);
    expect(fake.calls.map((c) => c.outcome)).toEqual(['http-429', 'ok']);
    expect(fake.messages()).toHaveLength(1);
  });

  it('a 429 with rejectRateLimitedCalls surfaces retryAfter', async () => {
    const strict = new WebClient(TOKEN, { slackApiUrl: fake.url, rejectRateLimitedCalls: true, retryConfig: { retries: 0 } });
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
    await expect(strict.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'x' })).rejects.toMatchObject({ code: 'slack_webapi_rate_limited_error', retryAfter: 7 });
  });

  it('rejects calls without a token or with the wrong one when a token is configured', async () => {
    const strictFake = await startFakeSlackApi({ token: 'xoxb-right' });
    try {
      const wrong = new WebClient('xoxb-wrong', { slackApiUrl: strictFake.url, retryConfig: { retries: 0 } });
      await expect(wrong.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
      const none = new WebClient(undefined, { slackApiUrl: strictFake.url, retryConfig: { retries: 0 } });
      await expect(none.auth.test()).rejects.toMatchObject({ data: { error: 'not_authed' } });
    } finally {
      await strictFake.stop();
    }
  });

  it('response_url: ephemeral by default, in_channel, replace_original and delete_original; 5 uses at most', async () => {
    const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const cmdUrl = fake.createResponseUrl({ channel: 'C0XSUPGRADE', user: 'U0KENJI' });
    expect((await post(cmdUrl, { text: 'just you' })).status).toBe(200);
    expect((await post(cmdUrl, { text: 'everyone', response_type: 'in_channel' })).status).toBe(200);
    const [eph, pub] = fake.messages();
    expect(eph).toMatchObject({ text: 'just you', ephemeralTo: 'U0KENJI', via: 'response_url' });
    expect(pub.ephemeralTo).toBeUndefined();

    const msg = await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'approve?', blocks });
    const actionUrl = fake.createResponseUrl({ channel: 'C0XSUPGRADE', user: 'U0MIKA', messageTs: msg.ts });
    await post(actionUrl, { replace_original: true, text: 'approved by mika' });
    expect(fake.messages().find((m) => m.ts === msg.ts)).toMatchObject({ text: 'approved by mika', blocks: undefined });
    await post(actionUrl, { delete_original: true });
    expect(fake.messages().find((m) => m.ts === msg.ts)).toBeUndefined();

    for (let i = 0; i < 3; i++) expect((await post(cmdUrl, { text: `n${i}` })).status).toBe(200);
    expect((await post(cmdUrl, { text: 'sixth' })).status).toBe(404);
    expect((await post(`${fake.origin}/response/unknown`, { text: 'x' })).status).toBe(404);
  });

  it("emits 'call' and 'change' events", async () => {
    const seen: string[] = [];
    fake.on('call', (c) => seen.push(`call:${c.method}`));
    fake.on('change', (c) => seen.push(c.kind));
    await client.chat.postMessage({ channel: 'C0XSUPGRADE', text: 'hi' });
    expect(seen).toEqual(['message-posted', 'call:chat.postMessage']);
  });
});
