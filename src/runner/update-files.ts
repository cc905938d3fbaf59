/**
 * R3.10, "done" leaves nothing over: the update ISOs a run uploaded stay on the pool's SR as VDIs until
 * pool_update.pool_clean removes them, as XenCenter does after the last host. xapi's pool_clean
 * (ocaml/xapi/xapi_pool_update.ml in xapi-project/xen-api) detaches the update, destroys its VDI and sets the update's
 * `vdi` to OpaqueRef:NULL; the record stays, so host.updates and pool_update.hosts still list it. Without its files an
 * update cannot be applied any more (a new upload is needed), so an update a planned host still lacks (skip-update,
 * skip-host, a failure) keeps them. The clean runs in pool-finish (steps/pool-finish.ts); the end audit reads here what
 * is still on the SR.
 */
import { z } from 'zod';
import type { Ref, Run } from '../domain/types';
import { isPoolUnavailable, xenErrorCode, xenErrorParams } from './errors';
import type { PoolClient, StepDeps } from './ports';
import { hostRemap } from './remap';
import type { StepContext } from './step';
import { UPLOAD_TAG, type UploadData } from './steps/upload-updates';

const NULL_REF = 'OpaqueRef:NULL';
const updateRecords = z.record(
  z.object({ uuid: z.string(), name_label: z.string().default(''), vdi: z.string().default(NULL_REF), hosts: z.array(z.string()).default([]) }).passthrough(),
);
const vdiRecords = z.record(z.object({ name_label: z.string().default(''), other_config: z.record(z.string()).default({}) }).passthrough());

export interface LiveUpdate {
  ref: Ref;
  name: string;
  /** the update's VDI when it is still on an SR; null once cleaned (or the VDI is gone) */
  vdi: Ref | null;
  hosts: Ref[];
}
export interface LiveUpdateFiles {
  updates: Map<string, LiveUpdate>;
  vdis: Map<Ref, { name: string; tag?: string }>;
  /** the pool's hosts now */
  hosts: Set<Ref>;
}

/** pool_update, VDI and host refs, validated: which update still has its ISO on an SR, and who lacks it. */
export async function readUpdateFiles(client: PoolClient): Promise<LiveUpdateFiles> {
  const hosts = new Set(z.array(z.string()).parse((await client.call('host.get_all')) ?? []));
  const vdis = new Map(
    Object.entries(vdiRecords.parse((await client.call('VDI.get_all_records')) ?? {})).map(([ref, v]) => [ref, { name: v.name_label, ...(v.other_config[UPLOAD_TAG] ? { tag: v.other_config[UPLOAD_TAG] } : {}) }]),
  );
  const updates = new Map<string, LiveUpdate>();
  for (const [ref, u] of Object.entries(updateRecords.parse((await client.call('pool_update.get_all_records')) ?? {}))) {
    updates.set(u.uuid, { ref, name: u.name_label || u.uuid, vdi: u.vdi !== NULL_REF && vdis.has(u.vdi) ? u.vdi : null, hosts: u.hosts });
  }
  return { updates, vdis, hosts };
}

/** The updates this run uploaded or introduced (not those it found in the pool with their files): its to clean. */
export function updatesOfRun(run: Run): Array<{ uuid: string; name: string }> {
  const uploads = Object.assign({}, ...run.steps.filter((s) => s.kind === 'upload-updates').map((s) => (s.data as UploadData | undefined)?.uploads ?? {})) as NonNullable<UploadData['uploads']>;
  return (run.plan.updates?.items ?? []).filter((u) => uploads[u.uuid]?.phase === 'introduced' && !uploads[u.uuid]?.preexisting).map((u) => ({ uuid: u.uuid, name: u.name }));
}

/** Planned hosts still in the pool that lack the update (they need its files). */
function lackingHosts(run: Run, uuid: string, update: LiveUpdate | undefined, poolHosts: Set<Ref>): string[] {
  const remap = hostRemap(run);
  return (run.plan.updates?.hosts ?? [])
    .filter((hu) => hu.updates.includes(uuid))
    .filter((hu) => {
      const ref = remap.get(hu.host) ?? hu.host;
      return poolHosts.has(ref) && !(update?.hosts ?? []).includes(ref);
    })
    .map((hu) => hu.name);
}

export interface CleanRecord {
  phase: 'cleaning' | 'cleaned' | 'kept' | 'failed';
  update?: Ref;
  vdi?: Ref;
  /** kept: the hosts that lack it; failed: the pool's error */
  why?: string;
}
export type CleanData = { updateFiles?: Record<string, CleanRecord> };

/**
 * pool_update.pool_clean of each update of the run that every planned host has, through act (audited, fenced).
 * Level-triggered: recorded `cleaning` before the call; the update's vdi seen null means done (a clean sent before
 * an interruption is never sent again: a second one fails on a real pool). A refusal is recorded, not fatal: the
 * finish line says it and the end audit names the ISO left on the SR. Returns the note for the finish line.
 */
export async function cleanUpdateFiles(deps: StepDeps, ctx: StepContext): Promise<string | undefined> {
  const mine = updatesOfRun(ctx.run);
  if (!mine.length) return undefined;
  const data = () => ((ctx.step.data ?? {}) as CleanData).updateFiles ?? {};
  const save = (uuid: string, rec: CleanRecord) => ctx.saveData({ updateFiles: { ...data(), [uuid]: rec } });
  let live = await readUpdateFiles(deps.client);
  const removed: string[] = [];
  const kept: string[] = [];
  const failed: string[] = [];
  for (const u of mine) {
    const l = live.updates.get(u.uuid);
    if (!l) continue; // destroyed from outside: no record to clean (a VDI it leaves is named by the end audit)
    if (!l.vdi) {
      const before = data()[u.uuid];
      if (before?.phase !== 'cleaned') {
        if (before?.phase === 'cleaning') await ctx.audit(`${u.name}: its pool_update.pool_clean went out before an interruption; the pool shows its vdi null, so it is not sent again`);
        await save(u.uuid, { phase: 'cleaned', update: l.ref });
      }
      removed.push(u.name);
      continue;
    }
    const lacking = lackingHosts(ctx.run, u.uuid, l, live.hosts);
    if (lacking.length) {
      await save(u.uuid, { phase: 'kept', update: l.ref, vdi: l.vdi, why: lacking.join(', ') });
      kept.push(`${u.name} (${lacking.join(', ')} ${lacking.length === 1 ? 'lacks' : 'lack'} it)`);
      continue;
    }
    await save(u.uuid, { phase: 'cleaning', update: l.ref, vdi: l.vdi });
    await ctx.checkpoint(`clean:${u.name}`);
    try {
      await ctx.act('pool_update.pool_clean', [l.ref], `${u.name} (its ISO, VDI ${l.vdi})`);
    } catch (err) {
      const code = xenErrorCode(err);
      if (!code || isPoolUnavailable(err)) throw err;
      // an answer lost after the clean went through leaves the vdi null: that is done, not a failure
      live = await readUpdateFiles(deps.client);
      if (!live.updates.get(u.uuid)?.vdi) {
        await save(u.uuid, { phase: 'cleaned', update: l.ref });
        removed.push(u.name);
        continue;
      }
      const why = [code, ...xenErrorParams(err)].join(' ');
      await save(u.uuid, { phase: 'failed', update: l.ref, vdi: l.vdi, why });
      failed.push(`${u.name} (${why})`);
      continue;
    }
    await save(u.uuid, { phase: 'cleaned', update: l.ref });
    removed.push(u.name);
  }
  const parts = [
    ...(removed.length ? [`update ISOs removed from the SR (pool_update.pool_clean; the updates stay listed as applied): ${removed.join(', ')}`] : []),
    ...(kept.length ? [`update ISOs kept on the SR, still needed: ${kept.join(', ')}`] : []),
    ...(failed.length ? [`update ISOs NOT removed from the SR, pool_update.pool_clean refused: ${failed.join(', ')}`] : []),
  ];
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * The end audit's view (R3.10): which of the run's update ISOs are still on the SR and why (the clean kept, refused
 * or never reached), and VDIs the run's uploads left that no update reads (a partial or duplicate upload).
 */
export function auditUpdateFiles(run: Run, live: LiveUpdateFiles): { removed: string[]; left: string[] } {
  const finish = (run.steps.find((s) => s.kind === 'pool-finish')?.data as CleanData | undefined)?.updateFiles ?? {};
  const removed: string[] = [];
  const left: string[] = [];
  for (const u of updatesOfRun(run)) {
    const l = live.updates.get(u.uuid);
    if (!l?.vdi) {
      if (l) removed.push(u.name);
      continue;
    }
    const rec = finish[u.uuid];
    // who lacks it NOW (the pool, not the record): the ISO is needed until they have it
    const lacking = lackingHosts(run, u.uuid, l, live.hosts);
    const needed = lacking.length ? `${lacking.join(', ')} still ${lacking.length === 1 ? 'lacks' : 'lack'} it; once applied there, remove it` : 'remove it';
    const why =
      rec?.phase === 'kept'
        ? `kept because ${needed} with xe update-pool-clean uuid=${u.uuid}`
        : rec?.phase === 'failed'
          ? `pool_update.pool_clean refused: ${rec.why}; ${needed} with xe update-pool-clean uuid=${u.uuid}`
          : rec?.phase === 'cleaned'
            ? `removed by this run, but the pool shows an ISO for it again; ${needed} with xe update-pool-clean uuid=${u.uuid}`
            : `the run did not reach its clean-up (pool-finish); ${needed} with xe update-pool-clean uuid=${u.uuid}`;
    left.push(`${u.name}: its ISO is still on the SR (VDI ${l.vdi}): ${why} (R3.10)`);
  }
  const read = new Set([...live.updates.values()].map((u) => u.vdi));
  for (const [ref, v] of live.vdis) {
    if (v.tag?.startsWith(`${run.id}/`) && !read.has(ref)) left.push(`${v.name || ref} (VDI ${ref}): left on the SR by an upload of this run that no update reads; remove it with xe vdi-destroy (R3.10)`);
  }
  return { removed, left };
}
