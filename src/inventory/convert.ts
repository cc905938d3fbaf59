import type { HostInfo, NetworkInfo, PoolSnapshot, PowerState, SrInfo, TaskInfo, VmCdDrive, VmDisk, VmInfo } from '../domain/types';
import type { RecordClass, RecordOf } from '../xenapi/records';
import { InventoryError } from './errors';
import { nextSlice, sliceDue } from '../loop-slice';

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

export function toSnapshot(r: PoolRecords, takenAt: number): PoolSnapshot {
  const steps = convert(r, takenAt);
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
export async function toSnapshotSliced(r: PoolRecords, takenAt: number): Promise<PoolSnapshot> {
  const steps = convert(r, takenAt);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
    if (sliceDue()) await nextSlice();
  }
}

/** The conversion, as steps: it yields between pieces of work (toSnapshot runs them at once). */
function* convert(r: PoolRecords, takenAt: number): Generator<void, PoolSnapshot, void> {
  const poolEntries = Object.entries(r.pool);
  if (poolEntries.length !== 1) throw new InventoryError(`pool: expected exactly one pool record, got ${poolEntries.length}`);
  const [poolRef, pool] = poolEntries[0];
  if (!r.host[pool.master]) throw new InventoryError(`pool ${poolRef}: field master: host ${pool.master} not among the host records`);

  const srs = convertSrs(r);
  yield;
  const vms = yield* convertVms(r);
  const hosts = yield* convertHosts(r, pool.master);
  const networks = convertNetworks(r, hosts, vms);
  yield;
  const tasks: TaskInfo[] = Object.entries(r.task)
    .filter(([, t]) => t.status === 'pending' || t.status === 'cancelling')
    .map(([ref, t]) => ({ ref, name: t.name_label, status: t.status, progress: t.progress }))
    .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));

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
 * Networks (reference top 3): which hosts have an attached PIF on each, which networks each VM's VIFs use, and
 * each host's networks. Read only when the source serves network, PIF and VIF records; else nothing is checked.
 */
function convertNetworks(r: PoolRecords, hosts: HostInfo[], vms: VmInfo[]): NetworkInfo[] | undefined {
  if (!r.network || !r.PIF || !r.VIF || Object.keys(r.network).length === 0) return undefined;
  const pifHosts = new Map<string, Set<string>>();
  for (const pif of Object.values(r.PIF)) {
    if (pif.currently_attached === false) continue;
    pifHosts.set(pif.network, (pifHosts.get(pif.network) ?? new Set()).add(pif.host));
  }
  const vifNets = new Map<string, Set<string>>();
  for (const vif of Object.values(r.VIF)) vifNets.set(vif.VM, (vifNets.get(vif.VM) ?? new Set()).add(vif.network));
  for (const vm of vms) vm.networks = [...(vifNets.get(vm.ref) ?? [])].sort();
  for (const h of hosts) h.networks = [...pifHosts.entries()].filter(([, hs]) => hs.has(h.ref)).map(([n]) => n).sort();
  return Object.entries(r.network)
    .map(([ref, n]) => ({ ref, name: n.name_label, hosts: [...(pifHosts.get(ref) ?? [])].sort() }))
    .sort(byNameThenRef);
}

function attachedHostsBySr(r: PoolRecords): Map<string, { attached: Set<string>; detached: Set<string> }> {
  const m = new Map<string, { attached: Set<string>; detached: Set<string> }>();
  for (const pbd of Object.values(r.PBD)) {
    const e = m.get(pbd.SR) ?? { attached: new Set<string>(), detached: new Set<string>() };
    (pbd.currently_attached ? e.attached : e.detached).add(pbd.host);
    m.set(pbd.SR, e);
  }
  return m;
}

function convertSrs(r: PoolRecords): SrInfo[] {
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

function* convertHosts(r: PoolRecords, master: string): Generator<void, HostInfo[], void> {
  // Σ(dynamic_min + overhead) of every VM resident on the host, dom0 included: host.compute_free_memory.
  const reserved = new Map<string, number>();
  const running = new Map<string, string[]>();
  let n = 0;
  for (const [ref, vm] of Object.entries(r.VM)) {
    if (++n % VMS_PER_STEP === 0) yield;
    if (isNull(vm.resident_on)) continue;
    reserved.set(vm.resident_on, (reserved.get(vm.resident_on) ?? 0) + memoryNeeded(vm));
    if (!vm.is_control_domain && !vm.is_a_template && (vm.power_state === 'Running' || vm.power_state === 'Paused')) {
      const list = running.get(vm.resident_on);
      if (list) list.push(ref);
      else running.set(vm.resident_on, [ref]);
    }
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

function* convertVms(r: PoolRecords): Generator<void, VmInfo[], void> {
  const out: VmInfo[] = [];
  let n = 0;
  for (const [ref, vm] of Object.entries(r.VM)) {
    if (++n % VMS_PER_STEP === 0) yield;
    if (vm.is_control_domain || vm.is_a_template || (vm.is_a_snapshot ?? false)) continue;
    const state = powerState(ref, vm.power_state);
    const disks: VmDisk[] = [];
    const cds: VmCdDrive[] = [];
    for (const vbdRef of vm.VBDs) {
      const vbd = r.VBD[vbdRef];
      if (!vbd) continue;
      const vdi = isNull(vbd.VDI) ? undefined : r.VDI[vbd.VDI];
      if (vbd.type === 'CD') {
        cds.push({
          vbd: vbdRef,
          empty: vbd.empty,
          vdi: vdi ? vbd.VDI : null,
          sr: vdi ? vdi.SR : null,
          isoName: vdi ? vdi.name_label : null,
        });
      } else if (vbd.type === 'Disk' && vdi && !vbd.empty) {
        disks.push({ vbd: vbdRef, vdi: vbd.VDI, sr: vdi.SR });
      }
    }
    const gmRef = refOrNull(vm.guest_metrics);
    const metricsRef = refOrNull(vm.metrics);
    const gm = gmRef === null ? undefined : r.VM_guest_metrics[gmRef];
    const metrics = metricsRef === null ? undefined : r.VM_metrics[metricsRef];
    const tools = gm ? toolsVersion(gm.PV_drivers_version) : null;
    // xapi's feature check reads PV_drivers_version: drivers count only with a version (and not detected = false)
    const pvDrivers = tools !== null && gm?.PV_drivers_detected !== false;
    const hvm = metrics?.hvm ?? vm.HVM_boot_policy !== '';
    const featureSuspend = truthy(gm?.other?.['feature-suspend']);
    // a guest that explicitly reports feature-suspend = 0 is treated as unable to suspend/migrate even with drivers
    // (fail safe: a planned migration that xapi refuses stops the run mid-host)
    const saysNoSuspend = gm?.other?.['feature-suspend'] !== undefined && !featureSuspend;
    const running = state === 'Running' || state === 'Paused';
    out.push({
      ref,
      uuid: vm.uuid,
      name: vm.name_label,
      powerState: state,
      residentOn: running && !isNull(vm.resident_on) ? vm.resident_on : null,
      affinity: refOrNull(vm.affinity),
      memoryNeeded: memoryNeeded(vm),
      disks: disks.sort((a, b) => (a.vbd < b.vbd ? -1 : 1)),
      cds: cds.sort((a, b) => (a.vbd < b.vbd ? -1 : 1)),
      toolsVersion: tools,
      toolsUpToDate: gm?.PV_drivers_up_to_date ?? false,
      // VM_LACKS_FEATURE: HVM guest without PV drivers and without feature-suspend
      lacksFeatureMigrate: hvm && ((!pvDrivers && !featureSuspend) || saysNoSuspend),
      hasPciPassthrough: vm.attached_PCIs.length > 0 || (vm.other_config.pci ?? '') !== '',
      haPriority: vm.ha_restart_priority ?? '',
      blockedOperations: Object.keys(vm.blocked_operations ?? {}).sort(),
      suspendSr: refOrNull(vm.suspend_SR),
      cpuFlags: vm.last_boot_CPU_flags?.features || null,
    });
  }
  return out.sort(byNameThenRef);
}
