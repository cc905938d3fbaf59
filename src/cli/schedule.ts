/**
 * `xsupgrade schedule <pool> <when> [until <end>]`, `xsupgrade schedules [<pool>]`, `xsupgrade unschedule <id>`:
 * maintenance windows from the terminal (issue 6). The words are parsed by the grammar the slash command uses
 * (src/interface/grammar.ts), so both accept exactly the same input, and they act through the scheduler's API on the
 * same store (XSUPGRADE_STATE) and pools file (XSUPGRADE_POOLS) as `xsupgrade serve`, whose scheduler re-reads the
 * schedules from the store on every tick: a window scheduled here is picked up by a running bot.
 *
 * `schedule` first re-plans the pool (like `/xsupgrade plan`) and approves that plan by scheduling it; at the window's
 * start the bot re-plans again and starts only if nothing that matters changed.
 * Exit codes: 0 done, 1 refused (bad window, unknown pool or schedule, plan blocked, pool unreachable), 2 usage.
 */
import { loadGeneralSettings } from '../config/env';
import { ConfigError, loadPoolsFile, type PoolConfig } from '../config/pools';
import { cliActor, openConsoleCore, type OpenedCore } from '../core/console';
import type { Plan } from '../domain/types';
import { parseCommand, poolName, usageOf, type Command } from '../interface/grammar';
import { createScheduler, type Schedule } from '../scheduler';
import { formatInZone, isValidTimeZone } from '../scheduler/timezone';
import { parseWindow, windowEnd } from '../scheduler/window';
import { systemClock } from '../clock';

type Name = 'schedule' | 'schedules' | 'unschedule';

export interface ScheduleIo {
  out?: (line: string) => void;
  err?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** the instant "now" for the past-date check (default: the system clock) */
  now?: () => number;
}

class Refused extends Error {
  constructor(
    message: string,
    readonly code: 1 | 2,
  ) {
    super(message);
  }
}

const USAGE: Record<Name, string> = {
  schedule: `usage: xsupgrade ${usageOf('schedule')}`,
  schedules: 'usage: xsupgrade schedules [<pool>]',
  unschedule: `usage: xsupgrade ${usageOf('unschedule')}`,
};

/** Re-quotes shell words for the grammar's tokenizer: a word with spaces ("0 2 * * 6") stays one word. */
export function toCommandText(name: Name, args: string[]): string {
  const words = args.map((a) => {
    if (a !== '' && !/[\s"']/u.test(a)) return a;
    if (!a.includes('"')) return `"${a}"`;
    if (!a.includes("'")) return `'${a}'`;
    throw new Refused(`"${a}" contains both kinds of quote`, 2);
  });
  return [name, ...words].join(' ');
}

/** The shape of the arguments (how many, where) is usage (exit 2); their values are checked by the grammar (exit 1). */
function checkShape(name: Name, args: string[]): void {
  const usage = (message: string) => {
    throw new Refused(message, 2);
  };
  if (name === 'schedule') {
    const untilAt = args.findIndex((a) => a.toLowerCase() === 'until');
    if (args.length === 0 || untilAt === 0) usage('schedule needs a pool name and a window start');
    if (args.length === 1 || untilAt === 1) usage('schedule needs a window start after the pool name: 2026-11-28T02:00 or "0 2 * * 6"');
    if (untilAt === args.length - 1) usage('until needs an end: a date-time, a duration like 4h, or a time of day like 06:00');
  } else if (name === 'schedules') {
    if (args.length > 1) usage(`unexpected "${args[1]}" after schedules ${args[0]}`);
  } else if (args.length === 0) usage('unschedule needs a schedule id (as listed by `xsupgrade schedules`)');
  else if (args.length > 1) usage(`unexpected "${args[1]}" after unschedule ${args[0]}`);
}

function parse(name: Name, args: string[]): Command {
  checkShape(name, args);
  // `schedules` takes an optional pool filter in the CLI only (checked by execute with the grammar's poolName)
  const result = parseCommand(toCommandText(name, name === 'schedules' ? [] : args), 'xsupgrade');
  if (result.kind === 'command' && result.command.name === name) return result.command;
  if (result.kind === 'error') throw new Refused(result.message.replace(new RegExp(`^${name}: `), ''), 1);
  throw new Refused(`${name}: not understood`, 2);
}

function loadPools(env: NodeJS.ProcessEnv): PoolConfig[] {
  const settings = loadGeneralSettings(env);
  if (!settings.poolsFile) throw new ConfigError('XSUPGRADE_POOLS is not set: it names the pools file (see manifests/pools.example.yaml)');
  return loadPoolsFile(settings.poolsFile).pools;
}

function poolOf(pools: PoolConfig[], name: string): PoolConfig {
  const pool = pools.find((p) => p.name === name);
  if (!pool) throw new Refused(`unknown pool "${name}" (configured: ${pools.map((p) => p.name).join(', ')})`, 1);
  return pool;
}

async function withScheduler<T>(env: NodeJS.ProcessEnv, pools: PoolConfig[], now: () => number, fn: (o: OpenedCore, s: ReturnType<typeof createScheduler>) => Promise<T>): Promise<T> {
  // the console notifier stays quiet: these commands print their own outcome
  // warnings (pool unreachable) are the error line's business: only errors are logged here unless asked for
  const opened = await openConsoleCore({ ...env, XSUPGRADE_LOG_LEVEL: env.XSUPGRADE_LOG_LEVEL ?? 'error' }, { yes: false, interactive: false, write: () => undefined });
  try {
    const scheduler = createScheduler({ core: opened.core, store: opened.store, notifier: opened.notifier, pools, clock: systemClock, now });
    return await fn(opened, scheduler);
  } finally {
    await opened.close();
  }
}

function planLine(plan: Plan): string {
  const order = plan.hosts.filter((h) => !h.alreadyDone).map((h) => h.name);
  const stops = plan.hosts.flatMap((h) => h.stops.map((s) => `${s.vmName} (${s.action})`));
  return (
    `plan ${plan.id.slice(0, 12)} for ${plan.pool}: ${plan.mode} upgrade to ${plan.target.label}, host order ${order.join(', ') || 'none'}` +
    `, VMs to stop: ${stops.join(', ') || 'none'}`
  );
}

function windowLines(s: Schedule): string[] {
  const lines = [`Window ${s.id} scheduled for ${s.pool}: ${s.whenText}${s.untilText ? ` until ${s.untilText}` : ''}`];
  if (s.nextStartAt !== undefined) {
    const end = windowEnd(s.window, s.timezone, s.nextStartAt);
    lines.push(`  opens ${formatInZone(s.nextStartAt, s.timezone)}${end !== undefined ? `, closes ${formatInZone(end, s.timezone)} (the run pauses before the next host)` : ''}`);
  }
  lines.push(`  at its start the pool is re-planned: the run starts only if the blockers, VMs to stop and host order are unchanged`);
  return lines;
}

export function scheduleLine(s: Schedule): string {
  const next = s.nextStartAt !== undefined ? ` · next ${formatInZone(s.nextStartAt, s.timezone)}` : '';
  const run = s.current?.runId ?? s.runId;
  return `${s.id} · ${s.pool} · ${s.whenText}${s.untilText ? ` until ${s.untilText}` : ''} · ${s.state}${next}${run ? ` · run ${run}` : ''}${s.note ? ` · ${s.note}` : ''}`;
}

async function execute(name: Name, args: string[], io: Required<ScheduleIo>): Promise<number> {
  const command = parse(name, args);
  const pools = loadPools(io.env);
  const actor = cliActor();
  switch (command.name) {
    case 'schedule': {
      const pool = poolOf(pools, command.pool);
      if (!isValidTimeZone(pool.timezone)) throw new Refused(`pool ${pool.name}: unknown timezone "${pool.timezone}" in the pools file`, 1);
      // the window is checked before the pool is read: bad input costs no pool connection
      const window = parseWindow(command.when, command.until, { timezone: pool.timezone, now: io.now() });
      if (!window.ok) throw new Refused(window.error, 1);
      return withScheduler(io.env, pools, io.now, async ({ core }, scheduler) => {
        const plan = await core.plan(pool.name, {}, actor);
        if (!plan.ok) throw new Refused(plan.error, 1);
        io.out(planLine(plan.value));
        const s = await scheduler.schedule(pool.name, command.when, command.until, actor);
        if (!s.ok) throw new Refused(s.error, 1);
        for (const line of windowLines(s.value)) io.out(line);
        return 0;
      });
    }
    case 'schedules': {
      const only = args[0];
      if (only !== undefined) {
        const valid = poolName.safeParse(only);
        if (!valid.success) throw new Refused(`pool: expected ${valid.error.issues[0]?.message} (got "${only}")`, 1);
        poolOf(pools, only);
      }
      return withScheduler(io.env, pools, io.now, async (_o, scheduler) => {
        const list = await scheduler.list(only);
        if (list.length === 0) io.out(`no maintenance windows scheduled${only ? ` for ${only}` : ''}`);
        for (const s of list) io.out(scheduleLine(s));
        return 0;
      });
    }
    case 'unschedule':
      return withScheduler(io.env, pools, io.now, async (_o, scheduler) => {
        const r = await scheduler.unschedule(command.id, actor);
        if (!r.ok) throw new Refused(r.error, 1);
        const running = r.value.state === 'active' && r.value.current?.runId;
        io.out(`Window ${r.value.id} of ${r.value.pool} unscheduled${running ? `; run ${running} keeps going (pause it with the pause command in Slack)` : ''}`);
        return 0;
      });
    default:
      throw new Refused(`${name}: not understood`, 2);
  }
}

async function runNamed(name: Name, args: string[], io: ScheduleIo): Promise<number> {
  const full: Required<ScheduleIo> = {
    out: io.out ?? ((l) => console.log(l)),
    err: io.err ?? ((l) => console.error(l)),
    env: io.env ?? process.env,
    now: io.now ?? (() => systemClock.now()),
  };
  if (args.includes('--help') || args.includes('-h')) {
    full.out(USAGE[name]);
    return 0;
  }
  try {
    return await execute(name, args, full);
  } catch (e) {
    if (e instanceof Refused) {
      full.err(`xsupgrade ${name}: ${e.message}`);
      if (e.code === 2) full.err(USAGE[name]);
      return e.code;
    }
    if (e instanceof ConfigError) {
      full.err(`xsupgrade ${name}: ${e.message.split('\n').join('; ')}`);
      return 1;
    }
    throw e;
  }
}

/** `xsupgrade schedule <pool> <when> [until <end>]` */
export const run = (args: string[], io: ScheduleIo = {}) => runNamed('schedule', args, io);
/** `xsupgrade schedules [<pool>]` */
export const runSchedules = (args: string[], io: ScheduleIo = {}) => runNamed('schedules', args, io);
/** `xsupgrade unschedule <id>` */
export const runUnschedule = (args: string[], io: ScheduleIo = {}) => runNamed('unschedule', args, io);
