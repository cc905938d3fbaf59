import { z } from 'zod';

/**
 * zod schemas for the records `<class>.get_all_records` returns, with xapi's wire field names.
 * - unknown fields are kept (passthrough): xapi returns every field of the data model, and newer versions add some;
 * - int64 fields arrive as decimal strings (xapi's untyped <value>) and are decoded to numbers;
 * - datetimes arrive as Date (<dateTime.iso8601>) or as xapi's text form 20170407T08:28:32Z, and become Date.
 * Fields every consumer relies on are required; the rest are optional so that an older xapi still parses.
 * A bad record throws RecordParseError naming the class, the ref and the field.
 */

const ref = z.string();
const refs = z.array(z.string());
const stringMap = z.record(z.string(), z.string());

/** int64: xapi sends "123"; a typed <int> (a number) is accepted too. */
export const int64 = z
  .union([z.string().regex(/^-?\d+$/, 'an int64 as a decimal string'), z.number().int()])
  .transform((v) => (typeof v === 'number' ? v : Number(v)));

/** float: <double> on the wire; a decimal string (as in other_config) is accepted too. */
export const float = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d*)?([eE][-+]?\d+)?$/, 'a number')])
  .transform((v) => (typeof v === 'number' ? v : Number(v)));

const XAPI_DATETIME = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses xapi's datetime text (UTC unless an offset is given); undefined if it is not one. */
export function parseXapiDatetime(text: string): Date | undefined {
  const m = XAPI_DATETIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${!zone || zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export const datetime = z.union([z.date(), z.string()]).transform((v, ctx) => {
  if (v instanceof Date) return v;
  const d = parseXapiDatetime(v);
  if (!d) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `a XenAPI datetime like 20170407T08:28:32Z, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return d;
});

const ops = z.array(z.string());
const opsMap = z.record(z.string(), z.string());

export const PoolRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    master: ref,
    other_config: stringMap,
    name_description: z.string().optional(),
    default_SR: ref.optional(),
    suspend_image_SR: ref.optional(),
    crash_dump_SR: ref.optional(),
    ha_enabled: z.boolean().optional(),
    ha_configuration: stringMap.optional(),
    ha_host_failures_to_tolerate: int64.optional(),
    ha_plan_exists_for: int64.optional(),
    ha_overcommitted: z.boolean().optional(),
    allowed_operations: ops.optional(),
    current_operations: opsMap.optional(),
    restrictions: stringMap.optional(),
    cpu_info: stringMap.optional(),
    live_patching_disabled: z.boolean().optional(),
  })
  .passthrough();

export const HostRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    address: z.string(),
    enabled: z.boolean(),
    software_version: stringMap,
    other_config: stringMap,
    resident_VMs: refs,
    metrics: ref,
    PBDs: refs,
    name_description: z.string().optional(),
    hostname: z.string().optional(),
    allowed_operations: ops.optional(),
    current_operations: opsMap.optional(),
    API_version_major: int64.optional(),
    API_version_minor: int64.optional(),
    API_version_vendor: z.string().optional(),
    memory_overhead: int64.optional(),
    PIFs: refs.optional(),
    control_domain: ref.optional(),
    updates: refs.optional(),
    updates_requiring_reboot: refs.optional(),
    edition: z.string().optional(),
    license_params: stringMap.optional(),
    cpu_info: stringMap.optional(),
    // xapi's datamodel default: no suspend image SR chosen yet
    suspend_image_sr: ref.default('OpaqueRef:NULL'),
  })
  .passthrough();

export const HostMetricsRecordSchema = z
  .object({
    uuid: z.string(),
    live: z.boolean(),
    memory_total: int64,
    memory_free: int64.optional(),
    last_updated: datetime.optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const VMRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    power_state: z.string(),
    resident_on: ref,
    is_a_template: z.boolean(),
    is_control_domain: z.boolean(),
    memory_static_max: int64,
    memory_dynamic_min: int64,
    memory_dynamic_max: int64,
    VBDs: refs,
    other_config: stringMap,
    name_description: z.string().optional(),
    is_a_snapshot: z.boolean().optional(),
    affinity: ref.optional(),
    memory_static_min: int64.optional(),
    memory_target: int64.optional(),
    memory_overhead: int64.optional(),
    VCPUs_max: int64.optional(),
    VIFs: refs.optional(),
    /** vendor and features (hex words) the VM booted with: VM_INCOMPATIBLE_WITH_THIS_HOST compares them */
    last_boot_CPU_flags: stringMap.optional(),
    suspend_VDI: ref.optional(),
    suspend_SR: ref.optional(),
    allowed_operations: ops.optional(),
    current_operations: opsMap.optional(),
    blocked_operations: stringMap.optional(),
    metrics: ref.optional(),
    guest_metrics: ref.optional(),
    ha_restart_priority: z.string().optional(),
    platform: stringMap.optional(),
    // defaults as xapi's datamodel (XS71 datamodel.ml): "" = PV guest, no PCI devices passed through
    HVM_boot_policy: z.string().default(''),
    attached_PCIs: refs.default([]),
  })
  .passthrough();

export const VMMetricsRecordSchema = z
  .object({
    uuid: z.string(),
    memory_actual: int64.optional(),
    VCPUs_number: int64.optional(),
    start_time: datetime.optional(),
    state: refs.optional(),
    hvm: z.boolean().optional(),
    nested_virt: z.boolean().optional(),
    nomigrate: z.boolean().optional(),
    last_updated: datetime.optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const VMGuestMetricsRecordSchema = z
  .object({
    uuid: z.string(),
    PV_drivers_version: stringMap,
    PV_drivers_up_to_date: z.boolean().optional(),
    PV_drivers_detected: z.boolean().optional(),
    os_version: stringMap.optional(),
    networks: stringMap.optional(),
    other: stringMap.optional(),
    live: z.boolean().optional(),
    can_use_hotplug_vbd: z.string().optional(),
    can_use_hotplug_vif: z.string().optional(),
    last_updated: datetime.optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const VBDRecordSchema = z
  .object({
    uuid: z.string(),
    VM: ref,
    VDI: ref,
    type: z.string(),
    empty: z.boolean(),
    mode: z.string().optional(),
    userdevice: z.string().optional(),
    bootable: z.boolean().optional(),
    currently_attached: z.boolean().optional(),
    allowed_operations: ops.optional(),
    current_operations: opsMap.optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const VDIRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    SR: ref,
    VBDs: refs,
    virtual_size: int64,
    physical_utilisation: int64.optional(),
    type: z.string().optional(),
    sharable: z.boolean().optional(),
    read_only: z.boolean().optional(),
    is_tools_iso: z.boolean().optional(),
    name_description: z.string().optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const SRRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    type: z.string(),
    shared: z.boolean(),
    PBDs: refs,
    VDIs: refs,
    content_type: z.string().optional(),
    physical_size: int64.optional(),
    physical_utilisation: int64.optional(),
    virtual_allocation: int64.optional(),
    name_description: z.string().optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const PBDRecordSchema = z
  .object({
    uuid: z.string(),
    host: ref,
    SR: ref,
    currently_attached: z.boolean(),
    device_config: stringMap.optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const TaskRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    status: z.string(),
    progress: float,
    result: z.string(),
    error_info: z.array(z.string()),
    created: datetime.optional(),
    finished: datetime.optional(),
    resident_on: ref.optional(),
    allowed_operations: ops.optional(),
    current_operations: opsMap.optional(),
    subtask_of: ref.optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const NetworkRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    PIFs: refs,
    VIFs: refs.optional(),
    bridge: z.string().optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const PIFRecordSchema = z
  .object({
    uuid: z.string(),
    host: ref,
    network: ref,
    device: z.string().optional(),
    VLAN: int64.optional(),
    management: z.boolean().optional(),
    currently_attached: z.boolean().optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const VIFRecordSchema = z
  .object({
    uuid: z.string(),
    VM: ref,
    network: ref,
    device: z.string().optional(),
    currently_attached: z.boolean().optional(),
    other_config: stringMap.optional(),
  })
  .passthrough();

export const recordSchemas = {
  pool: PoolRecordSchema,
  host: HostRecordSchema,
  host_metrics: HostMetricsRecordSchema,
  VM: VMRecordSchema,
  VM_metrics: VMMetricsRecordSchema,
  VM_guest_metrics: VMGuestMetricsRecordSchema,
  VBD: VBDRecordSchema,
  VDI: VDIRecordSchema,
  SR: SRRecordSchema,
  PBD: PBDRecordSchema,
  task: TaskRecordSchema,
  network: NetworkRecordSchema,
  PIF: PIFRecordSchema,
  VIF: VIFRecordSchema,
} as const;

export type RecordClass = keyof typeof recordSchemas;
export const RECORD_CLASSES = Object.keys(recordSchemas) as RecordClass[];

export type PoolRecord = z.infer<typeof PoolRecordSchema>;
export type HostRecord = z.infer<typeof HostRecordSchema>;
export type HostMetricsRecord = z.infer<typeof HostMetricsRecordSchema>;
export type VMRecord = z.infer<typeof VMRecordSchema>;
export type VMMetricsRecord = z.infer<typeof VMMetricsRecordSchema>;
export type VMGuestMetricsRecord = z.infer<typeof VMGuestMetricsRecordSchema>;
export type VBDRecord = z.infer<typeof VBDRecordSchema>;
export type VDIRecord = z.infer<typeof VDIRecordSchema>;
export type SRRecord = z.infer<typeof SRRecordSchema>;
export type PBDRecord = z.infer<typeof PBDRecordSchema>;
export type TaskRecord = z.infer<typeof TaskRecordSchema>;
export type RecordOf<C extends RecordClass> = z.infer<(typeof recordSchemas)[C]>;

export class RecordParseError extends Error {
  constructor(
    readonly cls: string,
    readonly ref: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${cls} record ${ref}: field ${field || '(record)'}: ${detail}`);
    this.name = 'RecordParseError';
  }
}

/** The record class for an event's lower-case class name ("vm" → "VM"), if we have a schema for it. */
export function recordClassOf(eventClass: string): RecordClass | undefined {
  const lower = eventClass.toLowerCase();
  return RECORD_CLASSES.find((c) => c.toLowerCase() === lower);
}

function describeIssue(issue: z.ZodIssue, value: unknown): string {
  let got: unknown = value;
  for (const k of issue.path) got = got !== null && typeof got === 'object' ? (got as Record<string | number, unknown>)[k] : undefined;
  const shown = got === undefined ? 'missing' : `got ${JSON.stringify(got instanceof Date ? got.toISOString() : got)?.slice(0, 80)}`;
  return `${issue.message}, ${shown}`;
}

export function parseRecord<C extends RecordClass>(cls: C, ref: string, value: unknown): RecordOf<C> {
  const res = recordSchemas[cls].safeParse(value);
  if (res.success) return res.data as RecordOf<C>;
  const issue = res.error.issues[0]!;
  throw new RecordParseError(cls, ref, issue.path.join('.'), describeIssue(issue, value));
}

/**
 * parseAllRecords without holding the event loop: records are validated in slices of about 8 ms with a yield
 * between them (issue 13: validating 3,200 VM records takes several hundred ms).
 */
export async function parseAllRecordsSliced<C extends RecordClass>(cls: C, value: unknown): Promise<Record<string, RecordOf<C>>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return parseAllRecords(cls, value);
  const out: Record<string, RecordOf<C>> = {};
  let slice = performance.now();
  for (const [r, rec] of Object.entries(value as Record<string, unknown>)) {
    out[r] = parseRecord(cls, r, rec);
    if (performance.now() - slice > 8) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
  }
  return out;
}

/** Parses a get_all_records reply (a struct keyed by ref). */
export function parseAllRecords<C extends RecordClass>(cls: C, value: unknown): Record<string, RecordOf<C>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RecordParseError(cls, '(all)', '', `expected a struct keyed by ref, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const out: Record<string, RecordOf<C>> = {};
  for (const [r, rec] of Object.entries(value as Record<string, unknown>)) out[r] = parseRecord(cls, r, rec);
  return out;
}
