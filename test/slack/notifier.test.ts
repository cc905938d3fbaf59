import { startFakeSlackApi, FakeSlackApi } from '../../src/sandbox/fake-web-api';
import type { SlackRefs } from '../../src/domain/types';
import { SlackNotifier } from '../../src/slack/notifier';
import { Outbox } from '../../src/slack/outbox';
import { createWebClient } from '../../src/slack/web-client';
import { InstantClock } from './helpers/clock';
import { CHANNEL, makeRun, poolConfig, step, withSteps } from './helpers/fixtures';
import { captureLogs } from './helpers/logs';

const TOKEN = 'xoxb-notifier-test-TOKEN';

describe('SlackNotifier over the outbox', () => {
  let api: FakeSlackApi;
  let clock: InstantClock;
  let outbox: Outbox;
  let notifier: SlackNotifier;
  let saved: Array<{ runId: string; refs: SlackRefs }>;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    api = await startFakeSlackApi({ token: TOKEN });
    clock = new InstantClock();
    logs = captureLogs();
    outbox = new Outbox({ client: createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, logs.logger), clock, logger: logs.logger });
    saved = [];
    notifier = new SlackNotifier({
      outbox,
      pools: [poolConfig()],
      clock,
      logger: logs.logger,
      saveSlackRefs: async (runId, refs) => {
        saved.push({ runId, refs });
      },
    });
  });
  afterEach(async () => {
    await outbox.stop();
    await api.stop();
  });

  const posts = () => api.calls.filter((c) => c.method === 'chat.postMessage' && c.outcome === 'ok');

  it('posts the header, threads replies under it, updates it in place and saves the refs', async () => {
    const run = makeRun();
    await notifier.runStarted(run);
    await notifier.runEvent(run, 'xs-a1 disabled (R3.3)');
    const later = withSteps(run, { 'xs-a1:disable': { state: 'done' }, 'xs-a1:evacuate': { state: 'running' } });
    await notifier.runUpdated(later);
    await outbox.idle();

    const [header, reply] = api.messages(CHANNEL);
    expect(header.thread_ts).toBeUndefined();
    expect(header.text).toContain('pool-a-20261125-1');
    expect(header.edited).toBeDefined();
    expect(JSON.stringify(header.blocks)).toContain('evacuating VMs');
    expect(reply.thread_ts).toBe(header.ts);
    expect(JSON.stringify(reply.blocks)).toContain('xs-a1 disabled (R3.3)');
    expect(saved.at(-1)).toEqual({ runId: run.id, refs: { channel: CHANNEL, headerTs: header.ts, messages: {} } });
  });

  it('R1.4: the next hop\'s plan goes in the finished hop\'s thread with its Start, which a run start withdraws', async () => {
    const run = { ...makeRun(), state: 'done' as const };
    await notifier.runStarted(run);
    const next = { ...run.plan, id: 'f'.repeat(64), createdAt: run.createdAt + 1, executable: true, prechecks: [] };
    await notifier.hopPlanned(run, next);
    await outbox.idle();
    const [header, plan] = api.messages(CHANNEL);
    expect(plan.thread_ts).toBe(header.ts);
    expect(JSON.stringify(plan.blocks)).toContain('Start upgrade');
    expect(JSON.stringify(plan.blocks)).toContain('from the live pool after hop');
    expect(notifier.planMessages.knows(run.pool, CHANNEL, plan.ts)).toBe(true);
    // the next hop's run starts: every plan message of the pool loses its Start
    await notifier.runStarted({ ...makeRun(), id: 'pool-a-20261125-2', planHash: next.id, plan: next });
    await outbox.idle();
    const updated = api.messages(CHANNEL).find((m) => m.ts === plan.ts)!;
    expect(JSON.stringify(updated.blocks)).not.toContain('Start upgrade');
  });

  it('returns before Slack answers: a run never waits on delivery', async () => {
    const run = makeRun();
    const returned = notifier.runStarted(run).then(() => api.calls.length);
    expect(await returned).toBe(0);
    await outbox.idle();
    expect(posts()).toHaveLength(1);
  });

  it('replaces the approval buttons by who decided and when', async () => {
    const run = withSteps(makeRun({ state: 'awaiting-approval' }), { 'xs-a2:approval': { state: 'awaiting-approval' } });
    await notifier.runStarted(run);
    await notifier.approvalNeeded(run, step(run, 'xs-a2:approval'));
    await outbox.idle();
    const approval = api.messages(CHANNEL).find((m) => m.text.includes('approval needed'))!;
    expect(JSON.stringify(approval.blocks)).toContain('approval_approve');

    await notifier.approvalDecided(run, step(run, 'xs-a2:approval'), 'approved', 'U0MIKA');
    await outbox.idle();
    const decided = api.messages(CHANNEL).find((m) => m.ts === approval.ts)!;
    expect(JSON.stringify(decided.blocks)).not.toContain('approval_approve');
    expect(JSON.stringify(decided.blocks)).toContain('Approved by <@U0MIKA>');
    expect(saved.at(-1)!.refs.messages).toEqual({ 'xs-a2:approval': approval.ts });
  });

  it('honours 429 Retry-After and keeps the order of a channel', async () => {
    const run = makeRun();
    api.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
    await notifier.runStarted(run);
    for (const text of ['first', 'second', 'third']) await notifier.runEvent(run, text);
    await outbox.idle();

    expect(clock.sleeps).toContain(7000);
    expect(api.calls.filter((c) => c.outcome === 'http-429')).toHaveLength(1);
    const texts = api.messages(CHANNEL).map((m) => m.text);
    expect(texts[0]).toContain('pool-a-20261125-1 · pool-a → 7.6.0');
    expect(texts.slice(1).map((t) => t.split(': ').pop())).toEqual(['first', 'second', 'third']);
    // ~1 message per second per channel between deliveries
    expect(clock.sleeps.filter((ms) => ms === 1000).length).toBeGreaterThanOrEqual(3);
    expect(logs.entries().some((e) => e.msg === 'Slack rate limit: waiting Retry-After' && e.retryAfterMs === 7000)).toBe(true);
  });

  it('retries transient failures (5xx, internal_error) with backoff and delivers', async () => {
    const run = makeRun();
    api.failNext('chat.postMessage', { status: 500 });
    api.failNext('chat.postMessage', { error: 'internal_error' });
    api.failNext('chat.postMessage', { status: 503 });
    await notifier.runStarted(run);
    await outbox.idle();
    expect(posts()).toHaveLength(1);
    expect(clock.sleeps.slice(0, 3)).toEqual([1000, 2000, 4000]);
  });

  it('does not retry a message Slack refuses for good (not_in_channel): logged at error level with the hint, and the next message is tried on its own', async () => {
    const run = makeRun();
    api.failNext('chat.postMessage', { error: 'not_in_channel' });
    await notifier.runStarted(run);
    await notifier.runEvent(run, 'after the header');
    await outbox.idle();
    // the header was refused once and dropped (escalated: test/slack/outbox-priority.test.ts); the event went out
    expect(api.calls.filter((c) => c.outcome === 'not_in_channel')).toHaveLength(1);
    expect(api.messages(CHANNEL).map((m) => m.text)).toEqual([expect.stringContaining('after the header')]);
    const errors = logs.entries().filter((e) => e.level === 50 && e.reason === 'not_in_channel');
    expect(errors).toHaveLength(1);
    expect(String(errors[0].msg)).toContain('/invite @xsupgrade');
  });

  it('falls back to the text-only message when Slack rejects the blocks', async () => {
    const run = makeRun();
    api.failNext('chat.postMessage', { error: 'invalid_blocks' });
    await notifier.runStarted(run);
    await outbox.idle();
    const [header] = api.messages(CHANNEL);
    expect(header.blocks).toBeUndefined();
    expect(header.text).toContain('pool-a-20261125-1');
  });

  it('coalesces header refreshes waiting behind a slow channel into the latest state', async () => {
    let run = makeRun();
    await notifier.runStarted(run);
    for (let i = 0; i < 10; i++) {
      run = { ...run, revision: run.revision + 1, updatedAt: run.updatedAt + i };
      await notifier.runUpdated(run);
    }
    await outbox.idle();
    expect(api.calls.filter((c) => c.method === 'chat.update').length).toBeLessThanOrEqual(1);
  });

  it('after a restart, threads replies under the header stored in run.slack', async () => {
    const first = await (async () => {
      await notifier.runStarted(makeRun());
      await outbox.idle();
      return api.messages(CHANNEL)[0];
    })();
    const restarted = new SlackNotifier({ outbox, pools: [poolConfig()], clock, logger: logs.logger });
    const run = makeRun({ slack: { channel: CHANNEL, headerTs: first.ts, messages: {} } });
    await restarted.runEvent(run, 'resumed after restart');
    await outbox.idle();
    expect(api.messages(CHANNEL)).toHaveLength(2);
    expect(api.messages(CHANNEL)[1].thread_ts).toBe(first.ts);
  });

  it('posts a pool notice in the pool channel, outside any thread', async () => {
    await notifier.poolNotice('pool-a', 'maintenance window starts at 02:00 <!channel>');
    await outbox.idle();
    const [m] = api.messages(CHANNEL);
    expect(m.thread_ts).toBeUndefined();
    expect(m.text).toContain('pool-a');
    expect(JSON.stringify(m.blocks)).toContain('&lt;!channel&gt;');
  });

  it('a reminder or notice renders its mentions as Slack mentions (they notify), never escaped, raw or in a code span', async () => {
    await notifier.poolNotice('pool-a', 'Reminder: <!subteam^S0OPSLEADS> <@U0MIKA> gate xs-a2:approval has been waiting for 30 min.');
    await notifier.poolNotice('pool-a', 'Window w1 (2026-12-03T02:00Z) was unscheduled by <@U0MIKA>.');
    await notifier.runEvent(makeRun(), 'xs-a3 skipped by <@U0MIKA>: it stays disabled');
    await outbox.idle();
    const texts = api.messages(CHANNEL).map((m) => JSON.stringify(m.blocks));
    expect(texts.find((t) => t.includes('Reminder'))).toContain('Reminder: <!subteam^S0OPSLEADS> <@U0MIKA> gate');
    expect(texts.find((t) => t.includes('unscheduled'))).toContain('unscheduled by <@U0MIKA>.');
    expect(texts.find((t) => t.includes('skipped'))).toContain('skipped by <@U0MIKA>:');
    expect(texts.join()).not.toMatch(/&lt;[@!]|`<[@!]/);
  });

  it('never logs the bot token', async () => {
    api.failNext('chat.postMessage', { error: 'invalid_auth' });
    await notifier.runStarted(makeRun());
    await outbox.idle();
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.lines.join('\n')).not.toContain(TOKEN);
  });
});
