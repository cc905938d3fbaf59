/**
 * The runner's own view of the pool, re-read before every decision (level-triggered). Raw XenAPI records are
 * parsed with zod (passthrough) so that a wire value of an unexpected shape is an error naming the field.
 * readLivePool: four calls whatever the pool's size (pool, host, host_metrics and VM get_all_records).
 * readLivePoolFor: the same hosts view with only the VMs a per-host step needs (get_all_records_where, get_record).
 * LiveHostsModel: the hosts-only view (pool, host, host_metrics) kept from records — a full read or the snapshots
 * event.from delivers — so waits follow the pool's events without re-reading it (wait.ts).
 */
import { z } from 'zod';
import type { Ref } from '../domain/types';
import type { PoolClient } from './ports';

const bool = z.preprocess((v) => v === true || v === 'true' || v === 1 || v === '1', z.boolean());
const num = z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.number());
const strMap = z.record(z.unknown()).transform((m) => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) out[k] = v == null ? '' : String(v);
  return out;
});
const NULL_REF = 'OpaqueRef:NULL';
const ref = z.string().transform((r) => (r === NULL_REF || r === '' ? null : r));

const poolSchema = z
  .object({ name_label: z.string().default(''), master: z.string(), ha_enabled: bool.default(false), other_config: strMap.default({}) })
  .passthrough();
const hostSchema = z
  .object({
    uuid: z.string().default(''),
    name_label: z.string(),
    address: z.string().default(''),
    enabled: bool,
    metrics: ref.default(NULL_REF),
    software_version: strMap.default({}),
    other_config: strMap.default({}),
    resident_VMs: z.array(z.string()).default([]),
    current_operations: strMap.default({}),
  })
  .passthrough();
const hostMetricsSchema = z.object({ live: bool.default(false), memory_total: num.optional() }).passthrough();
const vmSchema = z
  .object({
    uuid: z.string().default(''),
    name_label: z.string(),
    power_state: z.enum(['Running', 'Halted', 'Suspended', 'Paused']),
    resident_on: ref.default(NULL_REF),
    is_a_template: bool.default(false),
    is_control_domain: bool.default(false),
    is_a_snapshot: bool.default(false),
    memory_dynamic_min: num.optional(),
    memory_overhead: num.optional(),
  })
  .passthrough();

export interface LiveHost {
  ref: Ref;
  uuid: string;
  name: string;
  address: string;
  enabled: boolean;
  live: boolean;
  product: string;
  platform: string;
  build: string;
  /** other_config.boot_time as written by xapi at each start (string kept as-is for exact comparison) */
  bootTime: string | null;
  isMaster: boolean;
  /** current_operations: task ref → operation in progress on the host (a reboot or shutdown, reference C4) */
  operations: Record<string, string>;
}

export interface LiveVm {
  ref: Ref;
  uuid: string;
  name: string;
  powerState: 'Running' | 'Halted' | 'Suspended' | 'Paused';
  residentOn: Ref | null;
  memory: number;
}

/** The pool and its hosts, without the VMs (what waits need: cheaper to read, and kept current by events). */
export interface LiveHosts {
  ref: Ref;
  master: Ref;
  haEnabled: boolean;
  otherConfig: Record<string, string>;
  hosts: LiveHost[];
}

export interface LivePool extends LiveHosts {
  /** real guests only: no templates, snapshots or control domains */
  vms: LiveVm[];
}

function parseOne<T>(cls: string, ref: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, rec: unknown): T {
  const parsed = schema.safeParse(rec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${cls} ${ref}: field ${issue?.path.join('.') || '(record)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function parseAll<T>(cls: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown): Map<string, T> {
  if (!raw || typeof raw !== 'object') throw new Error(`${cls}.get_all_records: expected a struct keyed by ref`);
  return new Map(Object.entries(raw as Record<string, unknown>).map(([r, rec]) => [r, parseOne(cls, r, schema, rec)]));
}

/** The classes the hosts-only view is made of, as event.from names them. */
export const LIVE_HOSTS_CLASSES = ['pool', 'host', 'host_metrics'] as const;
type LiveHostsClass = (typeof LIVE_HOSTS_CLASSES)[number];

/**
 * The pool, host and host_metrics records the hosts-only view is built from. Filled by a full read, then kept
 * current record by record (event.from snapshots); view() builds LiveHosts from whatever it holds.
 */
export class LiveHostsModel {
  private pools = new Map<Ref, z.infer<typeof poolSchema>>();
  private hosts = new Map<Ref, z.infer<typeof hostSchema>>();
  private metrics = new Map<Ref, z.infer<typeof hostMetricsSchema>>();

  static fromRecords(raw: Record<LiveHostsClass, unknown>): LiveHostsModel {
    const m = new LiveHostsModel();
    m.pools = parseAll('pool', poolSchema, raw.pool);
    m.hosts = parseAll('host', hostSchema, raw.host);
    m.metrics = parseAll('host_metrics', hostMetricsSchema, raw.host_metrics);
    return m;
  }

  /** Is this an event class the model follows ("host", "host_metrics", "pool"; case-insensitive)? */
  static follows(cls: string): boolean {
    return (LIVE_HOSTS_CLASSES as readonly string[]).includes(cls.toLowerCase());
  }

  /** One record added/modified (with its snapshot) or deleted. */
  apply(cls: string, ref: Ref, operation: string, snapshot: unknown): void {
    const c = cls.toLowerCase() as LiveHostsClass;
    if (!LiveHostsModel.follows(c)) return;
    if (operation === 'del') {
      ({ pool: this.pools, host: this.hosts, host_metrics: this.metrics })[c].delete(ref);
      return;
    }
    if (snapshot === undefined) throw new Error(`event ${operation} ${cls} ${ref} without a snapshot`);
    if (c === 'pool') this.pools.set(ref, parseOne(c, ref, poolSchema, snapshot));
    else if (c === 'host') this.hosts.set(ref, parseOne(c, ref, hostSchema, snapshot));
    else this.metrics.set(ref, parseOne(c, ref, hostMetricsSchema, snapshot));
  }

  view(): LiveHosts {
    const [poolRef, pool] = [...this.pools.entries()][0] ?? [];
    if (!poolRef || !pool) throw new Error('pool.get_all_records returned no pool');
    return {
      ref: poolRef,
      master: pool.master,
      haEnabled: pool.ha_enabled,
      otherConfig: pool.other_config,
      hosts: [...this.hosts.entries()].map(([r, h]) => ({
        ref: r,
        uuid: h.uuid,
        name: h.name_label,
        address: h.address,
        enabled: h.enabled,
        live: h.metrics ? (this.metrics.get(h.metrics)?.live ?? false) : false,
        product: h.software_version.product_version ?? '',
        platform: h.software_version.platform_version ?? '',
        build: h.software_version.build_number ?? '',
        bootTime: h.other_config.boot_time ?? null,
        isMaster: r === pool.master,
        operations: h.current_operations,
      })),
    };
  }
}

/** The pool and its hosts: three calls (pool, host, host_metrics get_all_records), no VM records. */
export async function readLiveHosts(client: PoolClient): Promise<LiveHosts> {
  const [pool, host, hostMetrics] = await Promise.all(LIVE_HOSTS_CLASSES.map((cls) => client.call(`${cls}.get_all_records`)));
  return LiveHostsModel.fromRecords({ pool, host, host_metrics: hostMetrics }).view();
}

export async function readLivePool(client: PoolClient): Promise<LivePool> {
  const [pool, host, hostMetrics, vms] = await Promise.all([...LIVE_HOSTS_CLASSES.map((cls) => client.call(`${cls}.get_all_records`)), client.call('VM.get_all_records')]);
  return { ...LiveHostsModel.fromRecords({ pool, host, host_metrics: hostMetrics }).view(), vms: liveVms(vms) };
}

function liveVms(raw: unknown): LiveVm[] {
  const vmRecs = parseAll('VM', vmSchema, raw);
  return [...vmRecs.entries()].filter(([, v]) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot).map(([r, v]) => toLiveVm(r, v));
}

function toLiveVm(r: Ref, v: z.infer<typeof vmSchema>): LiveVm {
  return {
    ref: r,
    uuid: v.uuid,
    name: v.name_label,
    powerState: v.power_state,
    residentOn: v.resident_on,
    memory: (v.memory_dynamic_min ?? 0) + (v.memory_overhead ?? 0),
  };
}

/** VM.get_record, or undefined when the VM no longer exists (HANDLE_INVALID). */
function vmRecordOrAbsent(client: PoolClient, vm: Ref): Promise<unknown> {
  return client.call('VM.get_record', [vm]).catch((e: unknown) => {
    if ((e as { code?: unknown })?.code === 'HANDLE_INVALID') return undefined;
    throw e;
  });
}

const vmNowSchema = vmSchema.extend({ current_operations: z.record(z.string(), z.string()).default({}) });

/**
 * One VM as the pool shows it now, with the operations in progress on it (current_operations: task ref →
 * operation); undefined when it no longer exists. A record of the wrong shape is refused naming `label` (e.g. the
 * VM's name) and the field.
 */
export async function readVmNow(client: PoolClient, vm: Ref, label: string = vm): Promise<(LiveVm & { operations: Record<string, string> }) | undefined> {
  const raw = await vmRecordOrAbsent(client, vm);
  if (raw === undefined) return undefined;
  const v = parseOne('VM.get_record', label, vmNowSchema, raw);
  return { ...toLiveVm(vm, v), operations: v.current_operations };
}

/** VM.current_operations values of a suspend or shutdown: a stop in progress, the run's (stop-vms) or another client's */
export const VM_STOP_OPERATIONS: ReadonlySet<string> = new Set(['suspend', 'clean_shutdown', 'hard_shutdown', 'shutdown']);
/** VM.current_operations values of a start or resume (its keys are the task refs): real xapi refuses a second one */
export const VM_START_OPERATIONS: ReadonlySet<string> = new Set(['start', 'start_on', 'resume', 'resume_on', 'unpause']);

/**
 * The first of `ops` in progress on the VM (read by readVmNow) or host whose task is not in `skip` (the ones already
 * followed): its task ref and operation, or undefined. A step follows such an operation instead of sending its own.
 */
export function operationInProgress(vm: Pick<LiveHost, 'operations'> | undefined, ops: ReadonlySet<string>, skip: ReadonlySet<string> = new Set()): { task: Ref; op: string } | undefined {
  const found = Object.entries(vm?.operations ?? {}).find(([task, op]) => ops.has(op) && !skip.has(task));
  return found && { task: found[0], op: found[1] };
}

/** xapi's filter for the VMs resident on one host (get_all_records_where syntax). */
export function residentOnQuery(hostRef: Ref): string {
  return `field "resident_on" = ${JSON.stringify(hostRef)}`;
}

/**
 * The pool and its hosts plus only the VM records a per-host step needs (issue 13: a run reads only what each step
 * needs): the VMs resident on `residentOn` (one VM.get_all_records_where) and the VMs named in `vms` (one
 * VM.get_record each; a VM that no longer exists is absent, as it would be from the full list).
 * `vms` in the result holds just those: a step must not read it as "every VM of the pool".
 */
export async function readLivePoolFor(client: PoolClient, want: { residentOn?: Ref; vms?: Ref[] }): Promise<LivePool> {
  const named = [...new Set(want.vms ?? [])];
  const [hosts, onHost, ...records] = await Promise.all([
    readLiveHosts(client),
    want.residentOn ? client.call('VM.get_all_records_where', [residentOnQuery(want.residentOn)]) : Promise.resolve({}),
    ...named.map((ref) => vmRecordOrAbsent(client, ref)),
  ]);
  const raw: Record<string, unknown> = { ...(onHost as Record<string, unknown>) };
  named.forEach((ref, i) => {
    if (records[i] !== undefined) raw[ref] = records[i];
  });
  return { ...hosts, vms: liveVms(raw) };
}

export function hostByRef(pool: LiveHosts, ref: Ref): LiveHost | undefined {
  return pool.hosts.find((h) => h.ref === ref);
}

export function vmByRef(pool: LivePool, ref: Ref): LiveVm | undefined {
  return pool.vms.find((v) => v.ref === ref);
}

/** Is the VM a Running or Paused guest resident on `host`? */
export function runsOn(vm: Pick<LiveVm, 'powerState' | 'residentOn'> | undefined, host: Ref): boolean {
  return !!vm && vm.residentOn === host && (vm.powerState === 'Running' || vm.powerState === 'Paused');
}

/** Running/Paused guests resident on a host. */
export function vmsOn(pool: LivePool, host: Ref): LiveVm[] {
  return pool.vms.filter((v) => runsOn(v, host));
}

/** "xs-a1: live, enabled, 7.6.0 build 1234" — facts for failure messages and reports. */
export function describeHost(h: Pick<LiveHost, 'name' | 'live' | 'enabled' | 'product' | 'build' | 'isMaster'>): string {
  return `${h.name}: ${h.live ? 'live' : 'not live'}, ${h.enabled ? 'enabled' : 'disabled'}, ${h.product || '?'}${h.build ? ` build ${h.build}` : ''}${h.isMaster ? ' (master)' : ''}`;
}
