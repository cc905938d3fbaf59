import { startFakeSlackApi, FakeSlackApi } from '../../src/sandbox/fake-web-api';
import { registry } from '../../src/observe/metrics';
import { escalationJob } from '../../src/slack/escalation';
import { SlackNotifier } from '../../src/slack/notifier';
import { Outbox, type RefusedMessage } from '../../src/slack/outbox';
import { nextIndex, PRIORITY, sendingOrder } from '../../src/slack/outbox-order';
import { createWebClient } from '../../src/slack/web-client';
import { openStore, type Store } from '../../src/store';
import { InstantClock } from './helpers/clock';
import { CHANNEL, makeRun, poolConfig, REQUESTER, withSteps } from './helpers/fixtures';
import { captureLogs } from './helpers/logs';

const TOKEN = 'xoxb-priority-test-TOKEN';

describe('outbox ordering (pure, issue 10 point 10)', () => {
  it('sends the highest priority first and keeps first-in-first-out within a priority', () => {
    const q = [
      { n: 'plan 1', priority: PRIORITY.chatter },
      { n: 'plan 2' },
      { n: 'approval', priority: PRIORITY.alert, group: 'run-b' },
      { n: 'plan 3', priority: PRIORITY.chatter },
    ];
    expect(sendingOrder(q).map((e) => e.n)).toEqual(['approval', 'plan 1', 'plan 2', 'plan 3']);
  });

  it('an alert takes its run\'s earlier messages with it instead of overtaking them (header first, then the events)', () => {
    const q = [
      { n: 'plan 1' },
      { n: 'run-a event', priority: PRIORITY.run, group: 'run-a' },
      { n: 'run-b header', priority: PRIORITY.alert, group: 'run-b' },
      { n: 'plan 2' },
      { n: 'run-b event', priority: PRIORITY.run, group: 'run-b' },
      { n: 'run-b approval', priority: PRIORITY.alert, group: 'run-b' },
    ];
    expect(sendingOrder(q).map((e) => e.n)).toEqual(['run-b header', 'run-b event', 'run-b approval', 'run-a event', 'plan 1', 'plan 2']);
  });

  it('an empty queue has nothing next; entries stored before priorities existed count as chatter', () => {
    expect(nextIndex([])).toBe(-1);
    expect(nextIndex([{}, {}, { priority: PRIORITY.run }])).toBe(2);
  });
});

describe('outbox priority over the wire', () => {
  let api: FakeSlackApi;
  let clock: InstantClock;
  let logs: ReturnType<typeof captureLogs>;
  const outboxes: Outbox[] = [];
  const stores: Store[] = [];

  beforeEach(async () => {
    api = await startFakeSlackApi({ token: TOKEN });
    clock = new InstantClock();
    logs = captureLogs();
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.stop();
    for (const s of stores.splice(0)) await s.close();
    await api.stop();
  });

  const makeOutbox = (extra: Partial<ConstructorParameters<typeof Outbox>[0]> = {}) => {
    const o = new Outbox({ client: createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, logs.logger), clock, logger: logs.logger, ...extra });
    outboxes.push(o);
    return o;
  };
  const planReply = (o: Outbox, i: number) =>
    o.enqueue({ queue: CHANNEL, describe: `plan reply ${i}`, build: () => ({ method: 'chat.postMessage', args: { channel: CHANNEL, text: `plan reply ${i}` } }) });
  const posted = () => api.calls.filter((c) => c.method === 'chat.postMessage' && c.outcome === 'ok').map((c) => String(c.args.text));

  it('an approval request queued behind 100 plan replies in its channel is the second message out (after its run header)', async () => {
    const outbox = makeOutbox();
    const notifier = new SlackNotifier({ outbox, pools: [poolConfig()], clock, logger: logs.logger });
    // a flood of plan commands by one user: 100 replies waiting in the channel's queue
    for (let i = 0; i < 100; i++) planReply(outbox, i);
    const run = makeRun({ id: 'pool-a-20261125-7', state: 'awaiting-approval' });
    const gated = withSteps(run, { 'xs-a1:approval': { state: 'awaiting-approval' } });
    await notifier.approvalNeeded(gated, gated.steps.find((s) => s.id === 'xs-a1:approval')!);
    await outbox.idle();
    const sent = api.calls.filter((c) => c.method === 'chat.postMessage' && c.outcome === 'ok');
    expect(sent).toHaveLength(102);
    // the first plan reply may already be in flight when the run's messages arrive; then the header, then the approval
    const headerAt = sent.findIndex((c) => String(c.args.text).includes('pool-a-20261125-7') && c.args.thread_ts === undefined);
    const approvalAt = sent.findIndex((c) => c.args.thread_ts !== undefined);
    expect(headerAt).toBeLessThanOrEqual(1);
    expect(approvalAt).toBe(headerAt + 1);
    expect(String(sent[approvalAt].args.text)).toMatch(/approv/i);
    // still one channel, still paced: one spacing sleep between consecutive messages
    expect(clock.sleeps.filter((ms) => ms === 1000).length).toBeGreaterThanOrEqual(101);
    // the approval is threaded under its header
    const approvalMsg = api.messages(CHANNEL).find((m) => m.thread_ts !== undefined);
    expect(approvalMsg?.thread_ts).toBe(api.messages(CHANNEL).find((m) => m.text.includes('pool-a-20261125-7') && m.thread_ts === undefined)?.ts);
  });

  it('keeps each entry\'s priority in the store, so a restarted bot still sends the approval before the chatter', async () => {
    const store = await openStore({ path: ':memory:', clock });
    stores.push(store);
    // the first process queues (and stores) but never delivers: it stops before restore() opened its workers
    const first = makeOutbox({ store: store.outbox });
    const notifier = new SlackNotifier({ outbox: first, pools: [poolConfig()], clock, logger: logs.logger });
    for (let i = 0; i < 5; i++) planReply(first, i);
    const run = withSteps(makeRun({ id: 'pool-a-20261125-8' }), { 'xs-a1:approval': { state: 'awaiting-approval' } });
    await notifier.approvalNeeded(run, run.steps.find((s) => s.id === 'xs-a1:approval')!);
    await first.stop();
    const stored = await store.outbox.list();
    expect(stored.filter((r) => r.priority === PRIORITY.alert && r.group === run.id).length).toBeGreaterThanOrEqual(2);
    expect(stored.filter((r) => r.priority === undefined)).toHaveLength(5);

    const second = makeOutbox({ store: store.outbox });
    expect(await second.restore()).toBe(stored.length);
    await second.idle();
    const order = posted();
    expect(order[0]).toContain('pool-a-20261125-8');
    expect(order.slice(-5)).toEqual(['plan reply 0', 'plan reply 1', 'plan reply 2', 'plan reply 3', 'plan reply 4']);
    expect(await store.outbox.list()).toEqual([]);
  });
});

describe('permanent Slack refusals are escalated once, not retried forever (issue 14)', () => {
  let api: FakeSlackApi;
  let clock: InstantClock;
  let logs: ReturnType<typeof captureLogs>;
  let outbox: Outbox;
  let refused: RefusedMessage[];

  beforeEach(async () => {
    api = await startFakeSlackApi({ token: TOKEN });
    clock = new InstantClock();
    logs = captureLogs();
    refused = [];
    outbox = new Outbox({
      client: createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, logs.logger),
      clock,
      logger: logs.logger,
      onRefused: (r) => {
        refused.push(r);
        const job = escalationJob(r, 'C0OPERATORS');
        if (job) outbox.enqueue(job);
      },
    });
  });
  afterEach(async () => {
    await outbox.stop();
    await api.stop();
  });

  const refusalCount = async (code: string) => {
    const m = (await registry.getSingleMetric('xsupgrade_slack_permanent_refusals_total')!.get()).values.find((v) => v.labels.code === code);
    return m?.value ?? 0;
  };

  it('not_in_channel: each message is tried once, the refusal is escalated once to the operator channel, with a metric', async () => {
    const before = await refusalCount('not_in_channel');
    // every post is refused (the escalation to the operator channel too: the fake workspace has one channel)
    for (let i = 0; i < 10; i++) api.failNext('chat.postMessage', { error: 'not_in_channel' });
    const notifier = new SlackNotifier({ outbox, pools: [poolConfig()], clock, logger: logs.logger });
    const run = makeRun();
    await notifier.runStarted(run);
    await notifier.runEvent(run, 'xs-a1 disabled');
    await notifier.runEvent(run, 'xs-a1 evacuated');
    await outbox.idle();
    // three messages, three attempts: no retry of a refusal that only a person can fix
    expect(api.calls.filter((c) => c.outcome === 'not_in_channel' && c.args.channel === CHANNEL)).toHaveLength(3);
    expect(clock.sleeps.filter((ms) => ms > 1000)).toEqual([]);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ queue: CHANNEL, reason: 'not_in_channel', requester: REQUESTER, tokenLevel: false });
    expect(await refusalCount('not_in_channel')).toBe(before + 4);
    const escalation = { text: String(api.calls.find((c) => c.args.channel === 'C0OPERATORS')?.args.text) };
    expect(escalation.text).toContain('not_in_channel');
    expect(escalation.text).toContain('/invite @xsupgrade');
    expect(escalation.text).toContain(`<#${CHANNEL}>`);
    const errors = logs.entries().filter((e) => e.level === 50 && e.reason === 'not_in_channel' && e.queue === CHANNEL);
    expect(errors).toHaveLength(3);
    expect(errors.filter((e) => String(e.msg).includes('escalated') && !String(e.msg).includes('already'))).toHaveLength(1);
  });

  it('a channel that takes messages again is escalated again at its next refusal', async () => {
    api.failNext('chat.postMessage', { error: 'is_archived' });
    outbox.enqueue({ queue: CHANNEL, describe: 'a', build: () => ({ method: 'chat.postMessage', args: { channel: CHANNEL, text: 'a' } }) });
    outbox.enqueue({ queue: CHANNEL, describe: 'b', build: () => ({ method: 'chat.postMessage', args: { channel: CHANNEL, text: 'b' } }) });
    await outbox.idle();
    api.failNext('chat.postMessage', { error: 'is_archived' });
    outbox.enqueue({ queue: CHANNEL, describe: 'c', build: () => ({ method: 'chat.postMessage', args: { channel: CHANNEL, text: 'c' } }) });
    await outbox.idle();
    expect(refused.map((r) => r.reason)).toEqual(['is_archived', 'is_archived']);
    expect(api.messages(CHANNEL).map((m) => m.text)).toEqual(['b']);
  });

  it('a refused escalation is logged, never escalated again (no loop)', async () => {
    api.failNext('chat.postMessage', { error: 'channel_not_found' });
    api.failNext('chat.postMessage', { error: 'channel_not_found' });
    outbox.enqueue({ queue: CHANNEL, describe: 'a', build: () => ({ method: 'chat.postMessage', args: { channel: CHANNEL, text: 'a' } }) });
    await outbox.idle();
    expect(refused).toHaveLength(1);
    expect(api.calls.filter((c) => c.outcome === 'channel_not_found').map((c) => c.args.channel)).toEqual([CHANNEL, 'C0OPERATORS']);
  });
});

describe('escalationJob', () => {
  const base: RefusedMessage = { queue: CHANNEL, describe: 'approval xs-a1:approval pool-a-1', method: 'chat.postMessage', reason: 'not_in_channel', hint: 'invite the bot', tokenLevel: false };

  it('goes to the operator channel, else to the requester by DM, else nowhere', () => {
    expect(escalationJob(base, 'C0OPS')?.queue).toBe('C0OPS');
    expect(escalationJob({ ...base, requester: 'U0KENJI' }, undefined)?.queue).toBe('U0KENJI');
    // the operator channel is the refusing one: tell the requester instead
    expect(escalationJob({ ...base, requester: 'U0KENJI' }, CHANNEL)?.queue).toBe('U0KENJI');
    expect(escalationJob(base, undefined)).toBeUndefined();
  });

  it('a refused token cannot be told through Slack', () => {
    expect(escalationJob({ ...base, reason: 'invalid_auth', tokenLevel: true, requester: 'U0KENJI' }, 'C0OPS')).toBeUndefined();
  });
});

describe('token-level refusal parks the queue (issue 14)', () => {
  it('invalid_auth: tried once, not retried, and the message stays stored for the next start', async () => {
    const api = await startFakeSlackApi({ token: TOKEN });
    const clock = new InstantClock();
    const logs = captureLogs();
    const store = await openStore({ path: ':memory:', clock });
    const refused: RefusedMessage[] = [];
    const outbox = new Outbox({ client: createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, logs.logger), clock, logger: logs.logger, store: store.outbox, onRefused: (r) => refused.push(r) });
    try {
      await outbox.restore();
      api.failNext('chat.postMessage', { error: 'invalid_auth' });
      outbox.enqueue({ queue: CHANNEL, describe: 'a', build: () => ({ method: 'chat.postMessage', args: { channel: CHANNEL, text: 'a' } }) });
      await outbox.idle();
      expect(api.calls.filter((c) => c.outcome === 'invalid_auth')).toHaveLength(1);
      expect(refused).toEqual([expect.objectContaining({ reason: 'invalid_auth', tokenLevel: true })]);
      expect((await store.outbox.list()).map((r) => r.describe)).toEqual(['a']);
    } finally {
      await outbox.stop();
      await store.close();
      await api.stop();
    }
  });
});
