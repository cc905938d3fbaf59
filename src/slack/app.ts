import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App } from '@slack/bolt';
import { Clock, systemClock } from '../clock';
import type { PoolConfig } from '../config/pools';
import type { Core } from '../domain/ports';
import type { AuditEvent, Run, SlackRefs } from '../domain/types';
import type { Logger } from '../log';
import type { OutboxStore } from '../store/types';
import { cached, observeRoutes, Readiness, startObserveServer } from '../observe/health';
import { addCollector, outboxDepth, outboxOldestAge } from '../observe/metrics';
import { planBlocks } from './blocks/plan';
import { boltLogger } from './bolt-logger';
import { classifySlackError } from './errors';
import { escalationJob } from './escalation';
import type { PlanRenderer, SchedulerPort, ToolsPort, SlackContext } from './context';
import { GroupResolver } from './groups';
import { registerListeners } from './listeners';
import { foreignWorkspace, GuardedReceiver, guardSocketMode } from './request-guard';
import { SlackNotifier } from './notifier';
import { Outbox } from './outbox';
import type { SlackSettings } from './settings';
import { createWebClient, webClientOptions } from './web-client';

/**
 * The Slack app (contracts §6): builds the Bolt App in HTTP mode (HTTPReceiver on a loopback
 * address, endpoint /slack/events, requests verified with the signing secret) or Socket Mode,
 * registers the listeners and starts. Everything else lives in listeners/, blocks/ and the outbox.
 */
export interface SlackAppDeps {
  core: Core;
  pools: PoolConfig[];
  settings: SlackSettings;
  logger: Logger;
  clock?: Clock;
  /** schedule commands (issue 6); without it they answer that scheduling is not enabled */
  scheduler?: SchedulerPort;
  /** `/xsupgrade tools` and the checklist's Dismiss button (R5.1); without it they answer that it is not enabled */
  tools?: ToolsPort;
  /** audit sink for refusals decided in the Slack layer (forged buttons, wrong channel) */
  audit?: (e: AuditEvent) => Promise<void>;
  /** where the notifier's message refs (header ts, approval ts) are stored in the run */
  saveSlackRefs?: (runId: string, refs: SlackRefs) => Promise<void>;
  /** the refs stored in a run (messages left by an earlier process refer to its header) */
  loadSlackRefs?: (runId: string) => Promise<SlackRefs | undefined>;
  /** the run as stored (a header refresh left stored by an earlier process is checked against it) */
  loadRun?: (runId: string) => Promise<Run | undefined>;
  /** where undelivered messages survive a restart (store.outbox); without it the outbox is in memory only */
  outboxStore?: OutboxStore;
  /** per-channel spacing of posts (default 1000 ms, Slack's ~1 message/s/channel) */
  minIntervalMs?: number;
  planRenderer?: PlanRenderer;
  /** where permanent Slack refusals are escalated (XSUPGRADE_OPERATOR_CHANNEL); else the run's requester by DM */
  operatorChannel?: string;
  /** readiness checks served on /readyz; the app adds its "slack" check (default: a list of its own) */
  readiness?: Readiness;
  /** user-group lookups and their cache, shared with the scheduler's check of a window's creator (default: its own) */
  groups?: GroupResolver;
}

export interface SlackApp {
  app: App;
  notifier: SlackNotifier;
  outbox: Outbox;
  readiness: Readiness;
  /** the port actually bound (useful with port 0): the events endpoint in HTTP mode, /healthz… in Socket Mode */
  start(): Promise<{ port?: number }>;
  stop(): Promise<void>;
  /** resolves when no handler work is in flight and the outbox is empty (tests, shutdown) */
  idle(): Promise<void>;
}

export const EVENTS_PATH = '/slack/events';

interface Identity {
  botId?: string;
  botUserId?: string;
  teamId?: string;
  enterpriseId?: string;
  /** the workspace's URL (auth.test), for links to a run's thread */
  url?: string;
}

/** auth.test with a few retries on transient failures; a refused token is a clear start-up error. */
async function verifyBotToken(client: { apiCall(method: string, args?: Record<string, unknown>): Promise<object> }, log: Logger): Promise<Identity> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = (await client.apiCall('auth.test', {})) as { bot_id?: string; user_id?: string; team_id?: string; team?: string; enterprise_id?: string | null; url?: string };
      log.info({ botUserId: r.user_id, team: r.team, teamId: r.team_id, enterpriseId: r.enterprise_id ?? undefined }, 'Slack bot token verified');
      if (!r.team_id) throw new Error('Slack auth.test named no team: the installed workspace is unknown, so no request could be checked against it');
      return { botId: r.bot_id, botUserId: r.user_id, teamId: r.team_id, enterpriseId: r.enterprise_id ?? undefined, url: r.url };
    } catch (e) {
      const failure = classifySlackError(e);
      if (failure.kind === 'permanent' || failure.kind === 'bad-content') {
        throw new Error(`Slack refused SLACK_BOT_TOKEN (${failure.reason}): ${failure.kind === 'permanent' ? failure.hint : 'check the token'}`);
      }
      if (attempt >= 3) throw new Error(`Slack could not be reached to verify SLACK_BOT_TOKEN (${failure.kind === 'rate-limited' ? 'rate limited' : failure.reason})`);
      log.warn({ attempt, err: failure.kind }, 'auth.test failed; retrying');
    }
  }
}

export function createSlackApp(deps: SlackAppDeps): SlackApp {
  const { settings, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const log = logger.child({ component: 'slack' });
  const client = createWebClient(settings, logger);
  // the outbox resolves stored refs through the notifier, which queues its messages in the outbox
  let notifierRef: SlackNotifier | undefined;
  let outboxRef: Outbox | undefined;
  const outbox = new Outbox({
    client,
    clock,
    logger,
    minIntervalMs: deps.minIntervalMs,
    store: deps.outboxStore,
    resolveRef: async (ref) => notifierRef?.resolveRef(ref),
    onRefLearnt: async (ref, ts, channel) => notifierRef?.learnRef(ref, ts, channel),
    onRefused: (refused) => {
      const job = escalationJob(refused, deps.operatorChannel);
      if (job) outboxRef?.enqueue(job);
      else log.error({ reason: refused.reason, queue: refused.queue }, 'a refused Slack message cannot be escalated through Slack (no operator channel set in XSUPGRADE_OPERATOR_CHANNEL, no requester to tell, or the token itself is refused)');
    },
  });
  outboxRef = outbox;
  const notifier = new SlackNotifier({ outbox, pools: deps.pools, clock, logger, saveSlackRefs: deps.saveSlackRefs, loadSlackRefs: deps.loadSlackRefs, loadRun: deps.loadRun, toolsFollowUp: deps.tools !== undefined });
  notifierRef = notifier;

  // The bot's identity comes from one auth.test in start() (retried, with a clear error for a bad token)
  // instead of Bolt's constructor-time call, whose failure would surface only as an unhandled rejection.
  let identity: Identity | undefined;
  const authorize = async () => {
    if (!identity) throw new Error('the Slack app is not started');
    return { botToken: settings.botToken, botId: identity.botId, botUserId: identity.botUserId, teamId: identity.teamId };
  };
  // readiness: Slack reachable and the token accepted (auth.test, reused for 30 s so probes do not hammer Slack)
  const readiness = deps.readiness ?? new Readiness();
  readiness.add(
    cached('slack', 30_000, () => Date.now(), async () => {
      try {
        const r = (await client.apiCall('auth.test', {})) as { team?: string };
        return { ok: true, detail: `token accepted${r.team ? ` by workspace ${r.team}` : ''}` };
      } catch (e) {
        const f = classifySlackError(e);
        return { ok: false, detail: f.kind === 'rate-limited' ? 'rate limited by Slack' : `Slack: ${f.reason}` };
      }
    }),
  );
  let receiver: GuardedReceiver | undefined;
  let app: App;
  if (settings.mode === 'http') {
    if (!settings.signingSecret) throw new Error('SLACK_SIGNING_SECRET is required in HTTP mode');
    // signature, ±5-minute timestamp and payload shape checked before Bolt sees a request (./request-guard.ts)
    receiver = new GuardedReceiver({
      signingSecret: settings.signingSecret,
      endpoints: EVENTS_PATH,
      path: EVENTS_PATH,
      guardLog: log,
      // /healthz, /readyz, /metrics on the same loopback listener (observe/health.ts)
      customRoutes: observeRoutes(readiness),
      logger: boltLogger(logger, 'bolt-http'),
    });
    app = new App({ authorize, receiver, logger: boltLogger(logger), clientOptions: webClientOptions(settings) });
  } else {
    if (!settings.appToken) throw new Error('SLACK_APP_TOKEN is required in Socket Mode');
    app = new App({ authorize, appToken: settings.appToken, socketMode: true, logger: boltLogger(logger), clientOptions: webClientOptions(settings) });
    guardSocketMode(app, log);
  }

  const inFlight = new Set<Promise<unknown>>();
  const ctx: SlackContext = {
    core: deps.core,
    pools: deps.pools,
    logger: log,
    clock,
    outbox,
    notifier,
    groups: deps.groups ?? new GroupResolver(client, clock, log),
    planBlocks: deps.planRenderer ?? planBlocks,
    scheduler: deps.scheduler,
    tools: deps.tools,
    audit: deps.audit,
    workspaceUrl: () => identity?.url,
    track: <T>(work: Promise<T>) => {
      inFlight.add(work);
      work.then(
        () => inFlight.delete(work),
        () => inFlight.delete(work),
      );
      return work;
    },
  };
  // every request must come from the installed workspace (team, and enterprise where present), in both modes
  app.use(async (args) => {
    const reason = identity ? foreignWorkspace(args.body, identity) : 'the app is not started';
    if (!reason) {
      await args.next();
      return;
    }
    const b = args.body as { user?: { id?: string }; user_id?: string };
    const userId = b.user?.id ?? b.user_id ?? 'unknown';
    log.warn({ user: userId, reason }, 'refused a request from outside the installed workspace');
    await deps.audit?.({ at: clock.now(), runId: 'slack', kind: 'refused', actor: userId, message: `request from outside the installed workspace refused: ${reason}` }).catch(() => undefined);
    const ack = (args as { ack?: (r?: unknown) => Promise<void> }).ack;
    if (ack) await ack().catch(() => undefined);
  });
  registerListeners(app, ctx);
  app.error(async (err) => {
    log.error({ err: err.message, code: (err as { code?: string }).code }, 'unhandled error in a Slack listener');
  });

  async function idle(): Promise<void> {
    // handler work can enqueue messages and messages can't start handler work: drain both until stable
    for (;;) {
      if (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await outbox.idle();
      if (inFlight.size === 0 && outbox.pending() === 0) return;
    }
  }

  let stopObserve: (() => Promise<void>) | undefined;
  const removeCollector = addCollector(() => {
    outboxDepth.set(outbox.pending());
    const oldest = outbox.oldestQueuedAt();
    outboxOldestAge.set(oldest === undefined ? 0 : Math.max(0, (clock.now() - oldest) / 1000));
  });

  return {
    app,
    notifier,
    outbox,
    readiness,
    idle,
    async start() {
      identity = await verifyBotToken(client, log);
      // messages an earlier process could not deliver go first (the outbox holds new ones until then)
      await outbox.restore();
      if (settings.mode === 'http') {
        const server = (await app.start({ port: settings.port, host: settings.host })) as Server;
        const port = (server.address() as AddressInfo).port;
        log.info({ mode: 'http', host: settings.host, port, path: EVENTS_PATH, pools: deps.pools.map((p) => p.name) }, `Slack app listening on http://${settings.host}:${port}${EVENTS_PATH}`);
        return { port };
      }
      try {
        await app.start();
      } catch (e) {
        const failure = classifySlackError(e);
        const reason = failure.kind === 'permanent' || failure.kind === 'bad-content' ? failure.reason : (e as Error).message;
        throw new Error(`Slack refused the Socket Mode connection with SLACK_APP_TOKEN (${reason}): check the app-level token (xapp-…, scope connections:write)`);
      }
      // no HTTP endpoint for Slack in Socket Mode: /healthz, /readyz and /metrics get a loopback listener of their own
      const observe = await startObserveServer({ host: settings.host, port: settings.port, readiness });
      stopObserve = observe.stop;
      log.info({ mode: 'socket', pools: deps.pools.map((p) => p.name), port: observe.port }, `Slack app connected in Socket Mode; health and metrics on http://${settings.host}:${observe.port}/healthz`);
      return { port: observe.port };
    },
    async stop() {
      removeCollector();
      await stopObserve?.();
      await app.stop().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'stopping the Bolt app failed'));
      await Promise.allSettled([...inFlight]);
      // give queued messages a short chance to go out; what is left is logged by outbox.stop()
      const grace = new AbortController();
      await Promise.race([outbox.idle(), clock.sleep(5000, grace.signal).catch(() => undefined)]);
      grace.abort(); // the race is settled: do not keep the process alive for the rest of the grace period
      await outbox.stop();
    },
  };
}
