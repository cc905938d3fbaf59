/** Every `xsupgrade` command's arguments and help (pure data; parsed by args.ts, dispatched by main.ts). */
import type { CommandSpec } from './args';

const MODES = ['automatic', 'manual', 'update'] as const;
const NO_POOLS =
  'With no XSUPGRADE_POOLS, the demo pools of `npm start` (pool-a, pool-b… on the simulator, started in this process) are used, and stderr says so.';

export const SPECS = {
  start: {
    name: 'start',
    summary: 'npm start: the local sandbox on simulated pools (or the real bot when Slack and pools are configured)',
    usage: '',
    positionals: [0, 0],
    details: [
      'No SLACK_BOT_TOKEN and no XSUPGRADE_POOLS: runs the local sandbox (demo pools on the simulator, the bot,',
      'and a Slack-like page on http://127.0.0.1:3000). Both set: runs the real bot (same as `xsupgrade serve`).',
      'environment: XSUPGRADE_SANDBOX_PORT (page port, 0 = any), XSUPGRADE_DEMO_SCALE (simulated time speed, default 60),',
      '             XSUPGRADE_STATE (state file; the sandbox keeps state in memory by default), XSUPGRADE_LOG_LEVEL',
    ],
  },
  serve: {
    name: 'serve',
    summary: 'the Slack bot alone (HTTP or Socket Mode; settings from the environment, see docs/slack-install.md)',
    usage: '',
    positionals: [0, 0],
    details: [
      'Settings come from the environment or a .env file in the working directory (see .env.example):',
      '  XSUPGRADE_SLACK_MODE http|socket, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (http), SLACK_APP_TOKEN (socket),',
      '  XSUPGRADE_HOST (loopback, default 127.0.0.1), XSUPGRADE_PORT (default 3000), XSUPGRADE_POOLS, XSUPGRADE_STATE,',
      '  and each pool password variable the pools file names. Install guide: docs/slack-install.md, deployment: docs/deploy.md',
      'GET /healthz, /readyz and /metrics are served on XSUPGRADE_HOST:XSUPGRADE_PORT in both modes.',
    ],
  },
  plan: {
    name: 'plan',
    summary: 'plan a rolling upgrade of a pool: prechecks, order, VM placement (exit 0 ready, 2 blocked, 1 error)',
    usage: '<pool> [--target 7.6] [--mode automatic|manual|update] [--return none|original] [--json] [--scenario <file>]',
    positionals: [0, 1],
    details: [NO_POOLS],
    options: {
      target: { type: 'string', value: 'version', help: 'target version (default: the pool\'s)' },
      mode: { type: 'string', value: 'mode', help: 'upgrade mode', choices: MODES },
      return: { type: 'string', value: 'policy', help: 'VM return policy', choices: ['none', 'original'] },
      json: { type: 'boolean', help: 'the plan as JSON (docs/plan-json.md)' },
      scenario: { type: 'string', value: 'file', help: 'plan a simulated pool started from this scenario file' },
    },
  },
  run: {
    name: 'run',
    summary: 'drive a rolling upgrade of a pool from the terminal',
    usage: '<pool> [--yes]',
    positionals: [1, 1],
    missing: 'which pool? (xsupgrade run <pool>)',
    details: [NO_POOLS],
    options: { yes: { type: 'boolean', short: 'y', help: 'start without asking and approve every gate' } },
  },
  status: {
    name: 'status',
    summary: 'list runs, or show one run with its steps and audit tail',
    usage: '[<run>]',
    positionals: [0, 1],
    details: ['Reads the state store (XSUPGRADE_STATE, default ./data/state.sqlite); no pool connection is needed.'],
  },
  resume: {
    name: 'resume',
    summary: 'resume a paused or orphaned run, or apply a recovery action to its failed step',
    usage: '<run> [--yes] [--action retry|forget-rejoin|rollback-master|skip-host|skip-update|abort --step <id> [--address <a> [--fingerprint <sha256> | --plain-http]]]',
    positionals: [1, 1],
    missing: 'which run? (xsupgrade resume <run>; `xsupgrade status` lists them)',
    options: {
      yes: { type: 'boolean', short: 'y', help: 'approve every gate from here on' },
      action: { type: 'string', value: 'action', help: 'recovery action for the failed step', choices: ['retry', 'forget-rejoin', 'rollback-master', 'skip-host', 'skip-update', 'abort'] },
      step: { type: 'string', value: 'step', help: 'the failed step (default: the run\'s failed step)' },
      address: { type: 'string', value: 'address', help: 'forget-rejoin: the reinstalled host\'s address' },
      fingerprint: { type: 'string', value: 'sha256', help: 'forget-rejoin: the reinstalled host\'s certificate fingerprint, as confirmed on its console' },
      'plain-http': { type: 'boolean', help: 'forget-rejoin: confirm a host that answers over plain http (its identity cannot be verified)' },
    },
  },
  abort: {
    name: 'abort',
    summary: 'abort a run and print every host and VM state',
    usage: '<run>',
    positionals: [1, 1],
    missing: 'which run? (xsupgrade abort <run>; `xsupgrade status` lists them)',
  },
  schedule: {
    name: 'schedule',
    summary: 'plan a pool and schedule a maintenance window for that plan, as in Slack',
    usage: '<pool> <when> [until <end>]',
    positionals: [0, 64],
    details: ['<when>: an ISO date-time or a cron expression ("0 2 * * 6"), with an optional time zone; <end>: a date-time, a duration (4h) or a time of day.'],
  },
  schedules: { name: 'schedules', summary: 'list the maintenance windows', usage: '[<pool>]', positionals: [0, 64] },
  unschedule: { name: 'unschedule', summary: 'delete a maintenance window', usage: '<id>', positionals: [0, 64] },
  state: {
    name: 'state',
    summary: 'copy a SQLite state file into an empty PostgreSQL database for several replicas',
    usage: 'migrate <sqlite-path> <postgres-url>',
    positionals: [0, 3],
  },
  rehearse: {
    name: 'rehearse',
    summary: 'a complete run on a simulated copy of a pool or of a scenario file, gates auto-approved',
    usage: '<pool-or-scenario.yaml> [--fail <host>] [--scale N] [--mode automatic|manual|update]',
    positionals: [1, 1],
    missing: 'which pool or scenario file? (xsupgrade rehearse pool-a, or manifests/demo/pool-a.yaml)',
    details: [NO_POOLS],
    options: {
      fail: { type: 'string', value: 'host', help: 'make this host\'s install fail' },
      scale: { type: 'string', value: 'N', help: 'simulated seconds per real second (default 2000)' },
      mode: { type: 'string', value: 'mode', help: 'upgrade mode', choices: MODES },
    },
  },
  sim: {
    name: 'sim',
    summary: 'run a simulated XenServer pool from a scenario file',
    usage: '--scenario <file.yaml> [--time-scale N] [--admin-port P] [--http]',
    positionals: [0, 0],
    options: {
      scenario: { type: 'string', value: 'file', help: 'scenario file (docs/scenarios.md)' },
      'time-scale': { type: 'string', value: 'N', help: 'simulated seconds per real second (default 1)' },
      'admin-port': { type: 'string', value: 'P', help: 'port of the admin API (default any free port)' },
      http: { type: 'boolean', help: 'plain HTTP instead of HTTPS with a self-signed certificate per host' },
    },
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof SPECS;
