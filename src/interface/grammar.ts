import { z } from 'zod';
import { parseWindow } from '../scheduler/window';

/**
 * The one command grammar shared by the slash command (`/xsupgrade plan pool-a`) and the CLI
 * (`xsupgrade plan pool-a`). Pure: text in, a validated command (or help, or a clear error) out.
 * Nothing here performs I/O; interfaces execute the command through Core.
 */

// ---------------------------------------------------------------------------------------------
// Field schemas (messages name what was expected; they are shown to operators)
// ---------------------------------------------------------------------------------------------

export const poolName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'a pool name: lower-case letters, digits and dashes, like pool-a');
export const runId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,80}$/, 'a run id like pool-a-20261125-1');
export const targetVersion = z.string().regex(/^\d+(\.\d+){0,2}$/, 'a version like 7.6 or 8.2.1');
export const upgradeMode = z.enum(['automatic', 'manual', 'update'], {
  errorMap: () => ({ message: 'one of automatic, manual, update' }),
});
export const scheduleId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a schedule id as listed by `schedules`');

/**
 * A window's start or end as typed. Its grammar (ISO date-time, cron expression, duration, time of day,
 * optional zone) is the scheduler's (src/scheduler/window.ts); the parser checks it with that module.
 */
export const windowText = z
  .string()
  .min(1, 'a date-time like 2026-11-28T02:00 or a quoted cron expression like "0 2 * * 6"')
  .max(120, 'at most 120 characters');
export const commandSchema = z.discriminatedUnion('name', [
  z.object({ name: z.literal('help') }).strict(),
  z.object({ name: z.literal('pools') }).strict(),
  z.object({ name: z.literal('plan'), pool: poolName, target: targetVersion.optional(), mode: upgradeMode.optional() }).strict(),
  z.object({ name: z.literal('start'), pool: poolName }).strict(),
  z.object({ name: z.literal('status'), subject: z.string().regex(/^[a-z0-9][a-z0-9-]{0,80}$/, 'a pool name or a run id').optional() }).strict(),
  z.object({ name: z.literal('pause'), runId }).strict(),
  z.object({ name: z.literal('resume'), runId }).strict(),
  z.object({ name: z.literal('abort'), runId }).strict(),
  z.object({ name: z.literal('history'), pool: poolName }).strict(),
  z.object({ name: z.literal('schedule'), pool: poolName, when: windowText, until: windowText.optional() }).strict(),
  z.object({ name: z.literal('schedules') }).strict(),
  z.object({ name: z.literal('unschedule'), id: scheduleId }).strict(),
  z.object({ name: z.literal('tools'), pool: poolName }).strict(),
]);
export type Command = z.infer<typeof commandSchema>;
export type CommandName = Command['name'];

export type ParseResult =
  | { kind: 'command'; command: Command }
  /** `help`, empty input or an unknown subcommand (then `unknown` names it). */
  | { kind: 'help'; text: string; unknown?: string }
  | { kind: 'error'; message: string; usage: string };

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

const USAGE: Array<[CommandName, string, string]> = [
  ['help', 'help', 'this text'],
  ['pools', 'pools', 'configured pools and their state'],
  ['plan', 'plan <pool> [target] [mode]', 'read the pool and show its upgrade plan (mode: automatic, manual or update)'],
  ['start', 'start <pool>', 'start the upgrade from the latest plan of the pool'],
  ['status', 'status [<pool>|<run>]', 'the active run of a pool, or one run'],
  ['pause', 'pause <run>', 'finish the host in progress, then stop before the next host is taken down'],
  ['resume', 'resume <run>', 'continue a paused run'],
  ['abort', 'abort <run>', 'stop the run (hosts already upgraded stay upgraded)'],
  ['history', 'history <pool>', 'recent runs of the pool'],
  ['schedule', 'schedule <pool> <when> [until <end>]', 'a maintenance window: <when> is 2026-11-28T02:00 or "0 2 * * 6" [Europe/Paris]; <end> a date-time, 4h or 06:00'],
  ['schedules', 'schedules', 'scheduled maintenance windows'],
  ['unschedule', 'unschedule <id>', 'delete a scheduled window'],
  ['tools', 'tools <pool>', 'VMs whose XenServer Tools are below the final version, once every host runs it (R5.1, R5.3)'],
];

export function usageOf(name: CommandName): string {
  const entry = USAGE.find(([n]) => n === name);
  return entry ? entry[1] : name;
}

/** The usage text; `prefix` is "/xsupgrade" in Slack and "xsupgrade" in the CLI. */
export function usageText(prefix = '/xsupgrade'): string {
  const width = Math.max(...USAGE.map(([, u]) => u.length));
  return [`Usage: ${prefix} <command>`, ...USAGE.map(([, u, what]) => `  ${u.padEnd(width)}  ${what}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

export const MAX_COMMAND_LENGTH = 1000;

class ParseError extends Error {}

/** Splits on whitespace; "double" or 'single' quotes group words (a cron expression). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (/\s/u.test(ch)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) throw new ParseError(`a ${quote === '"' ? 'double' : 'single'} quote is not closed`);
  if (inToken) tokens.push(current);
  return tokens;
}

/** Slack and phones turn quotes into curly ones and spaces into non-breaking ones. */
function normalise(text: string): string {
  return text
    .replace(/[\u201C\u201D\u201E\u00AB\u00BB]/g, '"')
    .replace(/[\u2018\u2019\u201A]/g, "'")
    .replace(/[\u00A0\u2007\u202F]/g, ' ')
    .trim();
}

/** Builds the raw command object from the tokens; zod validates it afterwards. */
function buildRaw(name: CommandName, args: string[]): Record<string, unknown> {
  const noMore = (max: number) => {
    if (args.length > max) throw new ParseError(`unexpected "${args[max]}" after ${name} ${args.slice(0, max).join(' ')}`.trimEnd());
  };
  const required = (i: number, what: string) => {
    if (args[i] === undefined) throw new ParseError(`${name} needs ${what}`);
    return args[i];
  };
  switch (name) {
    case 'help':
    case 'pools':
    case 'schedules':
      noMore(0);
      return { name };
    case 'start':
    case 'history':
    case 'tools':
      noMore(1);
      return { name, pool: required(0, 'a pool name') };
    case 'pause':
    case 'resume':
    case 'abort':
      noMore(1);
      return { name, runId: required(0, 'a run id') };
    case 'unschedule':
      noMore(1);
      return { name, id: required(0, 'a schedule id') };
    case 'status':
      noMore(1);
      return args[0] === undefined ? { name } : { name, subject: args[0] };
    case 'plan': {
      noMore(3);
      const raw: Record<string, unknown> = { name, pool: required(0, 'a pool name') };
      // target and mode may come in either order: "plan pool-a manual", "plan pool-a 7.6 manual"
      for (const arg of args.slice(1)) {
        const key = upgradeMode.safeParse(arg).success ? 'mode' : 'target';
        // a word that is neither (a typo, "--force") is named as such, not as a second target
        if (key === 'target' && !targetVersion.safeParse(arg).success)
          throw new ParseError(`target: expected a version like 7.6, or a mode: one of automatic, manual, update (got "${arg.length > 60 ? `${arg.slice(0, 60)}…` : arg}")`);
        if (key in raw) throw new ParseError(`plan: ${key} given twice ("${String(raw[key])}" and "${arg}")`);
        raw[key] = arg;
      }
      return raw;
    }
    case 'schedule': {
      const pool = required(0, 'a pool name');
      const rest = args.slice(1);
      const untilAt = rest.findIndex((t) => t.toLowerCase() === 'until');
      const whenWords = untilAt === -1 ? rest : rest.slice(0, untilAt);
      const when = whenWords.join(' ').trim();
      const until = untilAt === -1 ? undefined : rest.slice(untilAt + 1).join(' ').trim();
      if (when === '') throw new ParseError('schedule needs a start: an ISO date-time like 2026-11-28T02:00 or a quoted cron expression like "0 2 * * 6"');
      if (until === '') throw new ParseError('until needs an end: a date-time, a duration like 4h, or a time of day like 06:00');
      if (when.length > 120 || (until?.length ?? 0) > 120) throw new ParseError('schedule: a window start or end is at most 120 characters');
      // the scheduler's own window grammar; the pool's timezone and "not in the past" are checked when scheduling
      const window = parseWindow(when, until, { timezone: 'UTC', now: 0 });
      if (!window.ok) throw new ParseError(`schedule: ${window.error}`);
      return until === undefined ? { name, pool, when } : { name, pool, when, until };
    }
  }
}

function describeIssues(err: z.ZodError, raw: Record<string, unknown>): string {
  return err.issues
    .map((issue) => {
      const field = issue.path.filter((p) => typeof p === 'string').join('.');
      const given = issue.path.reduce<unknown>((v, p) => (v && typeof v === 'object' ? (v as Record<string | number, unknown>)[p] : undefined), raw);
      const shown = typeof given === 'string' ? ` (got "${given.length > 60 ? `${given.slice(0, 60)}…` : given}")` : '';
      return `${field || 'command'}: expected ${issue.message}${shown}`;
    })
    .join('; ');
}

const NAMES = new Set<string>(USAGE.map(([n]) => n));

/** Parses one command line (without the "/xsupgrade" or "xsupgrade" prefix). Never throws. */
export function parseCommand(input: unknown, prefix = '/xsupgrade'): ParseResult {
  const help = (unknown?: string): ParseResult =>
    unknown === undefined ? { kind: 'help', text: usageText(prefix) } : { kind: 'help', text: usageText(prefix), unknown };
  const error = (message: string, name?: CommandName): ParseResult => ({
    kind: 'error',
    message,
    usage: name ? `Usage: ${prefix} ${usageOf(name)}` : usageText(prefix),
  });

  if (typeof input !== 'string') return error('the command must be text');
  if (input.length > MAX_COMMAND_LENGTH) return error(`the command is ${input.length} characters long; the limit is ${MAX_COMMAND_LENGTH}`);
  // Control characters (other than whitespace) never belong in a command: refuse rather than guess.
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u2028\u2029\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/u.test(input))
    return error('the command contains control or invisible characters; please retype it');

  let tokens: string[];
  try {
    tokens = tokenize(normalise(input));
  } catch (e) {
    return error((e as Error).message);
  }
  if (tokens.length === 0) return help();
  const word = tokens[0].toLowerCase();
  if (!NAMES.has(word)) return help(tokens[0].length > 40 ? `${tokens[0].slice(0, 40)}…` : tokens[0]);
  const name = word as CommandName;
  if (name === 'help') return help();

  let raw: Record<string, unknown>;
  try {
    raw = buildRaw(name, tokens.slice(1));
  } catch (e) {
    if (e instanceof ParseError) return error(e.message, name);
    throw e;
  }
  const parsed = commandSchema.safeParse(raw);
  if (!parsed.success) return error(`${name}: ${describeIssues(parsed.error, raw)}`, name);
  return { kind: 'command', command: parsed.data };
}
