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
import { startDemoPools } from '../sandbox/demo-pools';
import { chooseMode, isSet } from '../sandbox/start-mode';
import { installProcessGuards } from './process-guard';
import { waitForSignal } from './signals';

export interface StartedStack {
  sandboxUrl: string;
  stop(): Promise<void>;
}

type Env = NodeJS.ProcessEnv;

/** Start everything for the sandbox; `out` receives the human start-up summary. */
export async function startSandboxStack(env: Env, logger: Logger, out: (line: string) => void): Promise<StartedStack> {
  const [{ startAdminServer }, { startFakeSlackApi }, { startSandboxServer }, { startBot }] = await Promise.all([
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
    const general = loadGeneralSettings(env);
    const scale = general.demoScale;
    const clock = new ScaledClock(scale);
    const directory = DEFAULT_DIRECTORY;

    // 1. the demo pools on the simulator, and their generated pools config (validated like a real pools file)
    const demo = await startDemoPools({ clock, logger, env: process.env });
    stops.push(() => demo.stop());
    const { sims, pools, yaml } = demo;
    const simAdmin = await startAdminServer(sims, { host: '127.0.0.1', port: 0, logger });
    stops.push(() => simAdmin.stop());
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
        general: { ...general, statePath },
        pools,
      },
      { logger, clock, env: process.env },
    );
    stops.push(() => bot.stop());
    const eventsUrl = `http://127.0.0.1:${bot.port}/slack/events`;

    // 4. the sandbox page
    const sandbox = await startSandboxServer({
      host: '127.0.0.1',
      port: general.sandboxPort,
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
