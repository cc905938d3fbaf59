/**
 * `.env` support (issue 14): the file named by XSUPGRADE_ENV_FILE, else `.env` in the working directory, is loaded
 * into process.env with Node's own parser (process.loadEnvFile) before anything reads a setting. A variable already
 * set in the environment wins over the file (a service manager's setting is not silently replaced). The values are
 * then validated like any other (config/env.ts, slack/settings.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './pools';

export interface DotEnvResult {
  /** the file loaded, if any */
  file?: string;
  /** a note for stderr (the file is readable by other users although it holds secrets) */
  warning?: string;
}

export function loadDotEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): DotEnvResult {
  const explicit = env.XSUPGRADE_ENV_FILE?.trim();
  const file = resolve(cwd, explicit || '.env');
  if (!existsSync(file)) {
    if (explicit) throw new ConfigError(`XSUPGRADE_ENV_FILE names ${file}, which does not exist`);
    return {};
  }
  try {
    process.loadEnvFile(file);
  } catch (e) {
    throw new ConfigError(`${file} could not be read as an env file: ${(e as Error).message}`);
  }
  const mode = statSync(file).mode & 0o777;
  const warning =
    process.platform !== 'win32' && (mode & 0o077) !== 0
      ? `xsupgrade: ${file} can be read by other users (mode ${mode.toString(8)}) and may hold tokens and passwords: chmod 600 ${file}`
      : undefined;
  return { file, warning };
}
