/**
 * Command-line parsing for every `xsupgrade` command: node:util parseArgs (strict: unknown options are errors;
 * `--flag value` and `--flag=value`; `--` ends the options), `--help`/`-h` on every command, allowed values and the
 * number of positionals checked here, and one error shape: a UsageError naming the option and what was expected.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** placeholder shown in help: --target <version> */
  value?: string;
  help: string;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** what follows the command name in the usage line, options included */
  usage: string;
  /** further help lines (environment, exit codes) */
  details?: string[];
  options?: Record<string, OptionSpec>;
  /** [min, max] positionals */
  positionals: [number, number];
  /** what the first missing positional is, for the error */
  missing?: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  positional: string[];
  opts: Record<string, string | boolean>;
  help: boolean;
}

export function parseCommandArgs(spec: CommandSpec, args: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(spec.options ?? {})) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages name the option; drop its advice about '--' for values that look like options
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option '(.*)'$/, 'unknown option $1'));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { positional: parsed.positionals, opts: {}, help: true };
  const opts: Record<string, string | boolean> = {};
  for (const [name, o] of Object.entries(spec.options ?? {})) {
    const v = values[name];
    if (v === undefined) continue;
    if (typeof v === 'string' && o.choices && !o.choices.includes(v)) throw new UsageError(`--${name} must be ${o.choices.slice(0, -1).join(', ')} or ${o.choices.at(-1)}, not "${v}"`);
    if (typeof v === 'string' && v === '') throw new UsageError(`--${name} needs a value`);
    opts[name] = v;
  }
  const [min, max] = spec.positionals;
  if (parsed.positionals.length < min) throw new UsageError(spec.missing ?? `${spec.name} needs ${min} argument${min === 1 ? '' : 's'}`);
  if (parsed.positionals.length > max) throw new UsageError(`unexpected "${parsed.positionals[max]}"${max === 0 ? ` (${spec.name} takes no arguments)` : ''}`);
  return { positional: parsed.positionals, opts, help: false };
}

export function usageLine(spec: CommandSpec): string {
  return `usage: xsupgrade ${spec.name}${spec.usage ? ` ${spec.usage}` : ''}`;
}

export function helpText(spec: CommandSpec): string {
  const opts = Object.entries(spec.options ?? {}).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
    return `  ${flag.padEnd(28)} ${o.help}${o.choices ? ` (${o.choices.join('|')})` : ''}`;
  });
  return [
    usageLine(spec),
    '',
    spec.summary,
    ...(spec.details?.length ? ['', ...spec.details] : []),
    '',
    'options:',
    ...opts,
    `  ${'-h, --help'.padEnd(28)} this help`,
  ].join('\n');
}
