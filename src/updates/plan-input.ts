/**
 * The I/O half of planning R3.10: the update repository's metadata and, from the pool, which updates each host has
 * (one pool_update.get_all_records call). The pure planner (src/planner/updates.ts) takes the result.
 */
import type { UpdatesInput } from './input';
import { readUpdateRepository } from './repository';

export interface UpdateRecordSource {
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

export async function readUpdatesInput(client: UpdateRecordSource, repository: string): Promise<UpdatesInput> {
  const repo = await readUpdateRepository(repository);
  const problems = [...repo.problems];
  const applied: Record<string, string[]> = {};
  const poolNames: Record<string, string> = {};
  try {
    const records = (await client.call<Record<string, { uuid?: unknown; name_label?: unknown; hosts?: unknown }>>('pool_update.get_all_records')) ?? {};
    for (const u of Object.values(records)) {
      if (typeof u?.uuid !== 'string') continue;
      if (typeof u.name_label === 'string') poolNames[u.uuid] = u.name_label;
      for (const h of Array.isArray(u.hosts) ? u.hosts : []) if (typeof h === 'string') (applied[h] ??= []).push(u.uuid);
    }
  } catch (e) {
    problems.push(`the updates applied on the hosts could not be read (pool_update.get_all_records): ${(e as { code?: string }).code ?? (e as Error).message}`);
  }
  return {
    repository,
    updates: repo.updates.map((u) => ({
      uuid: u.uuid,
      name: u.nameLabel,
      version: u.version,
      description: u.description,
      guidance: u.guidance,
      prerequisites: u.prerequisites,
      source: u.source,
      size: u.size,
      requires: { version: u.requires.version, test: u.requires.test },
    })),
    problems,
    applied,
    poolNames,
  };
}
