/**
 * CLI dispatcher. Every command's arguments are parsed here first (args.ts, one parser and one error shape for all:
 * `xsupgrade <command>: <what is wrong>` and the usage line, exit 1), `--help`/`-h` answered for every command, and
 * the general environment validated before any command runs (config/env.ts). Each subcommand lives in its own module
 * and is loaded lazily so that `xsupgrade sim` does not load Bolt, and `xsupgrade plan` does not start servers.
 */
import { readFileSync } from 'node:fs';
import { loadGeneralSettings } from '../config/env';
import { ConfigError } from '../config/pools';
import { projectPath } from '../paths';
import { helpText, parseCommandArgs, UsageError, usageLine } from './args';
import { COMMANDS } from './commands';
import { SPECS, type CommandName } from './specs';

export function usage(): string {
  const lines = Object.values(SPECS).map((s) => `  ${s.name.padEnd(10)} ${s.summary}`);
  return [
    'usage: xsupgrade <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    '`xsupgrade <command> --help` for a command\'s options; `xsupgrade --version` for the version.',
    'Settings come from the environment and from ./.env when present (see .env.example).',
  ].join('\n');
}

export function version(): string {
  return (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version;
}

const isCommand = (name: string): name is CommandName => Object.prototype.hasOwnProperty.call(SPECS, name);

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    console.error(usage());
    return 1;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`xsupgrade ${version()}`);
    return 0;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const about = rest[0];
    if (about && isCommand(about)) console.log(helpText(SPECS[about]));
    else console.log(usage());
    return 0;
  }
  if (!isCommand(name)) {
    console.error(`xsupgrade: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  const spec = SPECS[name];
  try {
    if (parseCommandArgs(spec, rest).help) {
      console.log(helpText(spec));
      return 0;
    }
    // every variable the bot reads is checked before the command does anything (issue 14)
    loadGeneralSettings(process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`xsupgrade ${name}: ${e.message}\n${usageLine(spec)}`);
      return 1;
    }
    if (e instanceof ConfigError) {
      console.error(`xsupgrade ${name}: invalid environment:\n${e.message.split('\n').map((l) => `  - ${l}`).join('\n')}`);
      return 1;
    }
    throw e;
  }
  const handler = await COMMANDS[name]();
  try {
    return await handler(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`xsupgrade ${name}: ${e.message}\n${usageLine(spec)}`);
      return 1;
    }
    throw e;
  }
}
