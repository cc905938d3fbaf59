#!/usr/bin/env node
/** `xsupgrade` entry point. Subcommands are registered in src/cli/commands.ts. */
import { main } from './cli/main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`xsupgrade: ${(err as Error).message ?? String(err)}`);
    process.exitCode = 1;
  },
);
