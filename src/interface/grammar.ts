import { z } from 'zod';

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

/** A point in time or a recurring start: an ISO date-time, or a cron expression, optionally with an IANA timezone. */
export const whenSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('at'), iso: z.string(), timezone: z.string().optional() }).strict(),
  z.object({ kind: z.literal('cron'), expression: z.string(), timezone: z.string().optional() }).strict(),
]);
export type WhenSpec = z.infer<typeof whenSpec>;

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
  z.object({ name: z.literal('schedule'), pool: poolName, when: whenSpec, until: whenSpec.optional() }).strict(),
  z.object({ name: z.literal('schedules') }).strict(),
  z.object({ name: z.literal('unschedule'), id: scheduleId }).strict(),
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
  ['pause', 'pause <run>', 'finish the host in progress, then stop before the next host shutdown'],
  ['resume', 'resume <run>', 'continue a paused run'],
  ['abort', 'abort <run>', 'stop the run (hosts already upgraded stay upgraded)'],
  ['history', 'history <pool>', 'recent runs of the pool'],
  ['schedule', 'schedule <pool> <when> [until <when>]', 'a maintenance window; <when> is 2026-11-28T02:00 or "0 2 * * 6" [Europe/Paris]'],
  ['schedules', 'schedules', 'scheduled maintenance windows'],
  ['unschedule', 'unschedule <id>', 'delete a scheduled window'],
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

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$/;
const CRON_FIELD = /^[0-9*?LW#,/A-Za-z-]+$/;
const TIMEZONE = /^(UTC|GMT|[A-Z][A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)+)$/;

function isKnownTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function isRealDateTime(m: RegExpMatchArray): boolean {
  const [, y, mo, d, h, mi, s] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59) return false;
  const daysInMonth = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  return day <= daysInMonth;
}

/** `<when>` from its words: "2026-11-28T02:00", "2026-11-28T02:00 Europe/Paris", "0 2 * * 6 UTC". */
export function parseWhen(words: string[], field: string): WhenSpec {
  const all = words.flatMap((w) => w.split(/\s+/)).filter((w) => w.length > 0);
  if (all.length === 0) throw new ParseError(`${field}: missing; expected an ISO date-time like 2026-11-28T02:00 or a cron expression like "0 2 * * 6"`);
  let timezone: string | undefined;
  const last = all[all.length - 1];
  if (all.length > 1 && TIMEZONE.test(last)) {
    if (!isKnownTimezone(last)) throw new ParseError(`${field}: unknown timezone "${last}"; expected an IANA name like Europe/Paris or UTC`);
    timezone = last;
    all.pop();
  }
  if (all.length === 1) {
    const m = all[0].match(ISO_DATE_TIME);
    if (!m) throw new ParseError(`${field}: "${all[0]}" is not a date-time; expected an ISO date-time like 2026-11-28T02:00 or a quoted cron expression like "0 2 * * 6"`);
    if (!isRealDateTime(m)) throw new ParseError(`${field}: "${all[0]}" is not a real date and time`);
    if (timezone && m[7]) throw new ParseError(`${field}: give either an offset in the date-time or a timezone, not both`);
    return timezone ? { kind: 'at', iso: all[0], timezone } : { kind: 'at', iso: all[0] };
  }
  if ((all.length === 5 || all.length === 6) && all.every((f) => CRON_FIELD.test(f))) {
    const expression = all.join(' ');
    return timezone ? { kind: 'cron', expression, timezone } : { kind: 'cron', expression };
  }
  throw new ParseError(
    `${field}: "${all.join(' ')}" is neither an ISO date-time nor a cron expression (5 or 6 fields, e.g. "0 2 * * 6")`,
  );
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
      const raw: Record<string, unknown> = { name, pool, when: parseWhen(whenWords, 'when') };
      if (untilAt !== -1) raw.until = parseWhen(rest.slice(untilAt + 1), 'until');
      return raw;
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
