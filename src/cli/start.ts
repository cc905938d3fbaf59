/**
 * `xsupgrade start` (= `npm start`). With no Slack tokens and no pools file it runs the whole product locally:
 * the demo pools on the simulator, the fake Slack Web API, the real Bolt app and core, and the sandbox page.
 * With Slack tokens and XSUPGRADE_POOLS it runs the real bot, exactly like `xsupgrade serve`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ScaledClock } from '../clock';
import { loadGeneralSettings } from '../config/env';
import { createLogger, Logger } from '../log';
import { DEFAULT_DIRECTORY } from '../sandbox/directory';
import { demoManifests, demoPoolsFile, findDemoManifestDir, passwordEnvName } from '../sandbox/demo-config';
import { chooseMode, isSet } from '../sandbox/start-mode';
import { installProcessGuards } from './process-guard';
import { waitForSignal } from './signals';

export interface StartedStack {
  sandboxUrl: string;
  stop(): Promise<void>;
}

type Env = NodeJS.ProcessEnv;

function port(env: Env, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) throw new Error(`${name} must be a port number between 0 and 65535`);
  return Number(raw);
}

function scaleOf(env: Env): number {
  const raw = env.XSUPGRADE_DEMO_SCALE;
  if (raw === undefined || raw === '') return 60;
  const n = Number(raw);
  if (!(n > 0) || n > 100000) throw new Error('XSUPGRADE_DEMO_SCALE must be a number between 0 and 100000 (how much faster simulated time runs)');
  return n;
}

/** Start everything for the sandbox; `out` receives the human start-up summary. */
export async function startSandboxStack(env: Env, logger: Logger, out: (line: string) => void): Promise<StartedStack> {
  const [{ startSimulator, loadScenario, startAdminServer }, { startFakeSlackApi }, { startSandboxServer }, { startBot }] = await Promise.all([
    import('../sim'),
    import('../sandbox/fake-web-api'),
    import('../sandbox/server'),
    import('./serve'),
  ]);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'start: stop failed'));
  };
  try {
    const scale = scaleOf(env);
    const clock = new ScaledClock(scale);
    const directory = DEFAULT_DIRECTORY;

    // 1. the demo pools on the simulator
    const manifestDir = findDemoManifestDir();
    const sims = [];
    const sources = [];
    for (const file of demoManifests(manifestDir)) {
      const scenario = loadScenario(file);
      const sim = await startSimulator(scenario, { clock, logger });
      stops.push(() => sim.stop());
      sims.push(sim);
      sources.push({
        name: sim.name,
        masterUrl: sim.masterUrl,
        username: sim.username,
        tls: sim.tls,
        repositories: scenario.repositories,
        updates: scenario.updates,
      });
      // the generated config names this variable; the value never reaches a file or a log line
      process.env[passwordEnvName(sim.name)] = sim.password;
    }
    const simAdmin = await startAdminServer(sims, { host: '127.0.0.1', port: 0, logger });
    stops.push(() => simAdmin.stop());

    // 2. the generated pools config, validated by the same parser as a real pools file
    const { yaml, pools } = demoPoolsFile(sources, directory);
    const configDir = mkdtempSync(join(tmpdir(), 'xsupgrade-sandbox-'));
    const poolsFile = join(configDir, 'pools.yaml');
    writeFileSync(poolsFile, yaml, { mode: 0o600 });

    // 3. the fake Slack Web API and the real bot on it
    const botToken = `xoxb-sandbox-${randomBytes(12).toString('hex')}`;
    const signingSecret = randomBytes(16).toString('hex');
    const fake = await startFakeSlackApi({ token: botToken, directory });
    stops.push(() => fake.stop());

    const statePath = isSet(env, 'XSUPGRADE_STATE') ? env.XSUPGRADE_STATE! : ':memory:';
    // the same wiring as `xsupgrade serve` (store, core, scheduler, Slack app), pointed at the fake Web API
    const bot = await startBot(
      {
        slack: { mode: 'http', botToken, signingSecret, port: 0, host: '127.0.0.1', slackApiUrl: fake.url },
        general: { ...loadGeneralSettings(env), statePath },
        pools,
      },
      { logger, clock, env: process.env },
    );
    stops.push(() => bot.stop());
    const eventsUrl = `http://127.0.0.1:${bot.port}/slack/events`;

    // 4. the sandbox page
    const sandbox = await startSandboxServer({
      host: '127.0.0.1',
      port: port(env, 'XSUPGRADE_SANDBOX_PORT', 3000),
      fake,
      slackEventsUrl: eventsUrl,
      signingSecret,
      simAdminUrl: simAdmin.url,
      logger,
    });
    stops.push(() => sandbox.stop());

    const approverGroup = directory.userGroups[0];
    const lines = [
      '',
      'xsupgrade sandbox: the real bot on simulated pools and a local Slack-like page. Nothing leaves this machine.',
      '',
      `  Sandbox page (open this):  ${sandbox.url}`,
      `  Bolt app request URL:      ${eventsUrl}  (the page signs every request with a generated signing secret)`,
      `  Fake Slack Web API:        ${fake.url}`,
      `  Simulator admin API:       ${simAdmin.url}`,
      `  Pools config (generated):  ${poolsFile}  (passwords in XSUPGRADE_DEMO_*_PASSWORD, not in the file)`,
      `  State:                     ${statePath === ':memory:' ? 'in memory (set XSUPGRADE_STATE=<file> to keep it)' : statePath}`,
      `  Simulated time:            ${scale}× faster than real time (XSUPGRADE_DEMO_SCALE)`,
      '',
      '  Simulated pools (XenAPI over HTTPS on loopback, every host certificate pinned):',
      ...sims.flatMap((sim, i) => [
        `    ${sim.name}  master ${sim.masterUrl}  → target ${pools[i].target} (${pools[i].upgrade.mode})`,
        ...sim.hosts().map((h) => `      ${h.name.padEnd(10)} ${h.role.padEnd(6)} ${h.address.padEnd(15)} XenServer ${h.productVersion}`),
      ]),
      '',
      `  Channel #${directory.channel.name}; users: ${directory.users.map((u) => `${u.name} (${u.role})`).join(', ')}; approvers: @${approverGroup?.handle} (${approverGroup?.users.map((id) => directory.users.find((u) => u.id === id)?.name).join(', ')})`,
      `  Try: /xsupgrade plan ${sims[0]?.name ?? 'pool-a'}`,
      '',
      'To run the real bot instead (same command, `npm start`), set both:',
      '  SLACK_BOT_TOKEN=xoxb-… and SLACK_SIGNING_SECRET=… (HTTP mode, XSUPGRADE_PORT) or XSUPGRADE_SLACK_MODE=socket with SLACK_APP_TOKEN=xapp-…',
      '  XSUPGRADE_POOLS=/path/to/pools.yaml (format: manifests/pools.example.yaml; passwords in the env variables it names)',
      'Press Ctrl-C to stop.',
      '',
    ];
    for (const l of lines) out(l);
    logger.info({ sandbox: sandbox.url, events: eventsUrl, pools: sims.map((s) => s.name) }, 'sandbox started');
    return { sandboxUrl: sandbox.url, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(
      [
        'usage: xsupgrade start',
        '',
        'No SLACK_BOT_TOKEN and no XSUPGRADE_POOLS: runs the local sandbox (demo pools on the simulator, the bot,',
        'and a Slack-like page on http://127.0.0.1:3000). Both set: runs the real bot (same as `xsupgrade serve`).',
        '',
        'environment: XSUPGRADE_SANDBOX_PORT (page port, 0 = any), XSUPGRADE_DEMO_SCALE (simulated time speed, default 60),',
        '             XSUPGRADE_STATE (state file; the sandbox keeps state in memory by default), XSUPGRADE_LOG_LEVEL',
      ].join('\n'),
    );
    return 0;
  }
  const mode = chooseMode(process.env);
  if (mode.mode === 'error') {
    console.error(mode.message);
    return 2;
  }
  if (mode.mode === 'real') {
    return (await import('./serve')).run(args);
  }

  // the summary goes to stdout; structured logs to stderr, quiet unless asked
  const logger = createLogger({ level: process.env.XSUPGRADE_LOG_LEVEL ?? 'warn', destination: pino.destination(2) });
  installProcessGuards(logger);
  // listen before starting, so that a SIGTERM during start-up still stops what was started
  const stopSignal = waitForSignal();
  let stack: StartedStack;
  try {
    stack = await startSandboxStack(process.env, logger, (l) => console.log(l));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint =
      err.code === 'EADDRINUSE'
        ? ` (port ${process.env.XSUPGRADE_SANDBOX_PORT || 3000} is in use: set XSUPGRADE_SANDBOX_PORT to another port, or 0 for any free one)`
        : '';
    console.error(`xsupgrade start: the sandbox could not start: ${err.message}${hint}`);
    return 1;
  }
  const signal = await stopSignal;
  console.log(`\n${signal}: stopping the sandbox…`);
  await stack.stop();
  return 0;
}
