import type { HostInfo, NetworkInfo, PoolSnapshot, PowerState, SrInfo, TaskInfo, VmInfo } from '../domain/types';
import { RecordBatches, type RecordsOf } from '../xenapi/record-batches';
import type { RecordClass, RecordOf } from '../xenapi/records';
import { InventoryError } from './errors';
import { runSliced } from '../loop-slice';

/** get_all_records of every class, keyed by ref, as the client returns them: parsed and typed by src/xenapi/records.ts. */
type NetworkClass = 'network' | 'PIF' | 'VIF';
/** every class; network, PIF and VIF may be absent (a source that does not serve them: no network check) */
export type PoolRecords = { [C in Exclude<RecordClass, NetworkClass>]: Record<string, RecordOf<C>> } & {
  [C in NetworkClass]?: Record<string, RecordOf<C>>;
};

/**
 * Pure conversion of get_all_records results into a PoolSnapshot. The records were validated once, by the
 * client's schemas (src/xenapi/records.ts); this only checks what a schema cannot: that they fit together.
 * Fields those schemas leave optional (an older xapi may not send them) get xapi's datamodel default here.
 *
 * Boot from SAN (R2.7): xapi has no field for it and nothing writes an other_config key for it, so nothing read
 * here is evidence either way: `sanBoot` is false in a snapshot, and the planner takes the hosts declared in the
 * pools file (`sanBootHosts`, planner/prechecks/san-boot.ts).
 */

const NULL_REF = 'OpaqueRef:NULL';
/** A reference field as Ref | null: absent (older xapi) and OpaqueRef:NULL are both "none". */
const refOrNull = (r: string | undefined): string | null => (!r || r === NULL_REF ? null : r);
const isNull = (r: string | undefined): boolean => refOrNull(r) === null;
const byNameThenRef = <T extends { name: string; ref: string }>(a: T, b: T): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0;

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes'].includes(v.trim().toLowerCase());
}

const POWER_STATES: readonly PowerState[] = ['Running', 'Halted', 'Suspended', 'Paused'];
function powerState(ref: string, value: string): PowerState {
  if ((POWER_STATES as readonly string[]).includes(value)) return value as PowerState;
  throw new InventoryError(`VM ${ref}: field power_state: expected one of ${POWER_STATES.join(', ')}, got ${JSON.stringify(value)}`);
}

function toolsVersion(pv: Record<string, string>): string | null {
  if (pv.major === undefined) return null;
  return [pv.major, pv.minor ?? '0', pv.micro ?? '0'].join('.');
}

/**
 * Each class's records as the batches they came in (record-batches.ts): the conversion takes what it needs from one
 * batch at a time, so no whole class of raw records outlives it on the event loop's heap (issue 13).
 */
export type PoolRecordBatches = { [C in Exclude<RecordClass, NetworkClass>]: RecordBatches<C> } & {
  [C in NetworkClass]?: RecordBatches<C>;
};

export function toSnapshot(r: PoolRecords, takenAt: number): PoolSnapshot {
  const steps = convert(asBatches(r), takenAt);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}

/** Work between two yields of the conversion: this many VMs. */
const VMS_PER_STEP = 200;

/**
 * toSnapshot without holding the event loop (issue 13: converting 3,200 VMs in one go blocked it for 50–250 ms
 * on a loaded machine): the same conversion, yielding to the event loop whenever the shared slice (loop-slice.ts) is spent.
 */
export function toSnapshotSliced(r: PoolRecords, takenAt: number): Promise<PoolSnapshot> {
  return snapshotFromBatches(asBatches(r), takenAt);
}

/** toSnapshotSliced from the records' batches. */
export function snapshotFromBatches(b: PoolRecordBatches, takenAt: number): Promise<PoolSnapshot> {
  const reads: Record<string, Promise<RecordBatches> | undefined> = {};
  for (const [cls, batches] of Object.entries(b)) reads[cls] = Promise.resolve(batches);
  return snapshotFromReads(reads as PoolReads, takenAt);
}

/** Each class's get_all_records as it is being read (network, PIF and VIF may be absent, as in PoolRecordBatches). */
export type PoolReads = { [C in Exclude<RecordClass, NetworkClass>]: Promise<RecordBatches<C>> } & {
  [C in NetworkClass]?: Promise<RecordBatches<C>>;
};

/**
 * readSnapshot's conversion, class by class as the replies come, each as soon as its own reply is in, whatever the
 * order they come in: the VM records into VmInfo (their disks, CD drives and tools left to fill), the VBD and VDI
 * records into what a VM's disks need, the metrics whole; once all are in, joinVms fills in each VM from the others.
 * The loop does this work while the decode threads are still busy with the other replies, rather than once the last
 * reply is in: the VMs waited for the VBDs and the VDIs before (2026-12-05), and when the VDI reply came last all
 * 3,200 VMs were converted after it. Rejects with the first read's error (readSnapshot waits for the reads first and
 * reports theirs).
 */
export async function snapshotFromReads(reads: PoolReads, takenAt: number): Promise<PoolSnapshot> {
  const same = new Interner();
  const whole = <C extends RecordClass>(read: Promise<RecordBatches<C>>): Promise<RecordsOf<C>> => read.then((b) => b.whole());
  const optional = <C extends RecordClass>(read: Promise<RecordBatches<C>> | undefined) => (read ? whole(read) : Promise.resolve(undefined));
  const [pool, host, hostMetrics, SR, PBD, task, network, PIF, VIF, folded, vdis, vbds, metrics, guests] = await Promise.all([
    whole(reads.pool),
    whole(reads.host),
    whole(reads.host_metrics),
    whole(reads.SR),
    whole(reads.PBD),
    whole(reads.task),
    optional(reads.network),
    optional(reads.PIF),
    optional(reads.VIF),
    reads.VM.then((b) => runSliced(foldVms(b, same))),
    reads.VDI.then((b) => runSliced(foldVdis(b, same))),
    reads.VBD.then((b) => runSliced(foldVbds(b))),
    whole(reads.VM_metrics),
    whole(reads.VM_guest_metrics),
  ]);
  const vms = await runSliced(joinVms(folded.vms, { vdis, vbds, metrics, guests }, same));
  return runSliced(finish({ pool, host, host_metrics: hostMetrics, SR, PBD, task, network, PIF, VIF }, { vms, residents: folded.residents }, same, takenAt));
}

function asBatches(r: PoolRecords): PoolRecordBatches {
  const out: Record<string, RecordBatches> = {};
  for (const [cls, records] of Object.entries(r)) if (records) out[cls] = RecordBatches.of(cls as RecordClass, records as RecordsOf<RecordClass>);
  return out as PoolRecordBatches;
}

/** toSnapshot's conversion: snapshotFromReads' steps, one class after the other. */
function* convert(b: PoolRecordBatches, takenAt: number): Generator<void, PoolSnapshot, void> {
  const same = new Interner();
  const folded = yield* foldVms(b.VM, same);
  const lookups: VmLookups = { vdis: yield* foldVdis(b.VDI, same), vbds: yield* foldVbds(b.VBD), metrics: yield* b.VM_metrics.assemble(), guests: yield* b.VM_guest_metrics.assemble() };
  const converted = { vms: yield* joinVms(folded.vms, lookups, same), residents: folded.residents };
  const small: SmallRecords = {
    pool: yield* b.pool.assemble(),
    host: yield* b.host.assemble(),
    host_metrics: yield* b.host_metrics.assemble(),
    SR: yield* b.SR.assemble(),
    PBD: yield* b.PBD.assemble(),
    task: yield* b.task.assemble(),
    network: b.network ? yield* b.network.assemble() : undefined,
    PIF: b.PIF ? yield* b.PIF.assemble() : undefined,
    VIF: b.VIF ? yield* b.VIF.assemble() : undefined,
  };
  return yield* finish(small, converted, same, takenAt);
}

/** Every class but the VM ones, whole (network, PIF and VIF: undefined when not read). */
interface SmallRecords {
  pool: RecordsOf<'pool'>;
  host: RecordsOf<'host'>;
  host_metrics: RecordsOf<'host_metrics'>;
  SR: RecordsOf<'SR'>;
  PBD: RecordsOf<'PBD'>;
  task: RecordsOf<'task'>;
  network: RecordsOf<'network'> | undefined;
  PIF: RecordsOf<'PIF'> | undefined;
  VIF: RecordsOf<'VIF'> | undefined;
}

/** The snapshot, once the VMs are converted: the pool, its hosts, SRs, networks and tasks. */
function* finish(r: SmallRecords, converted: { vms: VmInfo[]; residents: Map<string, Resident> }, same: Interner, takenAt: number): Generator<void, PoolSnapshot, void> {
  const poolEntries = Object.entries(r.pool);
  if (poolEntries.length !== 1) throw new InventoryError(`pool: expected exactly one pool record, got ${poolEntries.length}`);
  const [poolRef, pool] = poolEntries[0];
  if (!r.host[pool.master]) throw new InventoryError(`pool ${poolRef}: field master: host ${pool.master} not among the host records`);
  const { vms, residents } = converted;
  const srs = convertSrs(r);
  yield;
  const hosts = convertHosts(r, residents, pool.master);
  const networks = r.network && r.PIF && r.VIF ? convertNetworks(r.network, r.PIF, r.VIF, hosts, vms, same) : undefined;
  yield;
  const tasks: TaskInfo[] = Object.entries(r.task)
    .filter(([, t]) => t.status === 'pending' || t.status === 'cancelling')
    .map(([ref, t]) => ({ ref, name: t.name_label, status: t.status, progress: t.progress }))
    .sort((a, c) => (a.ref < c.ref ? -1 : a.ref > c.ref ? 1 : 0));

  return {
    takenAt,
    pool: {
      ref: poolRef,
      name: pool.name_label,
      master: pool.master,
      haEnabled: pool.ha_enabled ?? false,
      rollingUpgradeInProgress: pool.other_config.rolling_upgrade_in_progress !== undefined,
      suspendImageSr: refOrNull(pool.suspend_image_SR),
    },
    hosts,
    vms,
    srs,
    tasks,
    ...(networks ? { networks } : {}),
  };
}

/**
 * One string for equal strings: each deserialized batch has its own copy of every ref it names (3,200 VMs name 64
 * hosts and a few SRs). Only for values with few distinct strings (a VM's uuid or name is not interned).
 */
class Interner {
  private readonly known = new Map<string, string>();
  of(s: string): string {
    const known = this.known.get(s);
    if (known !== undefined) return known;
    this.known.set(s, s);
    return s;
  }
  ofRef(r: string | undefined): string | null {
    const ref = refOrNull(r);
    return ref === null ? null : this.of(ref);
  }
}

/**
 * Networks (reference top 3): which hosts have an attached PIF on each, which networks each VM's VIFs use, and
 * each host's networks. Read only when the source serves network, PIF and VIF records; else nothing is checked.
 */
function convertNetworks(
  network: RecordsOf<'network'>,
  pifs: RecordsOf<'PIF'>,
  vifs: RecordsOf<'VIF'>,
  hosts: HostInfo[],
  vms: VmInfo[],
  same: Interner,
): NetworkInfo[] | undefined {
  if (Object.keys(network).length === 0) return undefined;
  const pifHosts = new Map<string, Set<string>>();
  for (const pif of Object.values(pifs)) {
    if (pif.currently_attached === false) continue;
    pifHosts.set(pif.network, (pifHosts.get(pif.network) ?? new Set()).add(pif.host));
  }
  const vifNets = new Map<string, Set<string>>();
  for (const vif of Object.values(vifs)) vifNets.set(vif.VM, (vifNets.get(vif.VM) ?? new Set()).add(same.of(vif.network)));
  for (const vm of vms) vm.networks = [...(vifNets.get(vm.ref) ?? [])].sort();
  for (const h of hosts) h.networks = [...pifHosts.entries()].filter(([, hs]) => hs.has(h.ref)).map(([n]) => same.of(n)).sort();
  return Object.entries(network)
    .map(([ref, n]) => ({ ref, name: n.name_label, hosts: [...(pifHosts.get(ref) ?? [])].sort() }))
    .sort(byNameThenRef);
}

function attachedHostsBySr(r: SmallRecords): Map<string, { attached: Set<string>; detached: Set<string> }> {
  const m = new Map<string, { attached: Set<string>; detached: Set<string> }>();
  for (const pbd of Object.values(r.PBD)) {
    const e = m.get(pbd.SR) ?? { attached: new Set<string>(), detached: new Set<string>() };
    (pbd.currently_attached ? e.attached : e.detached).add(pbd.host);
    m.set(pbd.SR, e);
  }
  return m;
}

function convertSrs(r: SmallRecords): SrInfo[] {
  const pbds = attachedHostsBySr(r);
  return Object.entries(r.SR)
    .map(([ref, sr]) => ({
      ref,
      uuid: sr.uuid,
      name: sr.name_label,
      type: sr.type,
      contentType: sr.content_type ?? '',
      shared: sr.shared,
      attachedHosts: [...(pbds.get(ref)?.attached ?? [])].sort(),
    }))
    .sort(byNameThenRef);
}

/** What the host conversion needs of a VM resident on a host (control domain and templates included). */
interface Resident {
  host: string;
  /** dynamic_min + overhead (memoryNeeded) */
  memory: number;
  /** a guest (not dom0, not a template) Running or Paused there */
  guest: boolean;
}

function convertHosts(r: SmallRecords, residents: ReadonlyMap<string, Resident>, master: string): HostInfo[] {
  // Σ(dynamic_min + overhead) of every VM resident on the host, dom0 included: host.compute_free_memory.
  const reserved = new Map<string, number>();
  const running = new Map<string, string[]>();
  for (const [ref, vm] of residents) {
    reserved.set(vm.host, (reserved.get(vm.host) ?? 0) + vm.memory);
    if (!vm.guest) continue;
    const list = running.get(vm.host);
    if (list) list.push(ref);
    else running.set(vm.host, [ref]);
  }
  const attached = new Map<string, string[]>();
  const detached = new Map<string, string[]>();
  for (const pbd of Object.values(r.PBD)) {
    const m = pbd.currently_attached ? attached : detached;
    m.set(pbd.host, [...(m.get(pbd.host) ?? []), pbd.SR]);
  }
  return Object.entries(r.host)
    .map(([ref, h]): HostInfo => {
      const metrics = r.host_metrics[h.metrics];
      const total = metrics?.memory_total ?? 0;
      const sv = h.software_version;
      const bootTime = Number.parseFloat(h.other_config.boot_time ?? '');
      return {
        ref,
        uuid: h.uuid,
        name: h.name_label,
        address: h.address,
        isMaster: ref === master,
        // no metrics record: the master does not know the host is alive; treat it as not live (fail closed)
        live: metrics?.live ?? false,
        enabled: h.enabled,
        version: {
          product: sv.product_version ?? '',
          platform: sv.platform_version ?? '',
          build: sv.build_number ?? '',
          brand: sv.product_brand ?? '',
        },
        apiVersion: { major: h.API_version_major ?? 0, minor: h.API_version_minor ?? 0 },
        memoryTotal: total,
        memoryFree: Math.max(0, total - (h.memory_overhead ?? 0) - (reserved.get(ref) ?? 0)),
        residentVms: [...(running.get(ref) ?? [])].sort(),
        bootTime: Number.isFinite(bootTime) ? bootTime : null,
        sanBoot: false,
        cpuFeatures: h.cpu_info?.features ?? null,
        attachedSrs: [...new Set(attached.get(ref) ?? [])].sort(),
        detachedSrs: [...new Set(detached.get(ref) ?? [])].sort(),
        suspendImageSr: refOrNull(h.suspend_image_sr),
      };
    })
    .sort(byNameThenRef);
}

/** What xapi's memory check reserves for a VM on its host: dynamic_min + overhead. */
const memoryNeeded = (vm: RecordOf<'VM'>): number => vm.memory_dynamic_min + (vm.memory_overhead ?? 0);

/** A VBD as a VM's disks and CD drives need it. */
interface VbdFacts {
  /** the VBD's ref, as its record's key */
  ref: string;
  type: 'CD' | 'Disk' | 'other';
  empty: boolean;
  /** its VDI's ref (null: none) */
  vdi: string | null;
}

/** A VDI as a VM's disks and CD drives need it. */
interface VdiFacts {
  /** the VDI's ref, as its record's key */
  ref: string;
  sr: string;
  name: string;
}

/** The VDI records folded batch by batch into what a VM's disks need (ref → facts). */
function* foldVdis(batches: RecordBatches<'VDI'>, same: Interner): Generator<void, Map<string, VdiFacts>, void> {
  const vdis = new Map<string, VdiFacts>();
  for (const batch of batches.batches()) {
    for (const [ref, vdi] of Object.entries(batch)) if (vdi) vdis.set(ref, { ref, sr: same.of(vdi.SR), name: vdi.name_label });
    yield;
  }
  return vdis;
}

/** The VBD records folded batch by batch into what joinVms needs (ref → facts). */
function* foldVbds(batches: RecordBatches<'VBD'>): Generator<void, Map<string, VbdFacts>, void> {
  const vbds = new Map<string, VbdFacts>();
  for (const batch of batches.batches()) {
    for (const [ref, vbd] of Object.entries(batch)) {
      if (!vbd) continue;
      vbds.set(ref, { ref, type: vbd.type === 'CD' ? 'CD' : vbd.type === 'Disk' ? 'Disk' : 'other', empty: vbd.empty, vdi: refOrNull(vbd.VDI) });
    }
    yield;
  }
  return vbds;
}

/** What joinVms reads in the other classes. */
interface VmLookups {
  vbds: ReadonlyMap<string, VbdFacts>;
  vdis: ReadonlyMap<string, VdiFacts>;
  metrics: RecordsOf<'VM_metrics'>;
  guests: RecordsOf<'VM_guest_metrics'>;
}

/** A guest as its own record says it, and the refs joinVms follows to fill in the rest of its VmInfo. */
interface FoldedVm {
  /** disks, CD drives and tools not yet filled in */
  info: VmInfo;
  vbds: string[];
  guestMetrics: string | null;
  metrics: string | null;
  /** HVM_boot_policy is set: an HVM guest when its metrics do not say */
  hvmBoot: boolean;
}

/** The VM records, batch by batch, into the guests' FoldedVm and what the hosts need of every resident VM. */
function* foldVms(batches: RecordBatches<'VM'>, same: Interner): Generator<void, { vms: Map<string, FoldedVm>; residents: Map<string, Resident> }, void> {
  // by ref: a ref that comes again in a later batch counts once, as its last record says (record-batches.ts)
  const vms = new Map<string, FoldedVm>();
  const residents = new Map<string, Resident>();
  let n = 0;
  for (const batch of batches.batches()) {
    for (const [ref, vm] of Object.entries(batch)) {
      if (!vm) continue;
      if (++n % VMS_PER_STEP === 0) yield;
      const guest = !vm.is_control_domain && !vm.is_a_template;
      if (isNull(vm.resident_on)) residents.delete(ref);
      else residents.set(ref, { host: same.of(vm.resident_on), memory: memoryNeeded(vm), guest: guest && (vm.power_state === 'Running' || vm.power_state === 'Paused') });
      if (!guest || (vm.is_a_snapshot ?? false)) {
        vms.delete(ref);
        continue;
      }
      vms.set(ref, foldVm(ref, vm, same));
    }
  }
  return { vms, residents };
}

function foldVm(ref: string, vm: RecordOf<'VM'>, same: Interner): FoldedVm {
  const state = powerState(ref, vm.power_state);
  const running = state === 'Running' || state === 'Paused';
  const info: VmInfo = {
    ref,
    uuid: vm.uuid,
    name: vm.name_label,
    powerState: state,
    residentOn: running ? same.ofRef(vm.resident_on) : null,
    affinity: same.ofRef(vm.affinity),
    memoryNeeded: memoryNeeded(vm),
    disks: [],
    cds: [],
    toolsVersion: null,
    toolsUpToDate: false,
    lacksFeatureMigrate: false,
    hasPciPassthrough: vm.attached_PCIs.length > 0 || (vm.other_config.pci ?? '') !== '',
    haPriority: same.of(vm.ha_restart_priority ?? ''),
    blockedOperations: Object.keys(vm.blocked_operations ?? {}).sort(),
    suspendSr: same.ofRef(vm.suspend_SR),
    cpuFlags: vm.last_boot_CPU_flags?.features ? same.of(vm.last_boot_CPU_flags.features) : null,
  };
  return { info, vbds: vm.VBDs, guestMetrics: refOrNull(vm.guest_metrics), metrics: refOrNull(vm.metrics), hvmBoot: vm.HVM_boot_policy !== '' };
}

/** Each guest's disks, CD drives and tools, from the other classes; the guests sorted by name. */
function* joinVms(folded: ReadonlyMap<string, FoldedVm>, r: VmLookups, same: Interner): Generator<void, VmInfo[], void> {
  const vms: VmInfo[] = [];
  let n = 0;
  for (const vm of folded.values()) {
    if (++n % VMS_PER_STEP === 0) yield;
    fillIn(vm, r, same);
    vms.push(vm.info);
  }
  return vms.sort(byNameThenRef);
}

function fillIn({ info, vbds, guestMetrics, metrics: metricsRef, hvmBoot }: FoldedVm, r: VmLookups, same: Interner): void {
  for (const vbdRef of vbds) {
    const vbd = r.vbds.get(vbdRef);
    if (!vbd) continue;
    const vdi = vbd.vdi === null ? undefined : r.vdis.get(vbd.vdi);
    if (vbd.type === 'CD') {
      info.cds.push({ vbd: vbd.ref, empty: vbd.empty, vdi: vdi ? vdi.ref : null, sr: vdi ? vdi.sr : null, isoName: vdi ? vdi.name : null });
    } else if (vbd.type === 'Disk' && vdi && !vbd.empty) {
      info.disks.push({ vbd: vbd.ref, vdi: vdi.ref, sr: vdi.sr });
    }
  }
  info.disks.sort((a, b) => (a.vbd < b.vbd ? -1 : 1));
  info.cds.sort((a, b) => (a.vbd < b.vbd ? -1 : 1));
  const gm = guestMetrics === null ? undefined : r.guests[guestMetrics];
  const metrics = metricsRef === null ? undefined : r.metrics[metricsRef];
  const tools = gm ? toolsVersion(gm.PV_drivers_version) : null;
  // xapi's feature check reads PV_drivers_version: drivers count only with a version (and not detected = false)
  const pvDrivers = tools !== null && gm?.PV_drivers_detected !== false;
  const hvm = metrics?.hvm ?? hvmBoot;
  const featureSuspend = truthy(gm?.other?.['feature-suspend']);
  // a guest that explicitly reports feature-suspend = 0 is treated as unable to suspend/migrate even with drivers
  // (fail safe: a planned migration that xapi refuses stops the run mid-host)
  const saysNoSuspend = gm?.other?.['feature-suspend'] !== undefined && !featureSuspend;
  info.toolsVersion = tools === null ? null : same.of(tools);
  info.toolsUpToDate = gm?.PV_drivers_up_to_date ?? false;
  // VM_LACKS_FEATURE: HVM guest without PV drivers and without feature-suspend
  info.lacksFeatureMigrate = hvm && ((!pvDrivers && !featureSuspend) || saysNoSuspend);
}
