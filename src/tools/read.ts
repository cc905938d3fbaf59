/**
 * Reads what the Tools follow-up needs from a pool (I/O only; decisions are in ./checklist.ts). Every reply passes a
 * zod schema at the boundary. Two shapes of read:
 *  - `guests`: every VM's Tools at once (VM.get_all_records + VM_guest_metrics.get_all_records), when a list opens or
 *    `/xsupgrade tools` is asked;
 *  - `pending`: only the VMs still on the list, three calls each (VM.get_by_uuid, VM.get_guest_metrics,
 *    VM_guest_metrics.get_PV_drivers_version): a check costs 3 × (VMs left) calls, shrinking as guests report.
 */
import { z } from 'zod';
import { XenApiError } from '../xenapi/errors';
import { pvDriversVersion, type GuestTools } from './checklist';

/** The part of the XenAPI client (src/xenapi, runner/ports.ts PoolClient) this module calls. */
export interface ToolsClient {
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

const NULL_REF = 'OpaqueRef:NULL';
const driversMap = z.record(z.string());
const vmRecord = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    is_a_template: z.boolean(),
    is_control_domain: z.boolean(),
    is_a_snapshot: z.boolean().optional(),
    guest_metrics: z.string(),
  })
  .passthrough();
const gmRecord = z.object({ PV_drivers_version: driversMap }).passthrough();
const hostRecord = z.object({ name_label: z.string(), software_version: z.record(z.string()) }).passthrough();

function parse<T>(schema: z.ZodType<T>, what: string, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${what}: unexpected XenAPI reply at ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

/** Every host's name and product version (host.get_all_records). */
export async function readHostVersions(client: ToolsClient): Promise<Array<{ name: string; product: string }>> {
  const hosts = parse(z.record(hostRecord), 'host.get_all_records', await client.call('host.get_all_records'));
  return Object.values(hosts)
    .map((h) => ({ name: h.name_label, product: h.software_version.product_version ?? '' }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Every guest's Tools version as VM_guest_metrics.PV_drivers_version shows it. */
export async function readGuestTools(client: ToolsClient): Promise<GuestTools[]> {
  const [vms, gms] = await Promise.all([client.call('VM.get_all_records'), client.call('VM_guest_metrics.get_all_records')]);
  const vmRecs = parse(z.record(vmRecord), 'VM.get_all_records', vms);
  const gmRecs = parse(z.record(gmRecord), 'VM_guest_metrics.get_all_records', gms);
  return Object.values(vmRecs)
    .filter((v) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot)
    .map((v) => ({ vm: v.name_label, uuid: v.uuid, tools: v.guest_metrics === NULL_REF ? null : pvDriversVersion(gmRecs[v.guest_metrics]?.PV_drivers_version) }));
}

/** The Tools of the VMs named by uuid: version, null (no drivers reported) or 'gone' (no such VM any more). */
export async function readPendingTools(client: ToolsClient, uuids: readonly string[]): Promise<Map<string, string | null | 'gone'>> {
  const out = new Map<string, string | null | 'gone'>();
  for (const uuid of uuids) {
    let ref: string;
    try {
      ref = parse(z.string(), 'VM.get_by_uuid', await client.call('VM.get_by_uuid', [uuid]));
    } catch (err) {
      if (err instanceof XenApiError && err.code === 'UUID_INVALID') {
        out.set(uuid, 'gone');
        continue;
      }
      throw err;
    }
    const gm = parse(z.string(), 'VM.get_guest_metrics', await client.call('VM.get_guest_metrics', [ref]));
    if (gm === NULL_REF) {
      out.set(uuid, null);
      continue;
    }
    try {
      const map = parse(driversMap, 'VM_guest_metrics.get_PV_drivers_version', await client.call('VM_guest_metrics.get_PV_drivers_version', [gm]));
      out.set(uuid, pvDriversVersion(map));
    } catch (err) {
      // the guest rebooted between the two calls: its metrics object was replaced; read again next time
      if (err instanceof XenApiError && err.code === 'HANDLE_INVALID') continue;
      throw err;
    }
  }
  return out;
}
