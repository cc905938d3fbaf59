/**
 * VMs whose disks live on one host's local storage (R2.5), and VMs whose disks were on a forgotten host's local storage
 * (R4.2). When a host is forgotten (host.destroy) real xapi keeps its local SR and VDIs, attached nowhere (reference
 * H1): such a VM has lost its disks with the reinstall and fails VM_REQUIRES_SR wherever it is started. These are
 * pure functions of a storage snapshot (readStorage), so the forget & rejoin dialog and the end-of-run audit say the
 * same thing from the same facts: such VMs are lost, never "running again".
 */
import { z } from 'zod';
import type { Ref } from '../domain/types';
import type { PoolClient } from './ports';

const NULL_REF = 'OpaqueRef:NULL';
const bool = z.preprocess((v) => v === true || v === 'true' || v === 1 || v === '1', z.boolean());
const ref = z.string().transform((r) => (r === NULL_REF || r === '' ? null : r));

const vmSchema = z
  .object({
    name_label: z.string(),
    power_state: z.string(),
    is_a_template: bool.default(false),
    is_control_domain: bool.default(false),
    is_a_snapshot: bool.default(false),
  })
  .passthrough();
const vbdSchema = z.object({ VM: z.string(), VDI: ref.default(NULL_REF), type: z.string().default('Disk'), empty: bool.default(false) }).passthrough();
const vdiSchema = z.object({ SR: z.string() }).passthrough();
const srSchema = z.object({ name_label: z.string().default(''), shared: bool.default(false), PBDs: z.array(z.string()).default([]) }).passthrough();
const pbdSchema = z.object({ host: z.string(), SR: z.string() }).passthrough();

export interface StorageSnapshot {
  /** real guests only */
  vms: Array<{ ref: Ref; name: string; powerState: string }>;
  /** disk attachments (CD drives left out) */
  disks: Array<{ vm: Ref; sr: Ref }>;
  srs: Map<Ref, { name: string; shared: boolean; hosts: Ref[] }>;
}

export interface VmOnStorage {
  ref: Ref;
  name: string;
  powerState: string;
  /** names of the SRs that make it depend on the host (or on nothing) */
  srs: string[];
}

function parseAll<T>(cls: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown): Array<[string, T]> {
  if (!raw || typeof raw !== 'object') throw new Error(`${cls}.get_all_records: expected a struct keyed by ref`);
  return Object.entries(raw as Record<string, unknown>).map(([r, rec]) => {
    const p = schema.safeParse(rec);
    if (!p.success) throw new Error(`${cls} ${r}: field ${p.error.issues[0]?.path.join('.') || '(record)'}: ${p.error.issues[0]?.message ?? 'invalid'}`);
    return [r, p.data];
  });
}

/** Builds the snapshot from raw get_all_records replies (VM, VBD, VDI, SR, PBD). */
export function storageSnapshot(raw: { VM: unknown; VBD: unknown; VDI: unknown; SR: unknown; PBD: unknown }): StorageSnapshot {
  const vdis = new Map(parseAll('VDI', vdiSchema, raw.VDI));
  const pbds = parseAll('PBD', pbdSchema, raw.PBD);
  const srs = new Map(
    parseAll('SR', srSchema, raw.SR).map(([r, sr]) => [r, { name: sr.name_label, shared: sr.shared, hosts: pbds.filter(([, p]) => p.SR === r).map(([, p]) => p.host) }]),
  );
  const vms = parseAll('VM', vmSchema, raw.VM)
    .filter(([, v]) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot)
    .map(([r, v]) => ({ ref: r, name: v.name_label, powerState: v.power_state }));
  const disks: StorageSnapshot['disks'] = [];
  for (const [, vbd] of parseAll('VBD', vbdSchema, raw.VBD)) {
    if (vbd.type === 'CD' || vbd.empty || !vbd.VDI) continue;
    const vdi = vdis.get(vbd.VDI);
    if (vdi) disks.push({ vm: vbd.VM, sr: vdi.SR });
  }
  return { vms, disks, srs };
}

/** Five reads whatever the pool's size. */
export async function readStorage(client: PoolClient): Promise<StorageSnapshot> {
  const classes = ['VM', 'VBD', 'VDI', 'SR', 'PBD'] as const;
  const [VM, VBD, VDI, SR, PBD] = await Promise.all(classes.map((c) => client.call(`${c}.get_all_records`)));
  return storageSnapshot({ VM, VBD, VDI, SR, PBD });
}

function vmsWithDisksOn(s: StorageSnapshot, matches: (sr: { shared: boolean; hosts: Ref[] }) => boolean): VmOnStorage[] {
  const out: VmOnStorage[] = [];
  for (const vm of s.vms) {
    const srs = [...new Set(s.disks.filter((d) => d.vm === vm.ref).map((d) => d.sr))].filter((r) => {
      const sr = s.srs.get(r);
      return !!sr && matches(sr);
    });
    if (srs.length > 0) out.push({ ...vm, srs: srs.map((r) => s.srs.get(r)!.name || r) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * VMs with a disk on storage that only `host` has (a local SR): what forgetting and reinstalling that host loses.
 * Shown in the forget & rejoin dialog before anything is done.
 */
export function vmsOnLocalStorageOf(s: StorageSnapshot, host: Ref): VmOnStorage[] {
  return vmsWithDisksOn(s, (sr) => !sr.shared && sr.hosts.length > 0 && sr.hosts.every((h) => h === host));
}

/**
 * VMs with a disk on a non-shared SR that no host has any more: the local storage of a forgotten host (R4.2, xapi
 * keeps the SR and its VDIs without PBDs). They cannot start anywhere (VM_REQUIRES_SR): lost with that host.
 */
export function lostWithForgottenHost(s: StorageSnapshot): VmOnStorage[] {
  return vmsWithDisksOn(s, (sr) => !sr.shared && sr.hosts.length === 0);
}
