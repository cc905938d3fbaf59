/**
 * R2.1: dump the pool database before touching anything; the dump is what makes an abort or a master roll-back
 * possible without losing VM data. Records path, size and SHA-256; an existing intact dump of this run is kept.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { ensurePrivateDir, tightenFilesIn } from '../../private-files';
import { join, resolve } from 'node:path';
import { StepFailure } from '../errors';
import { readLiveHosts } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';

export interface BackupData {
  path: string;
  bytes: number;
  sha256: string;
  /** xapi answers a stub database while the pool is in mixed mode (xenapi.md §4.2) */
  mixedMode: boolean;
  /** the dump holds at least one row: false for a stub, which is never presented as a backup */
  holdsPoolData: boolean;
}

/** Does the XML dump hold any row (pool data)? xapi's stub dump has only empty tables. Streams the file. */
export async function holdsRows(path: string): Promise<boolean> {
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const text = tail + (chunk as string);
    if (text.includes('<row ')) return true;
    tail = text.slice(-4);
  }
  return false;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function createBackupStep(deps: StepDeps): StepModule {
  return {
    kind: 'backup',
    async execute(ctx) {
      const prev = ctx.step.data as Partial<BackupData> | undefined;
      if (prev?.path && prev.sha256 && existsSync(prev.path) && (await sha256File(prev.path)) === prev.sha256) {
        return { status: 'done', note: `backup already taken: ${prev.path}` };
      }
      const pool = await readLiveHosts(deps.client); // pool.other_config is all this needs
      const mixedMode = 'rolling_upgrade_in_progress' in pool.otherConfig;
      const dir = resolve(deps.config.backupsDir);
      // the dump holds the pool's secret table: owner-only directory and files (issue 10.11)
      ensurePrivateDir(dir);
      tightenFilesIn(dir);
      const file = join(dir, `${ctx.run.id}-pool-database.xml`);
      await ctx.audit('GET /pool/xmldbdump (pool database backup, R2.1)', { file });
      const dump = await deps.client.dumpDatabase(file);
      await ctx.checkpoint('dumped');
      if (!(dump.bytes > 0)) throw new StepFailure('the pool database dump is empty (R2.1)', { observed: [`${dump.path}: ${dump.bytes} bytes`] });
      const holdsPoolData = await holdsRows(dump.path);
      const data: BackupData = { path: dump.path, bytes: dump.bytes, sha256: dump.sha256, mixedMode, holdsPoolData };
      await ctx.saveData({ ...data });
      // a stub (mixed mode: every table empty) is kept for the record but never called a backup (issue 11.6)
      const note =
        mixedMode || !holdsPoolData
          ? `no usable backup: the dump ${dump.path} holds no pool data${mixedMode ? ' (the pool is in mixed mode, so xapi returned a stub database)' : ''} (R2.1)`
          : `backup ${dump.path} (${dump.bytes} bytes, sha256 ${dump.sha256.slice(0, 12)})`;
      return { status: 'done', note };
    },
  };
}
