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
import type { ToolsNotifier } from '../tools/follow-up';
import { createLogger, type Logger } from '../log';
import { loadSlackSettings, SettingsError, type SlackSettings } from '../slack/settings';
import { statSync } from 'node:fs';
import { Readiness, type CheckResult, type ReadinessCheck } from '../observe/health';
import { addCollector, leaseCollector } from '../observe/metrics';
import { leaseHolders, storeReadiness } from '../store/health';
import { observingNotifier, runCollector } from '../observe/run-metrics';
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
  /** HTTP mode: the Slack events listener (also /healthz, /readyz, /metrics); Socket Mode: the health listener */
  port?: number;
  readiness: Readiness;
  stop(): Promise<void>;
}

/** Readiness of the pools file: still there and still valid (re-validated when its size or mtime changes). */
export function poolsFileCheck(file: string | undefined, pools: PoolConfig[]): ReadinessCheck {
  let last: { stamp: string; result: CheckResult } | undefined;
  return {
    name: 'pools-file',
    check: async () => {
      if (!file) return { ok: true, detail: `${pools.length} pools given at start-up (no pools file)` };
      let stamp: string;
      try {
        const st = statSync(file);
        stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch (e) {
        return { ok: false, detail: `${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      }
      if (last?.stamp === stamp) return last.result;
      let result: CheckResult;
      try {
        result = { ok: true, detail: `${file}: ${loadPoolsFile(file).pools.length} pools valid` };
      } catch (e) {
        result = { ok: false, detail: (e as Error).message.split('\n')[0] };
      }
      last = { stamp, result };
      return result;
    },
  };
}

/** Wires store → core → scheduler → Slack app and starts them; stops everything it started on failure. */
export async function startBot(config: ServeConfig, opts: { logger: Logger; clock?: Clock; env?: NodeJS.ProcessEnv }): Promise<RunningBot> {
  const clock = opts.clock ?? systemClock;
  const { logger } = opts;
  const [{ openStore, replicaOutbox }, { createCore, defaultOwnerId }, { createScheduler }, { createSlackApp }, { resolvePoolChannels }, { createWebClient }, { createToolsFollowUp }, { GroupResolver }] = await Promise.all([
    import('../store'),
    import('../core'),
    import('../scheduler'),
    import('../slack/app'),
    import('../slack/channels'),
    import('../slack/web-client'),
    import('../tools/follow-up'),
    import('../slack/groups'),
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
    // /readyz: the store answers a read, the pools file is valid, Slack accepts the token (added by the app)
    const readiness = new Readiness([
      // one bounded round trip to the store (SQLite file or the replicas' PostgreSQL, issue 16)
      { name: 'store', check: () => storeReadiness(store) },
      poolsFileCheck(config.general.poolsFile, config.pools),
    ]);
    const removeRuns = addCollector(runCollector(store, clock));
    stops.push(async () => removeRuns());
    const removeLeases = addCollector(leaseCollector(() => leaseHolders(store, clock.now())));
    stops.push(async () => removeLeases());
    // the core needs the notifier and the notifier lives in the Slack app, which needs the core
    let notifier: Notifier | undefined;
    const proxy = new Proxy({} as Notifier, {
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
    // step counts and durations for /metrics, seen on their way to Slack
    const forward = observingNotifier(proxy);
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
      // the Tools follow-up below is ticked by this process's scheduler
      toolsFollowUp: true,
    });
    stops.push(() => core.shutdown());
    // R5.1 Tools checklist: ticked with the scheduler; speaks through the Slack notifier (the proxy forwards any method)
    const tools = createToolsFollowUp({
      store,
      clock,
      pools: config.pools,
      notifier: proxy as unknown as ToolsNotifier,
      client: (pool) => core.toolsClient(pool),
      logger,
      settings: config.general.tools,
    });
    // Slack user groups, looked up for clicks (the app) and for a window's creator when it acts (the scheduler)
    const groups = new GroupResolver(createWebClient(config.slack, logger), clock, logger);
    const scheduler = createScheduler({
      core,
      store,
      notifier: forward,
      pools: config.pools,
      clock,
      logger,
      settings: config.general.scheduler,
      followUps: [tools],
      groupsOf: (userId, wanted) => groups.groupsOf(userId, wanted),
    });
    const slack = createSlackApp({
      core,
      pools: config.pools,
      settings: config.slack,
      logger,
      clock,
      scheduler,
      tools,
      audit: (e) => store.appendAudit(e),
      // undelivered Slack messages survive a restart (issue 5); the next start sends them first
      // with several replicas, each sends its own and takes over those of a replica that stopped (issue 16)
      outboxStore: replicaOutbox(store, ownerId, clock),
      readiness,
      groups,
      operatorChannel: config.general.operatorChannel,
      loadSlackRefs: async (runId) => (await store.getRun(runId))?.slack,
      // a header refresh left stored by an earlier process or a stopped replica must not show a state the run has left
      loadRun: (runId) => store.getRun(runId),
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
    return { port, readiness, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export async function run(args: string[]): Promise<number> {
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
