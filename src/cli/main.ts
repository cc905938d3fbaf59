/**
 * CLI dispatcher. Each subcommand lives in its own module and is loaded lazily so that
 * `xsupgrade sim` does not load Bolt, and `xsupgrade plan` does not start servers.
 */
type Handler = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Handler> }> = {};

export function registerCommand(name: string, summary: string, load: () => Promise<Handler>): void {
  COMMANDS[name] = { summary, load };
}

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return ['usage: xsupgrade <command> [options]', '', 'commands:', ...lines].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  await import('./commands');
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`xsupgrade: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  const handler = await cmd.load();
  return handler(rest);
}
