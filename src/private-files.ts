import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Owner-only files for what holds secrets (issue 10.11): the state file (audit log, plans, pool addresses) and the
 * pool database backups (which contain the pool's `secret` table). New directories are created 0700 and new files
 * 0600; existing ones are tightened, except a directory the bot does not own alone (the working directory, the home
 * directory, a sticky directory such as /tmp, or one owned by another user), which is left as it is.
 */

export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

const ownedByMe = (uid: number) => typeof process.getuid !== 'function' || uid === process.getuid();

/** Creates `dir` (and missing parents) owner-only; tightens it if it exists and is dedicated to the bot. */
export function ensurePrivateDir(dir: string): void {
  const abs = resolve(dir);
  if (!existsSync(abs)) {
    mkdirSync(abs, { recursive: true, mode: PRIVATE_DIR });
    chmodSync(abs, PRIVATE_DIR); // the umask may have removed bits, never added: make it exact
    return;
  }
  const st = lstatSync(abs);
  const shared = abs === resolve(process.cwd()) || abs === resolve(homedir()) || abs === '/' || (st.mode & 0o1000) !== 0;
  if (st.isDirectory() && !shared && ownedByMe(st.uid) && (st.mode & 0o077) !== 0) chmodSync(abs, PRIVATE_DIR);
}

/** Tightens an existing regular file to 0600 (owned by this user); a missing file is fine. */
export function tightenFile(file: string): void {
  if (!existsSync(file)) return;
  const st = lstatSync(file);
  if (st.isFile() && ownedByMe(st.uid) && (st.mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE);
}

/** Creates `file` empty and owner-only if it does not exist, else tightens it. */
export function ensurePrivateFile(file: string): void {
  if (existsSync(file)) return tightenFile(file);
  closeSync(openSync(file, 'a', PRIVATE_FILE));
  chmodSync(file, PRIVATE_FILE);
}

/** Tightens every regular file directly in `dir` (older backups written before this rule). */
export function tightenFilesIn(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) tightenFile(join(dir, name));
}
