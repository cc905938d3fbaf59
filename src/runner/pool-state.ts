/**
 * The runner's own view of the pool, re-read before every decision (level-triggered). Raw XenAPI records are
 * parsed with zod (passthrough) so that a wire value of an unexpected shape is an error naming the field.
 * Four calls whatever the pool's size: pool, host, host_metrics and VM get_all_records.
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
}

export interface LiveVm {
  ref: Ref;
  uuid: string;
  name: string;
  powerState: 'Running' | 'Halted' | 'Suspended' | 'Paused';
  residentOn: Ref | null;
  memory: number;
}

export interface LivePool {
  ref: Ref;
  master: Ref;
  haEnabled: boolean;
  otherConfig: Record<string, string>;
  hosts: LiveHost[];
  /** real guests only: no templates, snapshots or control domains */
  vms: LiveVm[];
}

function parseAll<T>(cls: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: unknown): Record<string, T> {
  if (!raw || typeof raw !== 'object') throw new Error(`${cls}.get_all_records: expected a struct keyed by ref`);
  const out: Record<string, T> = {};
  for (const [r, rec] of Object.entries(raw as Record<string, unknown>)) {
    const parsed = schema.safeParse(rec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${cls} ${r}: field ${issue?.path.join('.') || '(record)'}: ${issue?.message ?? 'invalid'}`);
    }
    out[r] = parsed.data;
  }
  return out;
}

export async function readLivePool(client: PoolClient): Promise<LivePool> {
  const [pools, hosts, metrics, vms] = await Promise.all([
    client.call('pool.get_all_records'),
    client.call('host.get_all_records'),
    client.call('host_metrics.get_all_records'),
    client.call('VM.get_all_records'),
  ]);
  const poolRecs = parseAll('pool', poolSchema, pools);
  const [poolRef, pool] = Object.entries(poolRecs)[0] ?? [];
  if (!poolRef || !pool) throw new Error('pool.get_all_records returned no pool');
  const metricRecs = parseAll('host_metrics', hostMetricsSchema, metrics);
  const hostRecs = parseAll('host', hostSchema, hosts);
  const vmRecs = parseAll('VM', vmSchema, vms);
  return {
    ref: poolRef,
    master: pool.master,
    haEnabled: pool.ha_enabled,
    otherConfig: pool.other_config,
    hosts: Object.entries(hostRecs).map(([r, h]) => ({
      ref: r,
      uuid: h.uuid,
      name: h.name_label,
      address: h.address,
      enabled: h.enabled,
      live: h.metrics ? metricRecs[h.metrics]?.live ?? false : false,
      product: h.software_version.product_version ?? '',
      platform: h.software_version.platform_version ?? '',
      build: h.software_version.build_number ?? '',
      bootTime: h.other_config.boot_time ?? null,
      isMaster: r === pool.master,
    })),
    vms: Object.entries(vmRecs)
      .filter(([, v]) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot)
      .map(([r, v]) => ({
        ref: r,
        uuid: v.uuid,
        name: v.name_label,
        powerState: v.power_state,
        residentOn: v.resident_on,
        memory: (v.memory_dynamic_min ?? 0) + (v.memory_overhead ?? 0),
      })),
  };
}

export function hostByRef(pool: LivePool, ref: Ref): LiveHost | undefined {
  return pool.hosts.find((h) => h.ref === ref);
}

export function vmByRef(pool: LivePool, ref: Ref): LiveVm | undefined {
  return pool.vms.find((v) => v.ref === ref);
}

/** Running/Paused guests resident on a host. */
export function vmsOn(pool: LivePool, host: Ref): LiveVm[] {
  return pool.vms.filter((v) => v.residentOn === host && (v.powerState === 'Running' || v.powerState === 'Paused'));
}

/** "xs-a1: live, enabled, 7.6.0 build 1234" — facts for failure messages and reports. */
export function describeHost(h: LiveHost): string {
  return `${h.name}: ${h.live ? 'live' : 'not live'}, ${h.enabled ? 'enabled' : 'disabled'}, ${h.product || '?'}${h.build ? ` build ${h.build}` : ''}${h.isMaster ? ' (master)' : ''}`;
}
