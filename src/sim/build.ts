/** Builds the pool database and machines from a scenario (and fresh hosts for reinstall + pool.join). */
import { compareVersions, rpuHotfixFor } from '../domain/versions';
import { Db, NULL_REF } from './db';
import { Machine, PoolState, Sim } from './engine';
import {
  CLASSES,
  GiB,
  MiB,
  guestMetricsRecord,
  hostMetricsRecord,
  hostRecord,
  networkRecord,
  pbdRecord,
  pifRecord,
  poolRecord,
  poolUpdateRecord,
  srRecord,
  vbdRecord,
  vdiRecord,
  vifRecord,
  vmMetricsRecord,
  vmRecord,
} from './records';
import { MANAGEMENT_NETWORK, ScenarioSr } from './scenario';

export const TOOLS_SR_NAME = 'XenServer Tools';
export const TOOLS_ISO_NAME = 'guest-tools.iso';

function deviceConfig(sr: { type: string; name: string }, hostName: string): Record<string, string> {
  switch (sr.type) {
    case 'nfs':
      return { server: '10.0.0.50', serverpath: `/export/${sr.name}` };
    case 'iso':
      return { location: `/opt/xensource/packages/iso/${sr.name}`, legacy_mode: 'true' };
    case 'lvmoiscsi':
      return { target: '10.0.0.60', targetIQN: `iqn.2018-01.com.example:${sr.name}`, SCSIid: '36001405' };
    default:
      return { device: `/dev/disk/by-id/${hostName}-sda3` };
  }
}

/** host + host_metrics + dom0 (resident, as xapi lists it) for one machine. */
export function addHostRecords(sim: Sim, db: Db, m: Machine): string {
  const now = sim.clock.now();
  const metrics = db.create('host_metrics', hostMetricsRecord(m.spec.memory, now));
  const hostRef = db.create(
    'host',
    hostRecord(
      { name: m.name, address: m.address, version: m.installed, memory: m.spec.memory, cpus: m.spec.cpus, cpuVendor: m.spec.cpuVendor, cpuFeatures: m.spec.cpuFeatures, sanBoot: m.spec.sanBoot, multipathing: m.spec.multipathing, bootTime: now },
      metrics,
    ),
  );
  const vmMetrics = db.create('VM_metrics', vmMetricsRecord(m.spec.dom0Memory, 8, false, now));
  const dom0 = db.create(
    'VM',
    vmRecord({
      name: `Control domain on host: ${m.name}`,
      memory: m.spec.dom0Memory,
      vcpus: 8,
      power: 'Running',
      residentOn: hostRef,
      affinity: hostRef,
      isControlDomain: true,
      isTemplate: false,
      haRestartPriority: '',
      metrics: vmMetrics,
      guestMetrics: NULL_REF,
    }),
  );
  db.update('host', hostRef, { control_domain: dom0 });
  m.hostRef = hostRef;
  // its management interface (eth0) on the pool-wide network every host has
  const mgmt = db.entries('network').find(([, n]) => n.name_label === MANAGEMENT_NETWORK)?.[0] ?? db.create('network', networkRecord(MANAGEMENT_NETWORK, 'xenbr0'));
  db.create('PIF', pifRecord({ host: hostRef, network: mgmt, device: 'eth0', vlan: -1, management: true }));
  return hostRef;
}

/** The scenario's networks: a VLAN or plain network with PIFs on its hosts (default all), an internal one with none. */
function createNetworks(sim: Sim, db: Db, machines: Map<string, Machine>): Map<string, string> {
  const refs = new Map<string, string>();
  refs.set(MANAGEMENT_NETWORK, db.entries('network').find(([, n]) => n.name_label === MANAGEMENT_NETWORK)![0]);
  sim.scenario.networks.forEach((n, i) => {
    const ref = db.create('network', networkRecord(n.name, n.internal ? `xapi${i}` : `xenbr1.${n.vlan ?? i}`));
    refs.set(n.name, ref);
    if (n.internal) return;
    for (const hostName of n.hosts ?? [...machines.keys()])
      db.create('PIF', pifRecord({ host: machines.get(hostName)!.hostRef, network: ref, device: n.vlan ? 'eth1' : `eth${i + 2}`, vlan: n.vlan ?? -1, management: false }));
  });
  return refs;
}

function createSr(sim: Sim, db: Db, sr: { name: string; type: string; shared: boolean; sizeGiB: number; isos: string[] }, hosts: Machine[], toolsSr = false): string {
  const ref = db.create('SR', srRecord({ name: sr.name, type: sr.type, shared: sr.shared, size: sr.sizeGiB * GiB, isToolsSr: toolsSr }));
  for (const h of hosts) db.create('PBD', pbdRecord(h.hostRef, ref, deviceConfig(sr, h.name)));
  for (const iso of sr.isos)
    db.create('VDI', vdiRecord({ name: iso, sr: ref, size: 100 * MiB, type: 'user', readOnly: true, isToolsIso: toolsSr }));
  return ref;
}

function localSrFor(sim: Sim, db: Db, m: Machine): string {
  return createSr(sim, db, { name: 'Local storage', type: 'lvm', shared: false, sizeGiB: 500, isos: [] }, [m]);
}

/** Applied hotfixes: a pool_update per hotfix name with the hosts that have it, in host.updates too. */
function addRpuHotfixes(db: Db, machines: Machine[]): void {
  const byName = new Map<string, string>();
  for (const m of machines) {
    const name = rpuHotfixFor(m.installed.product);
    if (!name || !m.spec.rpuHotfix) continue;
    let ref = byName.get(name);
    if (!ref) {
      ref = db.create('pool_update', { ...poolUpdateRecord({ name, version: '1.0', vdi: NULL_REF }), after_apply_guidance: [] });
      byName.set(name, ref);
    }
    const u = ref;
    db.mutate('pool_update', u, (r) => void (r.hosts as string[]).push(m.hostRef));
    db.mutate('host', m.hostRef, (r) => void (r.updates as string[]).push(u));
  }
}

/** The main pool, as the scenario describes it. */
export function buildPool(sim: Sim, addresses: Map<string, string>): PoolState {
  const s = sim.scenario;
  const db = new Db([...CLASSES]);
  const machines: Machine[] = s.hosts.map((h) => {
    const m = new Machine(
      h.name,
      addresses.get(h.name)!,
      { product: h.productVersion, platform: h.platformVersion, build: h.build },
      { memory: h.memoryGiB * GiB, dom0Memory: h.dom0MemoryGiB * GiB, cpus: h.cpus, cpuVendor: h.cpuVendor, cpuFeatures: h.cpuFeatures, sanBoot: h.sanBoot, multipathing: h.multipathing, rpuHotfix: h.rpuHotfix },
    );
    sim.machines.set(h.name, m);
    return m;
  });
  const masterMachine = machines[s.hosts.findIndex((h) => h.master)];
  const pool = new PoolState(db, masterMachine);
  const poolRef = db.create('pool', poolRecord(s.pool.name, NULL_REF));
  for (const m of machines) {
    m.pool = pool;
    addHostRecords(sim, db, m);
  }
  db.update('pool', poolRef, { master: masterMachine.hostRef });
  addRpuHotfixes(db, machines);

  const byName = new Map(machines.map((m) => [m.name, m]));
  const networkRefs = createNetworks(sim, db, byName);

  // Storage: the scenario's SRs, a local SR per host that has none, and the tools ISO SR.
  const srRefs = new Map<string, string>();
  for (const sr of s.srs) srRefs.set(sr.name, createSr(sim, db, sr, sr.shared ? machines : [byName.get(sr.host!)!]));
  for (const m of machines)
    if (!s.srs.some((sr: ScenarioSr) => !sr.shared && sr.host === m.name && sr.type !== 'iso')) localSrFor(sim, db, m);
  const toolsSr = createSr(sim, db, { name: TOOLS_SR_NAME, type: 'iso', shared: true, sizeGiB: 1, isos: [TOOLS_ISO_NAME] }, machines, true);
  void toolsSr;
  const firstShared = s.srs.find((sr) => sr.shared && sr.type !== 'iso');
  const defaultSr = firstShared ? srRefs.get(firstShared.name)! : NULL_REF;
  db.update('pool', poolRef, { default_SR: defaultSr, suspend_image_SR: defaultSr, crash_dump_SR: defaultSr });

  const isoVdi = (iso: string, srName?: string): string => {
    for (const [ref, vdi] of db.entries('VDI'))
      if (vdi.name_label === iso && (!srName || vdi.SR === srRefs.get(srName))) return ref;
    return NULL_REF;
  };

  // VMs, with their disks, CD drive and guest metrics.
  const now = sim.clock.now();
  const masterProduct = masterMachine.installed.product;
  for (const v of s.vms) {
    const host = v.host ? byName.get(v.host)! : null;
    const memory = Math.round(v.memoryGiB * GiB);
    const lacks: Array<'suspend' | 'shutdown'> = v.lacksFeature === true ? ['suspend'] : v.lacksFeature === false ? [] : v.lacksFeature;
    // A guest lacking a feature has no PV drivers (drivers imply every feature in xapi): tools default to none.
    const tools = v.tools === undefined ? (lacks.length > 0 ? null : (host ?? masterMachine).installed.product) : v.tools;
    // tools: null and no lacksFeature = no guest agent at all: no VM_guest_metrics (VM_LACKS_FEATURE for every op).
    const gm =
      tools === null && lacks.length === 0
        ? NULL_REF
        : db.create(
            'VM_guest_metrics',
            guestMetricsRecord(tools, v.os, tools !== null && compareVersions(tools.split('.').slice(0, 2).join('.'), masterProduct.split('.').slice(0, 2).join('.')) >= 0, lacks, now),
          );
    const metrics = db.create('VM_metrics', vmMetricsRecord(v.power === 'Halted' ? 0 : memory, v.vcpus, true, now));
    const running = v.power === 'Running' || v.power === 'Paused';
    const vmRef = db.create(
      'VM',
      vmRecord({
        name: v.name,
        memory,
        vcpus: v.vcpus,
        power: v.power,
        residentOn: running && host ? host.hostRef : NULL_REF,
        affinity: v.affinity ? byName.get(v.affinity)!.hostRef : NULL_REF,
        isControlDomain: false,
        isTemplate: v.template,
        haRestartPriority: v.haRestartPriority,
        metrics,
        guestMetrics: gm,
      }),
    );
    v.disks.forEach((d, i) => {
      const vdi = db.create('VDI', vdiRecord({ name: `${v.name} disk ${i}`, sr: srRefs.get(d.sr)!, size: d.sizeGiB * GiB, type: 'user', readOnly: false, isToolsIso: false }));
      db.create('VBD', vbdRecord({ vm: vmRef, vdi, type: 'Disk', userdevice: String(i), attached: running }));
    });
    (v.networks ?? [MANAGEMENT_NETWORK]).forEach((n, i) =>
      db.create('VIF', vifRecord({ vm: vmRef, network: networkRefs.get(n)!, device: String(i), attached: running })),
    );
    // the CPU features it booted with (VM_INCOMPATIBLE_WITH_THIS_HOST compares them with a target's)
    if (v.power !== 'Halted') db.update('VM', vmRef, { last_boot_CPU_flags: { vendor: (host ?? masterMachine).spec.cpuVendor, features: v.cpuFlags ?? (host ?? masterMachine).spec.cpuFeatures } });
    const cdVdi = v.cd ? isoVdi(v.cd.iso, v.cd.sr) : NULL_REF;
    db.create('VBD', vbdRecord({ vm: vmRef, vdi: cdVdi, type: 'CD', userdevice: '3', attached: running }));
    sim.vmExtra.set(vmRef, { pci: v.pci, tools });
    if (v.pci) db.update('VM', vmRef, { other_config: { pci: '0/0000:04:00.0' } });
    if (v.power === 'Suspended') {
      const suspendVdi = db.create('VDI', vdiRecord({ name: `Suspend image for ${v.name}`, sr: defaultSr, size: memory, type: 'suspend', readOnly: false, isToolsIso: false }));
      db.update('VM', vmRef, { suspend_VDI: suspendVdi, suspend_SR: defaultSr, last_booted_record: 'suspended' });
      sim.vmExtra.get(vmRef)!.suspendedWith = { platform: (host ?? masterMachine).installed.platform, cdInserted: cdVdi !== NULL_REF };
    }
  }

  if (s.ha.enabled) {
    const statefile = db.create('VDI', vdiRecord({ name: 'Statefile for HA', sr: defaultSr, size: 4 * MiB, type: 'ha_statefile', readOnly: false, isToolsIso: false }));
    db.update('pool', poolRef, {
      ha_enabled: true,
      ha_host_failures_to_tolerate: s.ha.failuresToTolerate,
      ha_plan_exists_for: s.ha.failuresToTolerate,
      ha_statefiles: [statefile],
      ha_configuration: { timeout: '60' },
    });
  }

  for (const u of s.updates) {
    const vdi = db.create('VDI', vdiRecord({ name: `${u.name}.iso`, sr: defaultSr, size: 800 * MiB, type: 'user', readOnly: true, isToolsIso: false }));
    sim.updateVdis.set(vdi, u);
    if (u.introduced) db.create('pool_update', poolUpdateRecord({ name: u.name, version: u.version, vdi }));
  }

  sim.pool = pool;
  for (const m of machines) sim.refreshMemoryFree(pool, m.hostRef);
  sim.refreshRollingUpgrade(pool);
  return pool;
}

/** A freshly installed stand-alone host (its own one-host pool), ready for pool.join (R4.2). */
export function buildFreshPool(sim: Sim, m: Machine): PoolState {
  const db = new Db([...CLASSES]);
  const pool = new PoolState(db, m);
  const poolRef = db.create('pool', poolRecord('', NULL_REF));
  m.pool = pool;
  addHostRecords(sim, db, m);
  db.update('pool', poolRef, { master: m.hostRef });
  localSrFor(sim, db, m);
  sim.refreshMemoryFree(pool, m.hostRef);
  return pool;
}

/** pool.join: the machine becomes a slave of `pool`, with PBDs for the shared SRs and a new local SR. */
export function joinPool(sim: Sim, pool: PoolState, m: Machine): void {
  m.pool = pool;
  const db = pool.db;
  addHostRecords(sim, db, m);
  for (const [srRef, sr] of db.entries('SR'))
    if (sr.shared) db.create('PBD', pbdRecord(m.hostRef, srRef, deviceConfig({ type: sr.type as string, name: sr.name_label as string }, m.name)));
  localSrFor(sim, db, m);
  sim.refreshMemoryFree(pool, m.hostRef);
}
