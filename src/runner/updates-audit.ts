/**
 * R3.10 at the end of a run: which of its planned updates each host has now (pool_update.hosts, read live), which it
 * lacks, and which an approver skipped; and which of the update ISOs it uploaded are still on the SR (update-files.ts).
 * A lacking update or an ISO left on the SR is a leftover: the run ends "done with exceptions".
 */
import type { EndAudit, Run } from '../domain/types';
import type { PoolClient } from './ports';
import type { ApplyUpdatesData } from './steps/apply-updates';
import { auditUpdateFiles, readUpdateFiles } from './update-files';

type UpdateRecords = Record<string, { uuid?: string; name_label?: string; hosts?: string[] }>;

export async function auditUpdates(
  client: PoolClient | undefined,
  run: Run,
): Promise<{ updates?: EndAudit['updates']; updateFiles?: EndAudit['updateFiles']; leftovers: string[]; changed: string[] }> {
  const plan = run.plan.updates;
  if (!plan || !plan.hosts.length) return { leftovers: [], changed: [] };
  const name = (id: string) => plan.items.find((u) => u.uuid === id)?.name ?? id;
  let records: UpdateRecords;
  let files: ReturnType<typeof auditUpdateFiles>;
  try {
    if (!client) throw new Error('the pool is not configured in this process');
    records = (await client.call<UpdateRecords>('pool_update.get_all_records')) ?? {};
    files = auditUpdateFiles(run, await readUpdateFiles(client));
  } catch (err) {
    return { leftovers: [`the updates on the hosts could not be read at the end (${(err as Error).message}): R3.10 not checked`], changed: [] };
  }
  const updates: NonNullable<EndAudit['updates']> = [];
  const leftovers: string[] = [];
  for (const hu of plan.hosts) {
    const step = run.steps.find((s) => s.kind === 'apply-updates' && s.host === hu.host);
    const skipped = ((step?.data as ApplyUpdatesData | undefined)?.skipped ?? []).map(name);
    const has = Object.values(records)
      .filter((u) => (u.hosts ?? []).includes(hu.host))
      .map((u) => u.name_label ?? u.uuid ?? '?')
      .sort();
    const missing = hu.updates.filter((id) => !Object.values(records).some((u) => u.uuid === id && (u.hosts ?? []).includes(hu.host))).map(name);
    updates.push({ name: hu.name, has, missing, skipped });
    if (missing.length) {
      const why = missing.map((m) => (skipped.includes(m) ? `${m} (skipped by an approver)` : m));
      leftovers.push(`${hu.name} lacks ${why.join(', ')} (R3.10)`);
    }
  }
  // ISOs on the SR are new since the run started: a leftover, and still changed after an abort
  return { updates, updateFiles: files, leftovers: [...leftovers, ...files.left], changed: files.left };
}
