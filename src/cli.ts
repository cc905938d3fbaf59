#!/usr/bin/env node
/** `xsupgrade` entry point: loads .env (config/dotenv.ts), then runs the command (src/cli/main.ts). */
import { loadDotEnv } from './config/dotenv';
import { main } from './cli/main';

function start(): Promise<number> {
  const dotenv = loadDotEnv();
  if (dotenv.warning) console.error(dotenv.warning);
  return main(process.argv.slice(2));
}

Promise.resolve()
  .then(start)
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`xsupgrade: ${(err as Error).message ?? String(err)}`);
      process.exitCode = 1;
    },
  );
