/**
 * A header refresh stored by an earlier process or a stopped replica shows the run as it was when it was queued.
 * Sent after a restart or an adoption (issue 16) by a process that has not seen the run since, it would put the
 * header back to a state the run has left (a host "in progress" after it was upgraded, a run "running" after it
 * ended), and nothing may ever refresh it again. The notifier reads the run from the store (`loadRun`) and decides
 * with it: rebuilt from the stored run when that is newer, sent as stored when it is not — and sent as stored when
 * the store cannot be read (a message is never dropped because the store is down).
 */
import type { webApi } from '@slack/bolt';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServeConfig, startBot } from '../../src/cli/serve';
import type { Run } from '../../src/domain/types';
import { startFakeSlackApi, FakeSlackApi } from '../../src/sandbox/fake-web-api';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { createWebClient } from '../../src/slack/web-client';
import { openStore } from '../../src/store';
import { InstantClock } from './helpers/clock';
import { CHANNEL, makeRun, poolConfig, withSteps } from './helpers/fixtures';
import { BOT_TOKEN, SIGNING_SECRET } from './helpers/harness';
import { captureLogs } from './helpers/logs';
import { HoldingClock, SharedStateReplicas } from './helpers/replicas';

const TTL = 10_000;

async function until(cond: () => boolean | Promise<boolean>, tries = 2000): Promise<void> {
  for (let i = 0; i < tries && !(await cond()); i++) await new Promise((r) => setTimeout(r, i < 100 ? 0 : 10));
  if (!(await cond())) throw new Error('condition not reached');
}

const shown = (blocks: unknown) => JSON.stringify(blocks, (k, v: unknown) => (k === 'block_id' ? undefined : v));
const rendered = (run: Run, pool = poolConfig()) => shown(runHeaderMessage(run, pool).blocks);

// revision 1: nothing done; 2: xs-a1 evacuating; 3: xs-a1 upgraded, xs-a2 disabling; 4: the run has ended
const r1 = makeRun();
const r2 = withSteps(r1, { backup: { state: 'done' }, 'pool-prep': { state: 'done' }, 'xs-a1:disable': { state: 'done' }, 'xs-a1:evacuate': { state: 'running' } });
const r3 = withSteps(r2, { 'xs-a1:*': { state: 'done' }, 'xs-a2:disable': { state: 'running' } });
const r4: Run = { ...withSteps(r3, { 'xs-a2:*': { state: 'done' }, 'xs-a3:*': { state: 'done' }, 'pool-finish': { state: 'done' } }), state: 'done', endedAt: Date.UTC(2026, 10, 25, 5, 0) };

describe('a stored header refresh sent by a process that has not seen the run since', () => {
  const TOKEN = 'xoxb-stored-header-unseen-TOKEN';
  const world = new SharedStateReplicas(TOKEN, 'xsupgrade-header-unseen-', TTL);
  let api: FakeSlackApi;
  let clock: HoldingClock;
  beforeEach(async () => ({ api, clock } = await world.start()));
  afterEach(() => world.stop());

  /** one process (or replica) on the shared state file; `loadRun` is the run as the store holds it now */
  const replica = (name: string, loadRun?: (runId: string) => Promise<Run | undefined>) => world.replica(name, loadRun);

  const headerShows = () => shown(api.messages(CHANNEL).find((m) => m.thread_ts === undefined)!.blocks);
  const updates = () => api.calls.filter((c) => c.method === 'chat.update' && c.outcome === 'ok');

  /** process a posts the header (r1), then stops with its refresh to r2 stored (Slack answered 500, retry waiting) */
  async function processALeavesR2Stored(): Promise<string> {
    const a = await replica('replica-a');
    await a.outbox.restore();
    await a.notifier.runStarted(r1);
    await a.outbox.idle();
    clock.hold = true;
    api.failNext('chat.update', { status: 500 });
    await a.notifier.runUpdated(r2);
    await until(() => api.calls.some((c) => c.outcome === 'http-500') && clock.held > 0);
    clock.hold = false;
    const headerTs = a.notifier.slackRefs(r1.id)!.headerTs!;
    await a.outbox.stop();
    const stored = await a.store.outbox.list();
    expect(stored.map((e) => [e.request.method, e.coalesceKey, e.revision])).toEqual([['chat.update', `header:${r1.id}`, r2.revision]]);
    expect(headerShows()).toBe(rendered(r1));
    return headerTs;
  }

  it('the fixtures render different headers (the assertions below can tell them apart)', () => {
    expect(new Set([rendered(r1), rendered(r2), rendered(r3), rendered(r4)]).size).toBe(4);
  });

  it('after a restart: the run moved on (r3) in the store, the header shows r3, not the stored r2', async () => {
    const headerTs = await processALeavesR2Stored();
    const loads: string[] = [];
    const next = await replica('replica-a', async (runId) => {
      loads.push(runId);
      return { ...r3, slack: { channel: CHANNEL, headerTs } };
    });
    expect(await next.outbox.restore()).toBe(1);
    await next.outbox.idle();
    expect(loads).toEqual([r1.id]);
    expect(headerShows()).toBe(rendered(r3));
    expect(await next.store.outbox.list()).toEqual([]);
  });

  it('after an adoption: the run has ended since, the header shows it ended, not running', async () => {
    const headerTs = await processALeavesR2Stored();
    const b = await replica('replica-b', async () => ({ ...r4, slack: { channel: CHANNEL, headerTs } }));
    await b.outbox.restore();
    // a's heartbeat expires: b adopts what a left stored, without having seen the run
    clock.t += TTL + 1;
    await b.store.heartbeat('replica-b', TTL, clock.now());
    expect(await b.outbox.adoptStored()).toBe(1);
    await b.outbox.idle();
    expect(headerShows()).toBe(rendered(r4));
    expect(await b.store.outbox.list()).toEqual([]);
  });

  it('a stored refresh queued before its header was posted: the header the stored run names is updated', async () => {
    // the earlier process queued the refresh while its header post waited (ts stored as a ref), posted the header
    // and saved its ts in the run, then stopped before sending the refresh
    const posted = (await createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, captureLogs().logger).apiCall('chat.postMessage', { channel: CHANNEL, text: 'header', blocks: runHeaderMessage(r1, poolConfig()).blocks })) as webApi.WebAPICallResult & { ts: string };
    const next = await replica('replica-a', async () => ({ ...r3, slack: { channel: CHANNEL, headerTs: posted.ts } }));
    const refresh = runHeaderMessage(r2, poolConfig());
    await next.store.outbox.add({
      queue: CHANNEL,
      describe: `header update ${r1.id}`,
      request: { method: 'chat.update', args: { channel: CHANNEL, text: refresh.text, blocks: refresh.blocks }, refArgs: { ts: { runId: r1.id }, thread_ts: { runId: r1.id } } },
      degradable: true,
      createdAt: clock.now(),
      coalesceKey: `header:${r1.id}`,
      revision: r2.revision,
    });
    await next.outbox.restore();
    await next.outbox.idle();
    expect(updates().map((c) => c.args.ts)).toEqual([posted.ts]);
    expect(api.messages(CHANNEL).filter((m) => m.thread_ts === undefined)).toHaveLength(1);
    expect(headerShows()).toBe(rendered(r3));
  });

  it('the notifier knew the run only at an older revision (r1) than stored (r2), the store at r3: the header shows r3', async () => {
    const headerTs = await processALeavesR2Stored();
    const b = await replica('replica-b', async () => ({ ...r4, slack: { channel: CHANNEL, headerTs } }));
    await b.outbox.restore();
    await b.notifier.runEvent({ ...r1, slack: { channel: CHANNEL, headerTs } }, 'xs-a1 disabled (R3.3)');
    await b.outbox.idle();
    clock.t += TTL + 1;
    await b.store.heartbeat('replica-b', TTL, clock.now());
    expect(await b.outbox.adoptStored()).toBe(1);
    await b.outbox.idle();
    expect(headerShows()).toBe(rendered(r4));
  });

  it('the store holds the run at the stored revision: the refresh goes as stored', async () => {
    const headerTs = await processALeavesR2Stored();
    const next = await replica('replica-a', async () => ({ ...r2, slack: { channel: CHANNEL, headerTs } }));
    await next.outbox.restore();
    await next.outbox.idle();
    expect(headerShows()).toBe(rendered(r2));
    expect(await next.store.outbox.list()).toEqual([]);
  });

  it('the store cannot be read: the refresh goes as stored (never dropped) and a warning names the run', async () => {
    await processALeavesR2Stored();
    const next = await replica('replica-a', async () => {
      throw new Error('database is locked');
    });
    await next.outbox.restore();
    await next.outbox.idle();
    expect(headerShows()).toBe(rendered(r2));
    expect(await next.store.outbox.list()).toEqual([]);
    const warning = next.logs.entries().find((e) => e.level === 40 && e.runId === r1.id);
    expect(warning).toMatchObject({ err: 'database is locked' });
  });

  it('the store does not hold the run: the refresh goes as stored', async () => {
    await processALeavesR2Stored();
    const next = await replica('replica-a', async () => undefined);
    await next.outbox.restore();
    await next.outbox.idle();
    expect(headerShows()).toBe(rendered(r2));
  });
});

describe('xsupgrade serve reads the run from its store for a stored header refresh', () => {
  const POOLS = `
pools:
  - name: pool-a
    masterUrl: http://127.0.0.2:34567
    username: root
    passwordEnv: XS_UNSEEN_TEST_PASSWORD
    tls: { mode: insecure-http }
    target: "7.6"
    upgrade: { mode: manual }
    slack:
      channel: C0XSUPGRADE
      approvers: { users: [U0MIKA] }
`;

  it('a refresh left showing the run running is not sent over a run that has ended since', async () => {
    const api = await startFakeSlackApi({ token: BOT_TOKEN });
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-serve-unseen-'));
    const poolsFile = join(dir, 'pools.yaml');
    writeFileSync(poolsFile, POOLS);
    const statePath = join(dir, 'state.sqlite');
    const env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, XSUPGRADE_PORT: '0', SLACK_API_URL: api.url, XSUPGRADE_POOLS: poolsFile, XSUPGRADE_STATE: statePath, XS_UNSEEN_TEST_PASSWORD: 'x' };
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const pool = loaded.config.pools[0];
    const noTools = { ...r1, plan: { ...r1.plan, toolsUpgrade: [] } };

    // an earlier process: it posted the header (running, r2), then the run ended (written to the store), and its
    // refresh showing the run running (r2) was still waiting in the stored outbox when it stopped
    const client = createWebClient({ botToken: BOT_TOKEN, slackApiUrl: api.url }, captureLogs().logger);
    const running: Run = { ...r2, plan: noTools.plan };
    const posted = (await client.apiCall('chat.postMessage', { channel: CHANNEL, text: runHeaderMessage(running, pool).text, blocks: runHeaderMessage(running, pool).blocks })) as webApi.WebAPICallResult & { ts: string };
    const store = await openStore({ path: statePath });
    await store.createRun({ ...running, slack: { channel: CHANNEL, headerTs: posted.ts } });
    const ended = await store.updateRun(r1.id, (run) => {
      Object.assign(run, { state: r4.state, endedAt: r4.endedAt, steps: r4.steps });
    });
    const storedRefresh = runHeaderMessage(running, pool);
    await store.outbox.add({
      queue: CHANNEL,
      describe: `header update ${r1.id}`,
      request: { method: 'chat.update', args: { channel: CHANNEL, ts: posted.ts, text: storedRefresh.text, blocks: storedRefresh.blocks } },
      degradable: true,
      createdAt: Date.UTC(2026, 10, 25, 3, 0),
      coalesceKey: `header:${r1.id}`,
      revision: running.revision,
      owner: 'a-replica-that-stopped',
    });
    await store.close();
    expect(ended.revision).toBeGreaterThan(running.revision);
    expect(rendered(ended, pool)).not.toBe(rendered(running, pool));

    const bot = await startBot(loaded.config, { logger: captureLogs('info').logger, clock: new InstantClock(), env });
    try {
      await until(() => api.calls.some((c) => c.method === 'chat.update'));
      expect(shown(api.messages(CHANNEL).find((m) => m.ts === posted.ts)!.blocks)).toBe(rendered(ended, pool));
    } finally {
      await bot.stop();
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
