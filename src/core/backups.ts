/** The last backup of a pool the bot took that can restore it (R2.1): offered by a plan made while the pool is mixed. */
import { existsSync } from 'node:fs';
import type { Run } from '../domain/types';

export async function lastUsableBackup(listRuns: (filter: { pool: string }) => Promise<Run[]>, pool: string): Promise<{ path: string; runId: string } | undefined> {
  const runs = (await listRuns({ pool })).sort((a, b) => b.createdAt - a.createdAt);
  for (const r of runs) {
    const data = r.steps.find((s) => s.kind === 'backup' && s.state === 'done')?.data;
    if (!data || typeof data.path !== 'string') continue;
    // a stub dump (mixed mode) holds no pool data; a file deleted since cannot restore anything
    if (data.mixedMode === true || data.holdsPoolData === false || !existsSync(data.path)) continue;
    return { path: data.path, runId: r.id };
  }
  return undefined;
}
