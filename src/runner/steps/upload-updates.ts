/**
 * R3.10: the update ISOs of the plan uploaded to the pool ONCE and introduced. Per update, its progress is persisted
 * BEFORE each side effect, so a crash anywhere is reconciled from the pool, never replayed blindly:
 *   creating  → the VDI may or may not exist: found by its tag (other_config xsupgrade-upload) and destroyed;
 *   uploading → the VDI holds a partial ISO: destroyed, and the upload starts again;
 *   uploaded  → the VDI is complete: introduced, not uploaded again;
 *   an update already introduced in the pool (same uuid) is not uploaded, unless its files were removed (pool_clean)
 *   and a planned host still needs it.
 */
import type { PlanUpdate } from '../../domain/types';
import { openUpdateIso } from '../../updates/repository';
import { StepFailure, xenErrorCode, xenErrorParams } from '../errors';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';

export interface UploadRecord {
  phase: 'creating' | 'uploading' | 'uploaded' | 'introduced';
  vdi?: string;
  update?: string;
  /** in the pool with its files before this run: not this run's to remove at the end (update-files.ts) */
  preexisting?: boolean;
}
export type UploadData = { uploads?: Record<string, UploadRecord> };

export const UPLOAD_TAG = 'xsupgrade-upload';

type UpdateRecords = Record<string, { uuid?: string; name_label?: string; vdi?: string }>;
type VdiRecords = Record<string, { other_config?: Record<string, string>; name_label?: string }>;

const mib = (b: number): string => (b / 1024 ** 2).toFixed(1);

async function defaultSr(deps: StepDeps): Promise<string> {
  const pools = (await deps.client.call<Record<string, { default_SR?: string }>>('pool.get_all_records')) ?? {};
  const sr = Object.values(pools)[0]?.default_SR;
  if (!sr || sr === 'OpaqueRef:NULL') throw new StepFailure('the pool has no default SR to upload the update ISOs to (xe pool-param-set default-SR-uuid=…)', { code: 'NO_DEFAULT_SR' });
  return sr;
}

export function createUploadUpdatesStep(deps: StepDeps): StepModule {
  const uploadOne = async (ctx: StepContext, u: PlanUpdate, sr: string): Promise<'uploaded' | 'present'> => {
    const data = () => ((ctx.step.data ?? {}) as UploadData).uploads ?? {};
    const save = (rec: UploadRecord) => ctx.saveData({ uploads: { ...data(), [u.uuid]: rec } });
    const tag = `${ctx.run.id}/${u.uuid}`;
    const updates = (await deps.client.call<UpdateRecords>('pool_update.get_all_records')) ?? {};
    const vdis = (await deps.client.call<VdiRecords>('VDI.get_all_records')) ?? {};
    const known = Object.entries(updates).find(([, r]) => r.uuid === u.uuid);
    // an update whose files an earlier run removed (pool_update.pool_clean: vdi null) is uploaded again for a host
    // that still needs it; xapi's introduce gives the existing record the new VDI
    const needed = ctx.run.plan.updates?.hosts.some((hu) => hu.updates.includes(u.uuid)) ?? false;
    if (known && ((known[1].vdi && vdis[known[1].vdi]) || !needed)) {
      const before = data()[u.uuid];
      if (before?.phase !== 'introduced') {
        // this run's own VDI when its record names it (introduced, then interrupted before that was recorded)
        const ours = !!before?.vdi && before.vdi === known[1].vdi;
        await save({ phase: 'introduced', update: known[0], vdi: known[1].vdi, ...(ours ? {} : { preexisting: true }) });
      }
      return 'present';
    }
    let rec = data()[u.uuid];
    if (rec && rec.phase === 'uploaded' && rec.vdi && vdis[rec.vdi]) {
      await ctx.audit(`${u.name}: its ISO was uploaded completely into ${rec.vdi} before an interruption; introduced without uploading it again`);
    } else {
      // anything this run started for this update and did not finish is a partial VDI: cleaned up, then done again
      const leftovers = Object.entries(vdis).filter(([ref, v]) => ref === rec?.vdi || v.other_config?.[UPLOAD_TAG] === tag);
      for (const [ref] of leftovers) {
        await ctx.act('VDI.destroy', [ref], `${ref} (partial upload of ${u.name})`);
        await ctx.say(`The upload of ${u.name} was interrupted; its partial VDI was destroyed and the upload starts again.`);
      }
      await save({ phase: 'creating' });
      await ctx.checkpoint(`create:${u.name}`);
      const vdi = await ctx.act<string>(
        'VDI.create',
        [{ name_label: `${u.name}.iso`, name_description: `update ISO uploaded by xsupgrade run ${ctx.run.id}`, SR: sr, virtual_size: String(u.size), type: 'user', sharable: false, read_only: false, other_config: { [UPLOAD_TAG]: tag }, xenstore_data: {}, sm_config: {}, tags: [] }],
        `${u.name}.iso (${mib(u.size)} MiB)`,
      );
      rec = { phase: 'uploading', vdi };
      await save(rec);
      await ctx.checkpoint(`uploading:${u.name}`);
      if (!deps.client.importRawVdi) throw new StepFailure('this client cannot upload (PUT /import_raw_vdi)');
      await ctx.audit(`PUT /import_raw_vdi ${vdi} (${u.name}.iso from ${u.source})`, { vdi, source: u.source });
      let told = 0;
      await deps.client.importRawVdi(
        vdi,
        () => openUpdateIso(u.source),
        (sent) => {
          const quarter = Math.floor((sent / Math.max(1, u.size)) * 4);
          if (quarter > told && quarter < 4) {
            told = quarter;
            void ctx.say(`Uploading ${u.name}.iso: ${quarter * 25}% (${mib(sent)} of ${mib(u.size)} MiB).`);
          }
        },
      );
      rec = { phase: 'uploaded', vdi };
      await save(rec);
      await ctx.checkpoint(`uploaded:${u.name}`);
    }
    let ref: string;
    try {
      ref = await ctx.act<string>('pool_update.introduce', [rec.vdi], `${u.name} (from ${rec.vdi})`);
    } catch (err) {
      if (xenErrorCode(err) !== 'UPDATE_ALREADY_EXISTS') {
        if (xenErrorCode(err) === 'INVALID_UPDATE') throw new StepFailure(`${u.name}: the pool refused the uploaded ISO as an update: ${xenErrorParams(err).join(' ')}`, { code: 'INVALID_UPDATE', params: xenErrorParams(err) });
        throw err;
      }
      // introduced meanwhile from another VDI (another tool): use it, drop our copy
      const again = (await deps.client.call<UpdateRecords>('pool_update.get_all_records')) ?? {};
      const found = Object.entries(again).find(([, r]) => r.uuid === u.uuid);
      if (!found) throw err;
      ref = found[0];
      await ctx.act('VDI.destroy', [rec.vdi], `${rec.vdi} (duplicate of ${u.name})`);
    }
    await save({ phase: 'introduced', vdi: rec.vdi, update: ref });
    return 'uploaded';
  };

  return {
    kind: 'upload-updates',
    async execute(ctx) {
      const items = ctx.run.plan.updates?.items ?? [];
      if (!items.length) return { status: 'done', note: 'no update to upload' };
      const sr = await defaultSr(deps);
      let uploaded = 0;
      for (const u of items) if ((await uploadOne(ctx, u, sr)) === 'uploaded') uploaded++;
      const present = items.length - uploaded;
      await ctx.say(`Updates ready in the pool (R3.10): ${uploaded} uploaded and introduced${present ? `, ${present} already there (not uploaded again)` : ''}.`);
      return { status: 'done', note: `${uploaded} update ISOs uploaded, ${present} already in the pool` };
    },
  };
}
