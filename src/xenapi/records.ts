import { z } from 'zod/v4';
import { setOwn } from './own-property';

/**
 * zod schemas for the records `<class>.get_all_records` returns, with xapi's wire field names.
 * - only the fields the bot reads are validated and kept (see below);
 * - int64 fields arrive as decimal strings (xapi's untyped <value>) and are decoded to numbers;
 * - datetimes arrive as Date (<dateTime.iso8601>) or as xapi's text form 20170407T08:28:32Z, and become Date.
 * Fields every consumer relies on are required; the rest are optional so that an older xapi still parses.
 * A bad record throws RecordParseError naming the class, the ref and the field.
 */

const ref = z.string();
const refs = z.array(z.string());
const stringMap = z.record(z.string(), z.string());
/** A map of which only `keys` are read: those are validated as strings, the rest is dropped. */
const mapOf = <K extends string>(...keys: K[]) => z.object(Object.fromEntries(keys.map((k) => [k, z.string().optional()])) as { [k in K]: z.ZodOptional<z.ZodString> });

const INT64 = /^-?\d+$/;
const FLOAT = /^-?\d+(\.\d*)?([eE][-+]?\d+)?$/;

/**
 * Scalars with two wire forms are one transform each, not a z.union: a union tries its members in turn and builds
 * an issue for every member that fails, which at 3,200 VMs was a large part of the read (issue 13).
 */
/** int64: xapi sends "123"; a typed <int> (a number) is accepted too. */
export const int64 = z.unknown().transform((v, ctx): number => {
  if (typeof v === 'string' && INT64.test(v)) return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  ctx.addIssue({ code: 'custom', message: 'an int64 as a decimal string', input: v });
  return z.NEVER;
});

/** float: <double> on the wire; a decimal string (as in other_config) is accepted too. */
export const float = z.unknown().transform((v, ctx): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && FLOAT.test(v)) return Number(v);
  ctx.addIssue({ code: 'custom', message: 'a number', input: v });
  return z.NEVER;
});

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

export const datetime = z.unknown().transform((v, ctx): Date => {
  if (v instanceof Date) return v;
  const d = typeof v === 'string' ? parseXapiDatetime(v) : undefined;
  if (!d) {
    ctx.addIssue({ code: 'custom', message: `a XenAPI datetime like 20170407T08:28:32Z, got ${JSON.stringify(v)}`, input: v });
    return z.NEVER;
  }
  return d;
});

/*
 * Only the fields the bot reads are declared, and only those are kept (zod's default: unknown keys are stripped).
 * xapi sends every field of its data model (a VM record has ~90); validating and copying all of them for 3,200 VMs
 * cost more than reading them (issue 13). getAllRecords also tells the XML decoder these names (recordFields), so
 * the other members of each record are never built. A field added here is validated and kept from then on.
 */

export const PoolRecordSchema = z.object({
  /** the pool's identity: reconnect() adopts a master only of this pool (client.ts) */
  uuid: z.string().optional(),
  name_label: z.string(),
  master: ref,
  other_config: stringMap,
  ha_enabled: z.boolean().optional(),
  suspend_image_SR: ref.optional(),
});

export const HostRecordSchema = z.object({
  uuid: z.string(),
  name_label: z.string(),
  address: z.string(),
  enabled: z.boolean(),
  software_version: stringMap,
  other_config: stringMap,
  metrics: ref,
  API_version_major: int64.optional(),
  API_version_minor: int64.optional(),
  memory_overhead: int64.optional(),
  cpu_info: stringMap.optional(),
  // xapi's datamodel default: no suspend image SR chosen yet
  suspend_image_sr: ref.default('OpaqueRef:NULL'),
});

export const HostMetricsRecordSchema = z.object({
  live: z.boolean(),
  memory_total: int64,
  last_updated: datetime.optional(),
});

export const VMRecordSchema = z.object({
  uuid: z.string(),
  name_label: z.string(),
  power_state: z.string(),
  resident_on: ref,
  is_a_template: z.boolean(),
  is_control_domain: z.boolean(),
  memory_dynamic_min: int64,
  VBDs: refs,
  /** PCI passthrough declared the old way (other_config:pci) */
  other_config: mapOf('pci'),
  is_a_snapshot: z.boolean().optional(),
  affinity: ref.optional(),
  memory_overhead: int64.optional(),
  /** vendor and features (hex words) the VM booted with: VM_INCOMPATIBLE_WITH_THIS_HOST compares them */
  last_boot_CPU_flags: mapOf('features').optional(),
  suspend_SR: ref.optional(),
  blocked_operations: stringMap.optional(),
  metrics: ref.optional(),
  guest_metrics: ref.optional(),
  ha_restart_priority: z.string().optional(),
  // defaults as xapi's datamodel (XS71 datamodel.ml): "" = PV guest, no PCI devices passed through
  HVM_boot_policy: z.string().default(''),
  attached_PCIs: refs.default([]),
});

export const VMMetricsRecordSchema = z.object({
  hvm: z.boolean().optional(),
});

export const VMGuestMetricsRecordSchema = z.object({
  PV_drivers_version: mapOf('major', 'minor', 'micro'),
  PV_drivers_up_to_date: z.boolean().optional(),
  PV_drivers_detected: z.boolean().optional(),
  other: mapOf('feature-suspend').optional(),
});

export const VBDRecordSchema = z.object({
  VDI: ref,
  type: z.string(),
  empty: z.boolean(),
});

export const VDIRecordSchema = z.object({
  name_label: z.string(),
  SR: ref,
});

export const SRRecordSchema = z.object({
  uuid: z.string(),
  name_label: z.string(),
  type: z.string(),
  shared: z.boolean(),
  content_type: z.string().optional(),
});

export const PBDRecordSchema = z.object({
  host: ref,
  SR: ref,
  currently_attached: z.boolean(),
});

export const TaskRecordSchema = z.object({
  name_label: z.string(),
  status: z.string(),
  progress: float,
  result: z.string(),
  error_info: z.array(z.string()),
});

export const NetworkRecordSchema = z.object({
  name_label: z.string(),
});

export const PIFRecordSchema = z.object({
  host: ref,
  network: ref,
  currently_attached: z.boolean().optional(),
});

export const VIFRecordSchema = z.object({
  VM: ref,
  network: ref,
});

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

const FIELDS = new Map<RecordClass, ReadonlySet<string>>(RECORD_CLASSES.map((c) => [c, new Set(Object.keys(recordSchemas[c].shape))]));
/** The wire fields the schema of `cls` declares: the only ones a get_all_records reply needs to carry. */
export const recordFieldsOf = (cls: RecordClass): ReadonlySet<string> => FIELDS.get(cls)!;

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

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  let got: unknown = value;
  for (const k of issue.path) got = got !== null && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[k] : undefined;
  const shown = got === undefined ? 'missing' : `got ${JSON.stringify(got instanceof Date ? got.toISOString() : got)?.slice(0, 80)}`;
  // zod's own wording ("Invalid input: expected string, received number") repeats what `shown` says
  const wanted = issue.code === 'invalid_type' ? `Expected ${issue.expected}` : issue.message;
  return `${wanted}, ${shown}`;
}

export function parseRecord<C extends RecordClass>(cls: C, ref: string, value: unknown): RecordOf<C> {
  const res = recordSchemas[cls].safeParse(value);
  if (res.success) return res.data as RecordOf<C>;
  const issue = res.error.issues[0]!;
  throw new RecordParseError(cls, ref, issue.path.map(String).join('.'), describeIssue(issue, value));
}

/** Parses a get_all_records reply (a struct keyed by ref). */
export function parseAllRecords<C extends RecordClass>(cls: C, value: unknown): Record<string, RecordOf<C>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RecordParseError(cls, '(all)', '', `expected a struct keyed by ref, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const out: Record<string, RecordOf<C>> = {};
  for (const [r, rec] of Object.entries(value as Record<string, unknown>)) setOwn(out, r, parseRecord(cls, r, rec));
  return out;
}
