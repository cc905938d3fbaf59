/**
 * R3.10 on the simulator: VDI.create / VDI.destroy (the upload's target), host.restart_agent, and the hotfix side of
 * pool_update (metadata read from the uploaded ISO's update.xml, prerequisites, base version, livepatch answers).
 * The R1.3 version-changing update ISOs of `updates:` keep their own path in pool.ts.
 */
import { compareVersions } from '../../domain/versions';
import { fail } from '../failure';
import { vdiRecord } from '../records';
import { bufferReader, readRootFile } from '../../updates/iso';
import { parseUpdateXml, type UpdateMetadata } from '../../updates/metadata';
import type { UploadedVdi } from '../engine';
import { ApiCtx, def, num, str, strMap } from './registry';
import { forwardTo, hostMachine } from './checks';
import { hotfixUuid } from '../hotfixes';

def('VDI.create', {
  params: 1,
  handler: (ctx, [rec]) => {
    const r = (rec ?? {}) as Record<string, unknown>;
    const sr = str(r.SR, 'SR');
    const s = ctx.pool.db.get('SR', sr);
    if (s.content_type === 'iso' || s.type === 'iso') fail('SR_OPERATION_NOT_SUPPORTED', sr);
    const size = num(r.virtual_size, 'virtual_size');
    if (size <= 0) fail('FIELD_TYPE_ERROR', 'virtual_size');
    const ref = ctx.pool.db.create('VDI', {
      ...vdiRecord({ name: str(r.name_label ?? ''), sr, size, type: str(r.type ?? 'user'), readOnly: r.read_only === true, isToolsIso: false }),
      name_description: str(r.name_description ?? ''),
      sharable: r.sharable === true,
      other_config: strMap(r.other_config),
    });
    return ref;
  },
});

def('VDI.destroy', {
  params: 1,
  handler: (ctx, [v]) => {
    const ref = str(v);
    const rec = ctx.pool.db.get('VDI', ref);
    if ((rec.VBDs as string[]).length > 0) fail('VDI_IN_USE', ref, 'destroy');
    const inUse = ctx.pool.db.entries('pool_update').find(([, u]) => u.vdi === ref);
    if (inUse) fail('VDI_IN_USE', ref, 'destroy'); // an introduced update's ISO (pool_update.destroy first)
    ctx.pool.db.delete('VDI', ref);
    ctx.sim.vdiContent.delete(ref);
    return '';
  },
});

def('host.restart_agent', {
  params: 1,
  handler: (ctx, [h]) => {
    const m = forwardTo(ctx, str(h));
    ctx.sim.restartAgent(m);
    return '';
  },
});

/** The update.xml of the ISO uploaded into `vdi`; INVALID_UPDATE when there is none (as xapi's introduce). */
export function hotfixOfVdi(ctx: ApiCtx, vdi: string): UpdateMetadata {
  const content = ctx.sim.vdiContent.get(vdi);
  if (!content || !content.complete) fail('INVALID_UPDATE', 'The uploaded file is not a valid update (the VDI holds no complete upload)');
  if (!content.update) fail('INVALID_UPDATE', content.invalid ?? 'no update.xml');
  return content.update;
}

/** Reads the upload's update.xml once, when the upload completes (http-server.ts). */
export async function noteUploadedUpdate(content: UploadedVdi): Promise<void> {
  try {
    content.update = parseUpdateXml(await readRootFile(bufferReader(content.data)));
  } catch (e) {
    content.invalid = (e as Error).message;
  }
}

export function introduceHotfix(ctx: ApiCtx, vdi: string): string {
  const meta = hotfixOfVdi(ctx, vdi);
  const db = ctx.pool.db;
  const same = db.entries('pool_update').find(([, u]) => u.uuid === meta.uuid);
  if (same) {
    // reference I1: the same VDI introduced again returns the existing update; another VDI with that uuid is refused,
    // unless the update's files were removed (pool_clean: vdi null): then the record takes this VDI (xapi's introduce)
    if (same[1].vdi === vdi) return same[0];
    if (!db.has('VDI', same[1].vdi as string)) {
      db.update('pool_update', same[0], { vdi });
      return same[0];
    }
    fail('UPDATE_ALREADY_EXISTS', meta.uuid);
  }
  return db.create('pool_update', {
    uuid: meta.uuid,
    name_label: meta.nameLabel,
    name_description: meta.description,
    version: meta.version,
    installation_size: meta.installationSize,
    key: meta.key,
    after_apply_guidance: meta.guidance,
    vdi,
    hosts: [],
    other_config: {},
    enforce_homogeneity: false,
  });
}

/** The hotfix behind a pool_update, or undefined for the R1.3 update path. */
export function hotfixOf(ctx: ApiCtx, ref: string): UpdateMetadata | undefined {
  const u = ctx.pool.db.get('pool_update', ref);
  if (ctx.sim.updateVdis.has(u.vdi as string)) return undefined;
  return ctx.sim.vdiContent.get(u.vdi as string)?.update;
}

/**
 * The host's precheck script (reference I2): already applied, base version, prerequisites; then ok, or
 * ok_livepatch_complete for a scenario hotfix marked `livepatch`.
 */
export function precheckHotfix(ctx: ApiCtx, ref: string, host: string, meta: UpdateMetadata): string {
  const m = forwardTo(ctx, host);
  const db = ctx.pool.db;
  const u = db.get('pool_update', ref);
  if ((u.hosts as string[]).includes(host)) fail('UPDATE_ALREADY_APPLIED', ref);
  const found = m.installed.product;
  const cmp = compareVersions(found, meta.requires.version);
  if (meta.requires.test === 'eq' ? cmp !== 0 : cmp < 0)
    fail('UPDATE_PRECHECK_FAILED_WRONG_SERVER_VERSION', 'xenserver-release', found, `${meta.requires.test === 'ge' ? '>= ' : ''}${meta.requires.version}`);
  const applied = new Set((db.get('host', host).updates as string[]).map((r) => db.find('pool_update', r)?.uuid as string));
  const missing = meta.prerequisites.filter((p) => !applied.has(p));
  if (missing.length) {
    const names = missing.map((p) => db.entries('pool_update').find(([, x]) => x.uuid === p)?.[1].name_label ?? p);
    fail('UPDATE_PRECHECK_FAILED_PREREQUISITE_MISSING', names.join(','));
  }
  const spec = ctx.sim.scenario.hotfixes.find((h) => hotfixUuid(ctx.sim.scenario.pool.name, h.name) === meta.uuid);
  return spec?.livepatch ? 'ok_livepatch_complete' : 'ok';
}

export function applyHotfix(ctx: ApiCtx, ref: string, host: string, meta: UpdateMetadata, precheckResult: string): void {
  hostMachine(ctx, host);
  const db = ctx.pool.db;
  db.mutate('pool_update', ref, (r) => void (r.hosts as string[]).push(host));
  db.mutate('host', host, (r) => {
    (r.updates as string[]).push(ref);
    if (meta.guidance.includes('restartHost') && precheckResult !== 'ok_livepatch_complete') (r.updates_requiring_reboot as string[]).push(ref);
  });
}
