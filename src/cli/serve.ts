/**
 * `xsupgrade serve`: the bot alone. Loads the Slack settings, the general settings and the pools file
 * (each missing or invalid setting named, all at once, never a secret value), opens the store, creates
 * the core and the scheduler, and starts the Slack app in HTTP or Socket Mode until SIGINT/SIGTERM.
 */
import pino from 'pino';
import { systemClock, type Clock } from '../clock';
import { loadGeneralSettings, type GeneralSettings } from '../config/env';
import { ConfigError, loadPoolsFile, type PoolConfig } from '../config/pools';
import type { Notifier } from '../domain/ports';
import { createLogger, type Logger } from '../log';
import { loadSlackSettings, SettingsError, type SlackSettings } from '../slack/settings';
import { installProcessGuards } from './process-guard';
import { waitForSignal } from './signals';

export interface ServeConfig {
  slack: SlackSettings;
  general: GeneralSettings;
  pools: PoolConfig[];
}

/** Every configuration problem at once, one line each, naming the variable or file field. */
export function loadServeConfig(env: NodeJS.ProcessEnv): { ok: true; config: ServeConfig } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  let slack: SlackSettings | undefined;
  let general: GeneralSettings | undefined;
  let pools: PoolConfig[] = [];
  try {
    slack = loadSlackSettings(env);
  } catch (e) {
    if (e instanceof SettingsError) problems.push(...e.problems);
    else throw e;
  }
  try {
    general = loadGeneralSettings(env);
  } catch (e) {
    if (e instanceof ConfigError) problems.push(...e.message.split('\n'));
    else throw e;
  }
  if (general && !general.poolsFile) {
    problems.push('XSUPGRADE_POOLS is not set; expected the path of the pools file (format: manifests/pools.example.yaml)');
  } else if (general?.poolsFile) {
    try {
      pools = loadPoolsFile(general.poolsFile).pools;
      for (const p of pools) {
        if (!env[p.passwordEnv]) problems.push(`${p.passwordEnv} is not set; it holds the password of pool ${p.name} (pools file: passwordEnv)`);
        if (p.upgrade.mode === 'automatic') {
          for (const v of [p.upgrade.repositoryUsernameEnv, p.upgrade.repositoryPasswordEnv]) {
            if (v && !env[v]) problems.push(`${v} is not set; it holds a repository credential of pool ${p.name}`);
          }
        }
      }
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.message.split('\n'));
      else throw e;
    }
  }
  if (problems.length > 0 || !slack || !general) return { ok: false, problems };
  return { ok: true, config: { slack, general, pools } };
}

export interface RunningBot {
  port?: number;
  stop(): Promise<void>;
}

/** Wires store → core → scheduler → Slack app and starts them; stops everything it started on failure. */
export async function startBot(config: ServeConfig, opts: { logger: Logger; clock?: Clock; env?: NodeJS.ProcessEnv }): Promise<RunningBot> {
  const clock = opts.clock ?? systemClock;
  const { logger } = opts;
  const [{ openStore, replicaOutbox }, { createCore, defaultOwnerId }, { createScheduler }, { createSlackApp }, { resolvePoolChannels }, { createWebClient }] = await Promise.all([
    import('../store'),
    import('../core'),
    import('../scheduler'),
    import('../slack/app'),
    import('../slack/channels'),
    import('../slack/web-client'),
  ]);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'serve: stop failed'));
  };
  try {
    // a pool channel written by name is resolved to its id now, or the start-up stops naming pool and field
    const channels = await resolvePoolChannels(createWebClient(config.slack, logger), config.pools);
    if (channels.problems.length > 0) throw new Error(channels.problems.join('; '));
    config = { ...config, pools: channels.pools };
    const store = await openStore({ path: config.general.statePath, clock, logger });
    stops.push(() => store.close());
    // the core needs the notifier and the notifier lives in the Slack app, which needs the core
    let notifier: Notifier | undefined;
    const forward = new Proxy({} as Notifier, {
      get: (_t, prop: string) => async (...args: unknown[]) => {
        const target = notifier as unknown as Record<string, (...a: unknown[]) => Promise<void>> | undefined;
        if (target && typeof target[prop] === 'function') await target[prop](...args);
      },
    });
    // this replica's name: in the pool leases, the outbox entries it sends and its heartbeat (docs/ha.md)
    const ownerId = defaultOwnerId(opts.env ?? process.env);
    const leaseTtlMs = config.general.leaseTtlMs;
    logger.info({ store: store.describe(), replica: ownerId }, 'state store open');
    await store.heartbeat(ownerId, leaseTtlMs, clock.now());
    // several replicas may share a PostgreSQL store (docs/ha.md): runs whose lease expires are taken over
    const core = await createCore({
      pools: config.pools,
      store,
      notifier: forward,
      clock,
      logger,
      env: opts.env ?? process.env,
      ownerId,
      leaseTtlMs,
      followReplicas: true,
    });
    stops.push(() => core.shutdown());
    const scheduler = createScheduler({ core, store, notifier: forward, pools: config.pools, clock, logger, settings: config.general.scheduler });
    const slack = createSlackApp({
      core,
      pools: config.pools,
      settings: config.slack,
      logger,
      clock,
      scheduler,
      audit: (e) => store.appendAudit(e),
      // undelivered Slack messages survive a restart (issue 5); the next start sends them first
      // with several replicas, each sends its own and takes over those of a replica that stopped (issue 16)
      outboxStore: replicaOutbox(store, ownerId, clock),
      loadSlackRefs: async (runId) => (await store.getRun(runId))?.slack,
      saveSlackRefs: async (runId, refs) => {
        await store.updateRun(runId, (run) => {
          run.slack = refs;
        });
      },
    });
    notifier = slack.notifier;
    const { port } = await slack.start();
    stops.push(() => slack.stop());
    await core.recoverRuns();
    await scheduler.start();
    stops.push(() => scheduler.stop());
    const beat = setInterval(() => {
      store
        .heartbeat(ownerId, leaseTtlMs, clock.now())
        .then(() => slack.outbox.adoptStored())
        .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'replica heartbeat failed; will retry'));
    }, Math.max(250, leaseTtlMs / 3));
    beat.unref();
    stops.push(async () => clearInterval(beat));
    return { port, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(
      [
        'usage: xsupgrade serve',
        'Runs the Slack bot. Settings come from the environment (see .env.example):',
        '  XSUPGRADE_SLACK_MODE http|socket, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (http), SLACK_APP_TOKEN (socket),',
        '  XSUPGRADE_HOST (loopback, default 127.0.0.1), XSUPGRADE_PORT (default 3000), XSUPGRADE_POOLS, XSUPGRADE_STATE',
        '  (a SQLite file, or a postgres:// URL shared by several replicas: docs/ha.md), XSUPGRADE_LEASE_TTL_SECONDS,',
        '  and each pool password variable the pools file names. Install guide: docs/slack-install.md',
      ].join('\n'),
    );
    return 0;
  }
  const loaded = loadServeConfig(process.env);
  if (!loaded.ok) {
    console.error(`xsupgrade serve: cannot start:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}`);
    return 2;
  }
  const logger = createLogger({ level: loaded.config.general.logLevel, destination: pino.destination(2) });
  installProcessGuards(logger);
  // listen before starting, so that a SIGTERM during start-up still stops what was started
  const stopSignal = waitForSignal();
  let bot: RunningBot;
  try {
    bot = await startBot(loaded.config, { logger });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EADDRINUSE' ? ` (port ${loaded.config.slack.port} is in use: set XSUPGRADE_PORT)` : '';
    console.error(`xsupgrade serve: the bot could not start: ${err.message}${hint}`);
    return 1;
  }
  const { slack } = loaded.config;
  console.log(
    `xsupgrade serve: ready (${slack.mode === 'socket' ? 'Socket Mode' : `HTTP on http://${slack.host}:${bot.port}/slack/events`}, ` +
      `pools: ${loaded.config.pools.map((p) => p.name).join(', ')})`,
  );
  const signal = await stopSignal;
  logger.info({ signal }, 'stopping');
  await bot.stop();
  return 0;
}
