import { createHmac } from 'node:crypto';
import type { Clock } from '../../../src/clock';
import type { PoolConfig } from '../../../src/config/pools';
import type { Core } from '../../../src/domain/ports';
import type { AuditEvent, Run } from '../../../src/domain/types';
import { startFakeSlackApi, FakeSlackApi } from '../../../src/sandbox/fake-web-api';
import { createSlackApp, SlackApp, SlackAppDeps } from '../../../src/slack/app';
import { InstantClock } from './clock';
import { CHANNEL, makePlan, makeRun, poolConfig } from './fixtures';
import { captureLogs } from './logs';

/**
 * The recommended end-to-end harness (reference/slack-and-chatops.md §2): the real Bolt app on
 * 127.0.0.1:0, the sandbox's fake Web API, and requests signed and encoded exactly as Slack sends
 * them (Content-Type exactly application/x-www-form-urlencoded).
 */
export const BOT_TOKEN = 'xoxb-harness-0000-BOTTOKENSECRET';
export const SIGNING_SECRET = 'QqSigningSecretForHarness0000001';

export type FakeCore = { [K in keyof Core]: jest.Mock };

/** The certificate fakeCore's probeNewHost reports at any address (R4.2 forget & rejoin). */
export const PROBED_FINGERPRINT = 'A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:01:12:23:34:45:56:67:78:89:9A:AB:BC:CD:DE:EF:F0';

/** A Core whose every method is a jest.fn with a plausible default answer. */
export function fakeCore(run: Run = makeRun()): FakeCore {
  const ok = <T>(value: T) => Promise.resolve({ ok: true as const, value });
  return {
    listPools: jest.fn(() => Promise.resolve([{ name: 'pool-a', channel: CHANNEL, target: '7.6', mode: 'automatic', activeRun: { id: run.id, state: run.state } }])),
    plan: jest.fn(() => ok(makePlan())),
    start: jest.fn(() => ok(run)),
    approve: jest.fn(() => ok(run)),
    hold: jest.fn(() => ok(run)),
    resume: jest.fn(() => ok(run)),
    abort: jest.fn(() => ok({ ...run, state: 'aborted' })),
    recover: jest.fn(() => ok(run)),
    probeNewHost: jest.fn((_run: string, _step: string, address: string) =>
      ok({ address, certificate: { fingerprint256: PROBED_FINGERPRINT, subject: 'CN=xs-a3', issuer: 'CN=xs-a3', selfSigned: true, validFrom: 'Dec  3 03:00:00 2026 GMT', validTo: 'Dec  1 03:00:00 2036 GMT' }, lostVms: ['vm-licence-srv'] }),
    ),
    restore: jest.fn(() => ok(run)),
    liveHosts: jest.fn(() => ok([])),
    getRun: jest.fn((id: string) => Promise.resolve(id === run.id ? run : undefined)),
    status: jest.fn(() => Promise.resolve([run])),
    history: jest.fn(() => Promise.resolve([run])),
  };
}

export interface Harness {
  api: FakeSlackApi;
  slack: SlackApp;
  eventsUrl: string;
  core: FakeCore | Core;
  clock: Clock;
  logs: ReturnType<typeof captureLogs>;
  audits: AuditEvent[];
  /** POST a signed request body; returns status and body text */
  post(body: string, headers?: Record<string, string>): Promise<{ status: number; text: string }>;
  command(text: string, opts?: { user?: string; channel?: string; channelName?: string }): Promise<{ status: number; text: string }>;
  click(actionId: string, value: string, opts?: { user?: string; channel?: string; messageTs?: string; threadTs?: string; blocks?: unknown[] }): Promise<{ status: number; text: string }>;
  submitView(view: { callback_id: string; private_metadata: string; values: Record<string, Record<string, { type: string; value: string | null }>>; id?: string }, user?: string): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}

export function sign(body: string, timestamp: number, secret = SIGNING_SECRET): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export async function startHarness(opts: { core?: FakeCore | Core; pools?: PoolConfig[]; deps?: Partial<SlackAppDeps>; clock?: Clock } = {}): Promise<Harness> {
  const api = await startFakeSlackApi({ token: BOT_TOKEN });
  const clock = opts.clock ?? new InstantClock();
  const logs = captureLogs('debug');
  const audits: AuditEvent[] = [];
  const core = opts.core ?? fakeCore();
  const slack = createSlackApp({
    core,
    pools: opts.pools ?? [poolConfig()],
    settings: { mode: 'http', botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, port: 0, host: '127.0.0.1', slackApiUrl: api.url },
    logger: logs.logger,
    clock,
    audit: async (e) => {
      audits.push(e);
    },
    ...opts.deps,
  });
  const { port } = await slack.start();
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;

  async function post(body: string, headers?: Record<string, string>) {
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(eventsUrl, {
      method: 'POST',
      headers: headers ?? {
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Slack-Request-Timestamp': String(ts),
        'X-Slack-Signature': sign(body, ts),
      },
      body,
    });
    return { status: res.status, text: await res.text() };
  }

  const harness: Harness = {
    api,
    slack,
    eventsUrl,
    core,
    clock,
    logs,
    audits,
    post,
    command(text, o = {}) {
      const user = o.user ?? 'U0KENJI';
      const channel = o.channel ?? CHANNEL;
      const body = new URLSearchParams({
        token: 'deprecated-verification-token',
        team_id: api.directory.teamId,
        team_domain: 'sandbox',
        channel_id: channel,
        channel_name: o.channelName ?? (channel === CHANNEL ? 'xs-upgrades' : 'random'),
        user_id: user,
        user_name: user.toLowerCase(),
        command: '/xsupgrade',
        text,
        api_app_id: 'A0XSUPGRADE',
        is_enterprise_install: 'false',
        response_url: api.createResponseUrl({ channel, user }),
        trigger_id: api.issueTrigger(user),
      }).toString();
      return post(body);
    },
    click(actionId, value, o = {}) {
      const user = o.user ?? 'U0MIKA';
      const channel = o.channel ?? CHANNEL;
      const messageTs = o.messageTs ?? '1732500000.000100';
      const payload = {
        type: 'block_actions',
        user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: api.directory.teamId },
        api_app_id: 'A0XSUPGRADE',
        token: 'deprecated-verification-token',
        container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false, ...(o.threadTs ? { thread_ts: o.threadTs } : {}) },
        trigger_id: api.issueTrigger(user),
        team: { id: api.directory.teamId, domain: 'sandbox' },
        channel: { id: channel, name: 'xs-upgrades' },
        message: { type: 'message', ts: messageTs, text: 'message', blocks: o.blocks ?? [], ...(o.threadTs ? { thread_ts: o.threadTs } : {}) },
        response_url: api.createResponseUrl({ channel, user, messageTs }),
        actions: [{ type: 'button', action_id: actionId, block_id: 'b1', value, text: { type: 'plain_text', text: 'x' }, action_ts: '1732500001.000200' }],
        state: { values: {} },
      };
      return post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    },
    submitView(view, user = 'U0MIKA') {
      const payload = {
        type: 'view_submission',
        team: { id: api.directory.teamId, domain: 'sandbox' },
        user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: api.directory.teamId },
        api_app_id: 'A0XSUPGRADE',
        token: 'deprecated-verification-token',
        trigger_id: api.issueTrigger(user),
        view: {
          id: view.id ?? 'V0001',
          team_id: api.directory.teamId,
          type: 'modal',
          callback_id: view.callback_id,
          private_metadata: view.private_metadata,
          state: { values: view.values },
          hash: '1.abc',
          title: { type: 'plain_text', text: 'x' },
          blocks: [],
        },
        response_urls: [],
      };
      return post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString());
    },
    async stop() {
      await slack.stop();
      await api.stop();
    },
  };
  return harness;
}

/** Ephemeral messages the fake received for a user (via chat.postEphemeral or response_url). */
export function ephemeralsFor(api: FakeSlackApi, user: string): string[] {
  return api.messages().filter((m) => m.ephemeralTo === user).map((m) => `${m.text}\n${JSON.stringify(m.blocks ?? [])}`);
}
