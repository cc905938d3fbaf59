import { z } from 'zod';

/**
 * Lenient zod schemas for the wire fields the inventory reads (names as xapi sends them).
 * The client already decodes records; these schemas accept both its decoded form (numbers, Dates)
 * and raw XML-RPC text (int64 as decimal strings), so the converter works on either and a missing
 * or malformed field is reported by name instead of turning into `undefined` deep in the planner.
 */

export const RECORD_CLASSES = [
  'pool',
  'host',
  'host_metrics',
  'VM',
  'VM_metrics',
  'VM_guest_metrics',
  'VBD',
  'VDI',
  'SR',
  'PBD',
  'task',
] as const;
export type InventoryClass = (typeof RECORD_CLASSES)[number];

const int = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)]).transform((v) => Number(v));
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0'])]).transform((v) => v === true || v === 'true' || v === '1');
const stringMap = z.record(z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({});
const refList = z.array(z.string()).default([]);
const ref = z.string().default('OpaqueRef:NULL');

export const poolWire = z
  .object({ name_label: z.string().default(''), master: z.string(), ha_enabled: bool.default(false), other_config: stringMap, suspend_image_SR: ref })
  .passthrough();

export const hostWire = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    address: z.string().default(''),
    enabled: bool,
    software_version: stringMap,
    API_version_major: int.default(0),
    API_version_minor: int.default(0),
    memory_overhead: int.default(0),
    metrics: ref,
    PBDs: refList,
    resident_VMs: refList,
    other_config: stringMap,
    suspend_image_sr: ref,
  })
  .passthrough();

export const hostMetricsWire = z.object({ live: bool, memory_total: int }).passthrough();

export const vmWire = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    power_state: z.enum(['Running', 'Halted', 'Suspended', 'Paused']),
    is_a_template: bool.default(false),
    is_a_snapshot: bool.default(false),
    is_control_domain: bool.default(false),
    resident_on: ref,
    affinity: ref,
    memory_dynamic_min: int,
    memory_overhead: int.default(0),
    VBDs: refList,
    metrics: ref,
    guest_metrics: ref,
    blocked_operations: stringMap,
    ha_restart_priority: z.string().default(''),
    HVM_boot_policy: z.string().default(''),
    attached_PCIs: refList,
    other_config: stringMap,
    suspend_SR: ref,
  })
  .passthrough();

export const vmMetricsWire = z.object({ hvm: bool.optional() }).passthrough();

export const vmGuestMetricsWire = z
  .object({
    PV_drivers_version: stringMap,
    PV_drivers_up_to_date: bool.default(false),
    PV_drivers_detected: bool.optional(),
    other: stringMap,
  })
  .passthrough();

export const vbdWire = z
  .object({ VM: z.string(), VDI: ref, type: z.string(), empty: bool.default(false) })
  .passthrough();

export const vdiWire = z.object({ SR: z.string(), name_label: z.string().default('') }).passthrough();

export const srWire = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    type: z.string().default(''),
    content_type: z.string().default(''),
    shared: bool.default(false),
    PBDs: refList,
  })
  .passthrough();

export const pbdWire = z.object({ host: z.string(), SR: z.string(), currently_attached: bool }).passthrough();

export const taskWire = z
  .object({ name_label: z.string().default(''), status: z.string(), progress: z.union([z.number(), z.string()]).transform(Number).default(0) })
  .passthrough();

export const WIRE_SCHEMAS = {
  pool: poolWire,
  host: hostWire,
  host_metrics: hostMetricsWire,
  VM: vmWire,
  VM_metrics: vmMetricsWire,
  VM_guest_metrics: vmGuestMetricsWire,
  VBD: vbdWire,
  VDI: vdiWire,
  SR: srWire,
  PBD: pbdWire,
  task: taskWire,
} as const;

export type WireOf<C extends InventoryClass> = z.infer<(typeof WIRE_SCHEMAS)[C]>;

/** get_all_records of every class, keyed by ref, as the client returns them. */
export type RawRecords = { [C in InventoryClass]: Record<string, unknown> };
export type ParsedRecords = { [C in InventoryClass]: Record<string, WireOf<C>> };

export class InventoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InventoryError';
  }
}

export function parseRecords(raw: RawRecords): ParsedRecords {
  const out = {} as Record<InventoryClass, Record<string, unknown>>;
  for (const cls of RECORD_CLASSES) {
    const schema = WIRE_SCHEMAS[cls];
    const parsed: Record<string, unknown> = {};
    for (const [ref, rec] of Object.entries(raw[cls] ?? {})) {
      const r = schema.safeParse(rec);
      if (!r.success) {
        const issue = r.error.issues[0];
        throw new InventoryError(`${cls} ${ref}: field ${issue.path.join('.') || '(record)'}: ${issue.message}`);
      }
      parsed[ref] = r.data;
    }
    out[cls] = parsed;
  }
  return out as ParsedRecords;
}
