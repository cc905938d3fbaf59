import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/clock';
import type { SlackRefs } from '../../src/domain/types';
import { startFakeSlackApi, FakeSlackApi } from '../../src/sandbox/fake-web-api';
import { createSlackApp, SlackApp } from '../../src/slack/app';
import { openStore, type Store } from '../../src/store';
import { CHANNEL, makeRun, poolConfig, step, withSteps } from './helpers/fixtures';
import { fakeCore, SIGNING_SECRET } from './helpers/harness';
import { captureLogs } from './helpers/logs';
import { HoldingClock as SharedHoldingClock } from './helpers/replicas';

const TOKEN = 'xoxb-durable-outbox-SECRETTOKEN';

/** A HoldingClock whose sleeps also move it on by their length. */
class HoldingClock extends SharedHoldingClock {
  constructor() {
    super(true);
  }
}

/** Waits (by polling the fake's record, not by time) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition not reached');
}

describe.each([
  ['a state file reopened by the new process', 'file'],
  ['an in-memory store shared by both apps', 'memory'],
])('durable Slack outbox (%s)', (_label, mode) => {
  let api: FakeSlackApi;
  let dir: string;
  let store: Store;
  let apps: SlackApp[];
  /** run.slack as Core stores it (saveSlackRefs / loadSlackRefs) */
  let runRefs: Map<string, SlackRefs>;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    api = await startFakeSlackApi({ token: TOKEN });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-durable-outbox-'));
    store = await openStore({ path: mode === 'file' ? join(dir, 'state.sqlite') : ':memory:' });
    apps = [];
    runRefs = new Map();
    logs = captureLogs();
  });
  afterEach(async () => {
    for (const a of apps) await a.stop();
    await store.close();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function newApp(clock: Clock): SlackApp {
    const app = createSlackApp({
      core: fakeCore(),
      pools: [poolConfig()],
      settings: { mode: 'http', botToken: TOKEN, signingSecret: SIGNING_SECRET, port: 0, host: '127.0.0.1', slackApiUrl: api.url },
      logger: logs.logger,
      clock,
      minIntervalMs: 0,
      outboxStore: store.outbox,
      saveSlackRefs: async (runId, refs) => {
        runRefs.set(runId, structuredClone(refs));
      },
      loadSlackRefs: async (runId) => runRefs.get(runId),
    });
    apps.push(app);
    return app;
  }

  /** the bot process stops (SIGTERM); a new one opens the same state */
  async function restart(first: SlackApp): Promise<void> {
    await first.stop();
    apps.splice(apps.indexOf(first), 1);
    if (mode === 'file') {
      const path = join(dir, 'state.sqlite');
      await store.close();
      store = await openStore({ path });
    }
  }

  const okPosts = () => api.calls.filter((c) => c.method === 'chat.postMessage' && c.outcome === 'ok');
  const texts = () => api.messages(CHANNEL).map((m) => String(m.text));

  it('keeps a message that failed (500) stored at shutdown; the next process sends it first, in order, exactly once', async () => {
    const clock = new HoldingClock();
    const first = newApp(clock);
    await first.start();
    const run = makeRun();
    await first.notifier.runStarted(run);
    await first.notifier.runEvent(run, 'delivered before the failure');
    await until(() => okPosts().length === 2);

    clock.hold = true; // the retry after the failure waits, as if Slack stayed down
    api.failNext('chat.postMessage', { status: 500 });
    await first.notifier.runEvent(run, 'event one (failed with 500)');
    await first.notifier.runEvent(run, 'event two');
    await until(() => api.calls.some((c) => c.outcome === 'http-500') && clock.held > 0); // the retry waits
    clock.hold = false;
    await restart(first);

    const stored = await store.outbox.list();
    expect(stored.map((e) => e.request.args.text)).toEqual([expect.stringContaining('event one'), expect.stringContaining('event two')]);
    expect(JSON.stringify(stored)).not.toContain(TOKEN);
    expect(logs.lines.join('\n')).toContain('kept in the state store');

    const second = newApp(new HoldingClock());
    // a message of the new process queued before start: it goes after the stored ones of its channel
    await second.notifier.runEvent(makeRun({ slack: runRefs.get(run.id) }), 'event three (new process)');
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(api.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(3); // held until start
    await second.start();
    await second.idle();

    const header = api.messages(CHANNEL)[0];
    expect(texts().slice(1).map((t) => t.match(/delivered before|event one|event two|event three/)?.[0])).toEqual(['delivered before', 'event one', 'event two', 'event three']);
    expect(api.messages(CHANNEL).slice(1).every((m) => m.thread_ts === header.ts)).toBe(true);
    // exactly once: each text posted successfully once, the one delivered before the restart not again
    for (const t of ['delivered before', 'event one', 'event two']) {
      expect(okPosts().filter((c) => String(c.args.text).includes(t))).toHaveLength(1);
    }
    expect(await store.outbox.list()).toEqual([]);
  });

  // a crash needs a second connection to the same file: with the in-memory store nothing outlives the process
  const itWithAFile = mode === 'file' ? it : () => undefined;
  itWithAFile('a process that dies without stopping (crash) leaves its pending messages for the next one', async () => {
    const clock = new HoldingClock();
    const crashed = newApp(clock);
    await crashed.start();
    const run = makeRun();
    await crashed.notifier.runStarted(run);
    await until(() => okPosts().length === 1);
    clock.hold = true;
    api.failNext('chat.postMessage', { status: 500 });
    await crashed.notifier.runEvent(run, 'left by the crashed process');
    await until(() => api.calls.some((c) => c.outcome === 'http-500') && clock.held > 0); // the retry waits
    clock.hold = false; // its retry stays held; later sleeps (its final stop in afterEach) do not
    // no stop(): the crashed process's retry never comes; a new process opens the same file
    const path = join(dir, 'state.sqlite');
    const other = await openStore({ path });
    try {
      const next = createSlackApp({
        core: fakeCore(),
        pools: [poolConfig()],
        settings: { mode: 'http', botToken: TOKEN, signingSecret: SIGNING_SECRET, port: 0, host: '127.0.0.1', slackApiUrl: api.url },
        logger: logs.logger,
        clock: new HoldingClock(),
        minIntervalMs: 0,
        outboxStore: other.outbox,
        loadSlackRefs: async (runId) => runRefs.get(runId),
      });
      await next.start();
      await next.idle();
      await next.stop();
      expect(okPosts().filter((c) => String(c.args.text).includes('left by the crashed process'))).toHaveLength(1);
      expect(okPosts().at(-1)?.args.thread_ts).toBe(api.messages(CHANNEL)[0].ts);
      expect(await other.outbox.list()).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('a header never delivered is posted by the next process first, its replies threaded under it, and not posted twice', async () => {
    const clock = new HoldingClock();
    const first = newApp(clock);
    await first.start();
    const run = makeRun();
    clock.hold = true;
    api.failNext('chat.postMessage', { status: 500 });
    await first.notifier.runStarted(run);
    await first.notifier.runEvent(run, 'xs-a1 disabled (R3.3)');
    await first.notifier.approvalNeeded(run, step(run, 'xs-a2:approval'));
    await until(() => api.calls.some((c) => c.outcome === 'http-500') && clock.held > 0); // the retry waits
    clock.hold = false;
    await restart(first);
    expect(okPosts()).toHaveLength(0);
    expect(runRefs.get(run.id)).toBeUndefined();

    const second = newApp(new HoldingClock());
    await second.start();
    // Core recovers the run, which has no Slack refs yet: the header posted from the store is updated, not posted again
    await second.notifier.runUpdated(withSteps(run, { 'xs-a1:disable': { state: 'done' } }));
    await second.idle();

    const messages = api.messages(CHANNEL);
    const headers = messages.filter((m) => m.thread_ts === undefined);
    expect(headers).toHaveLength(1);
    expect(messages.filter((m) => m.thread_ts === headers[0].ts)).toHaveLength(2);
    expect(api.calls.filter((c) => c.method === 'chat.update' && c.outcome === 'ok').length).toBeGreaterThanOrEqual(1);
    expect(runRefs.get(run.id)).toEqual({ channel: CHANNEL, headerTs: headers[0].ts, messages: { 'xs-a2:approval': messages[2].ts } });
    // the decision updates the approval message posted from the store, in place
    await second.notifier.approvalDecided(run, step(run, 'xs-a2:approval'), 'approved', 'U0MIKA');
    await second.idle();
    expect(api.messages(CHANNEL)).toHaveLength(3);
    expect(await store.outbox.list()).toEqual([]);
  });

  it('a stored message whose blocks Slack rejects after the restart goes out as text only, once', async () => {
    const clock = new HoldingClock();
    const first = newApp(clock);
    await first.start();
    clock.hold = true;
    api.failNext('chat.postMessage', { status: 503 });
    await first.notifier.poolNotice('pool-a', 'maintenance window at 02:00');
    await until(() => api.calls.some((c) => c.outcome === 'http-503') && clock.held > 0); // the retry waits
    clock.hold = false;
    await restart(first);
    expect((await store.outbox.list()).map((e) => e.degradable)).toEqual([true]);

    const second = newApp(new HoldingClock());
    api.failNext('chat.postMessage', { error: 'invalid_blocks' });
    await second.start();
    await second.idle();
    expect(okPosts()).toHaveLength(1);
    expect(okPosts()[0].args.blocks).toBeUndefined();
    expect(String(okPosts()[0].args.text)).toContain('maintenance window at 02:00');
    expect(await store.outbox.list()).toEqual([]);
  });

  it('coalesced header refreshes keep only the latest stored', async () => {
    const clock = new HoldingClock();
    const first = newApp(clock);
    await first.start();
    clock.hold = true;
    api.failNext('chat.postMessage', { status: 500 });
    let run = makeRun();
    await first.notifier.runStarted(run);
    await until(() => api.calls.some((c) => c.outcome === 'http-500') && clock.held > 0); // the retry waits
    for (const id of ['xs-a1:disable', 'xs-a1:evacuate', 'xs-a1:stop-vms']) {
      run = withSteps(run, { [id]: { state: 'done' } });
      await first.notifier.runUpdated(run);
    }
    clock.hold = false;
    await restart(first);

    const stored = await store.outbox.list();
    expect(stored.map((e) => e.request.method)).toEqual(['chat.postMessage', 'chat.update']);
    expect(stored[1].coalesceKey).toBe(`header:${run.id}`);
    expect(stored[1].request.refArgs).toEqual({ ts: { runId: run.id }, thread_ts: { runId: run.id } });
    const second = newApp(new HoldingClock());
    await second.start();
    await second.idle();
    expect(okPosts()).toHaveLength(1);
    const updates = api.calls.filter((c) => c.method === 'chat.update' && c.outcome === 'ok');
    expect(updates).toHaveLength(1);
    expect(updates[0].args.ts).toBe(api.messages(CHANNEL)[0].ts);
    // the header shows the latest state (the fake adds block ids)
    const shown = JSON.stringify(api.messages(CHANNEL)[0].blocks).replace(/,"block_id":"\d+"/g, '');
    expect(shown).toBe(JSON.stringify(stored[1].request.args.blocks));
    expect(shown).toContain('waiting for approval');
  });
});
