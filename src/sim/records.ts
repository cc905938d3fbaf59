/** Record constructors with xapi's field names and defaults (reference xenapi.md §2). */
import { randomUUID } from 'node:crypto';
import { Rec, NULL_REF } from './db';
import { NEVER } from './wire';
import { apiVersionOf, InstalledVersion, softwareVersion } from './versions';

export const GiB = 1024 * 1024 * 1024;
export const MiB = 1024 * 1024;

export const CLASSES = [
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
  'pool_update',
  'network',
  'PIF',
  'VIF',
] as const;
export type SimClass = (typeof CLASSES)[number];

/** Per-VM shadow memory overhead: about 1% of its static max, rounded up to a MiB, plus 1 MiB. */
export function vmOverhead(memory: number): number {
  return Math.ceil(memory / 100 / MiB) * MiB + MiB;
}

export function poolRecord(nameLabel: string, master: string): Rec {
  return {
    uuid: randomUUID(),
    name_label: nameLabel,
    name_description: '',
    master,
    default_SR: NULL_REF,
    suspend_image_SR: NULL_REF,
    crash_dump_SR: NULL_REF,
    other_config: {},
    allowed_operations: [],
    current_operations: {},
    ha_enabled: false,
    ha_configuration: {},
    ha_statefiles: [],
    ha_host_failures_to_tolerate: 0,
    ha_plan_exists_for: 0,
    ha_allow_overcommit: false,
    ha_overcommitted: false,
    ha_cluster_stack: 'xhad',
    blobs: {},
    tags: [],
    gui_config: {},
    health_check_config: {},
    wlb_url: '',
    wlb_username: '',
    wlb_enabled: false,
    wlb_verify_cert: false,
    redo_log_enabled: false,
    redo_log_vdi: NULL_REF,
    vswitch_controller: '',
    restrictions: { restrict_rpu: 'false', restrict_pool_size: 'false' },
    metadata_VDIs: [],
    guest_agent_config: {},
    cpu_info: { cpu_count: '0', socket_count: '0', vendor: 'GenuineIntel' },
    policy_no_vendor_device: false,
    live_patching_disabled: false,
  };
}

export interface HostSpec {
  name: string;
  address: string;
  version: InstalledVersion;
  memory: number;
  cpus: number;
  cpuVendor: string;
  cpuFeatures: string;
  sanBoot: boolean;
  multipathing: boolean;
  bootTime: number; // epoch ms
}

export function hostRecord(h: HostSpec, metrics: string): Rec {
  const [maj, min] = apiVersionOf(h.version.product);
  const seconds = (h.bootTime / 1000).toFixed(3);
  return {
    uuid: randomUUID(),
    name_label: h.name,
    name_description: 'Default install',
    allowed_operations: ['provision', 'evacuate', 'reboot', 'shutdown', 'vm_start', 'vm_resume', 'vm_migrate'],
    current_operations: {},
    API_version_major: maj,
    API_version_minor: min,
    API_version_vendor: 'XenSource',
    API_version_vendor_implementation: {},
    enabled: true,
    software_version: softwareVersion(h.version, h.name),
    other_config: {
      boot_time: seconds,
      agent_start_time: seconds,
      iscsi_iqn: `iqn.2018-01.com.example:${h.name}`,
      // R2.7: xapi has no boot-from-SAN field and writes no marker for it (h.sanBoot is invisible to XenAPI, as on a
      // real pool: the bot knows it only from the pools file's sanBootHosts).
      // Ordinary storage multipathing, as XenCenter sets it: independent of how the host boots.
      ...(h.multipathing ? { multipathing: 'true', multipathhandle: 'dmp' } : {}),
    },
    capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_64'],
    cpu_configuration: {},
    sched_policy: 'credit',
    supported_bootloaders: ['pygrub', 'eliloader'],
    resident_VMs: [],
    logging: {},
    PIFs: [],
    suspend_image_sr: NULL_REF,
    crash_dump_sr: NULL_REF,
    crashdumps: [],
    patches: [],
    updates: [],
    updates_requiring_reboot: [],
    PBDs: [],
    host_CPUs: [],
    cpu_info: { cpu_count: String(h.cpus), socket_count: '2', vendor: h.cpuVendor, model: '63', family: '6', features: h.cpuFeatures, features_hvm: h.cpuFeatures, features_pv: h.cpuFeatures },
    hostname: h.name,
    address: h.address,
    metrics,
    license_params: { restrict_rpu: 'false', sku_type: 'enterprise-per-socket' },
    ha_statefiles: [],
    ha_network_peers: [],
    blobs: {},
    tags: [],
    external_auth_type: '',
    external_auth_service_name: '',
    external_auth_configuration: {},
    edition: 'enterprise-per-socket',
    license_server: { address: 'localhost', port: '27000' },
    bios_strings: {},
    power_on_mode: '',
    power_on_config: {},
    local_cache_sr: NULL_REF,
    chipset_info: { iommu: 'true' },
    PCIs: [],
    PGPUs: [],
    ssl_legacy: true,
    guest_VCPUs_params: {},
    display: 'enabled',
    virtual_hardware_platform_versions: [0, 1, 2],
    control_domain: NULL_REF,
    features: [],
    iscsi_iqn: `iqn.2018-01.com.example:${h.name}`,
    multipathing: h.multipathing,
    memory_overhead: Math.ceil(h.memory / 128 / MiB) * MiB,
  };
}

export function hostMetricsRecord(memory: number, now: number): Rec {
  return { uuid: randomUUID(), memory_total: memory, memory_free: memory, live: true, last_updated: new Date(now), other_config: {} };
}

export interface VmSpec {
  name: string;
  memory: number;
  vcpus: number;
  power: string;
  residentOn: string;
  affinity: string;
  isControlDomain: boolean;
  isTemplate: boolean;
  haRestartPriority: string;
  metrics: string;
  guestMetrics: string;
}

export function vmRecord(v: VmSpec): Rec {
  return {
    uuid: randomUUID(),
    allowed_operations: [],
    current_operations: {},
    power_state: v.power,
    name_label: v.name,
    name_description: '',
    user_version: 1,
    is_a_template: v.isTemplate,
    suspend_VDI: NULL_REF,
    resident_on: v.residentOn,
    scheduled_to_be_resident_on: NULL_REF,
    affinity: v.affinity,
    memory_overhead: vmOverhead(v.memory),
    memory_target: v.power === 'Halted' ? 0 : v.memory,
    memory_static_max: v.memory,
    memory_dynamic_max: v.memory,
    memory_dynamic_min: v.memory,
    memory_static_min: v.isControlDomain ? v.memory : Math.min(v.memory, 512 * MiB),
    VCPUs_params: {},
    VCPUs_max: v.vcpus,
    VCPUs_at_startup: v.vcpus,
    actions_after_shutdown: 'destroy',
    actions_after_reboot: 'restart',
    actions_after_crash: 'restart',
    consoles: [],
    VIFs: [],
    VBDs: [],
    crash_dumps: [],
    VTPMs: [],
    PV_bootloader: '',
    PV_kernel: '',
    PV_ramdisk: '',
    PV_args: '',
    PV_bootloader_args: '',
    PV_legacy_args: '',
    HVM_boot_policy: v.isControlDomain ? '' : 'BIOS order',
    HVM_boot_params: v.isControlDomain ? {} : { order: 'dc' },
    HVM_shadow_multiplier: 1,
    platform: {},
    PCI_bus: '',
    other_config: {},
    domid: v.power === 'Running' ? (v.isControlDomain ? 0 : 1) : -1,
    domarch: '',
    last_boot_CPU_flags: {},
    is_control_domain: v.isControlDomain,
    metrics: v.metrics,
    guest_metrics: v.guestMetrics,
    last_booted_record: '',
    recommendations: '',
    xenstore_data: {},
    ha_always_run: v.haRestartPriority === 'restart',
    ha_restart_priority: v.haRestartPriority,
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: NEVER,
    transportable_snapshot_id: '',
    blobs: {},
    tags: [],
    blocked_operations: {},
    snapshot_info: {},
    snapshot_metadata: '',
    parent: NULL_REF,
    children: [],
    bios_strings: {},
    protection_policy: NULL_REF,
    is_snapshot_from_vmpp: false,
    appliance: NULL_REF,
    start_delay: 0,
    shutdown_delay: 0,
    order: 0,
    VGPUs: [],
    attached_PCIs: [],
    suspend_SR: NULL_REF,
    version: 0,
    generation_id: '',
    hardware_platform_version: 0,
    has_vendor_device: false,
    requires_reboot: false,
    reference_label: '',
  };
}

export function vmMetricsRecord(memory: number, vcpus: number, hvm: boolean, now: number): Rec {
  return {
    uuid: randomUUID(),
    memory_actual: memory,
    VCPUs_number: vcpus,
    VCPUs_utilisation: {},
    VCPUs_CPU: {},
    VCPUs_params: {},
    VCPUs_flags: {},
    state: [],
    start_time: new Date(now),
    install_time: new Date(now),
    last_updated: NEVER,
    other_config: {},
    hvm,
    nested_virt: false,
    nomigrate: false,
  };
}

/**
 * VM_guest_metrics as the guest agent reports it. With PV drivers (`tools` = their version) xapi grants every feature;
 * without (`tools` null) PV_drivers_version is empty and only the flags the agent writes count (guest.ts): `lacking`
 * lists what it does not report ("suspend" → no feature-suspend; "shutdown" → no feature-shutdown/poweroff/reboot).
 */
export function guestMetricsRecord(tools: string | null, os: string, upToDate: boolean, lacking: Array<'suspend' | 'shutdown'>, now: number): Rec {
  const [major, minor, micro] = tools === null ? [] : tools.split('.');
  const other: Record<string, string> = { has_vendor_device: '0', platform_feature_multiprocessor_suspend: '1' };
  if (!lacking.includes('suspend')) other['feature-suspend'] = '1';
  if (!lacking.includes('shutdown')) Object.assign(other, { 'feature-shutdown': '1', 'feature-poweroff': '1', 'feature-reboot': '1' });
  return {
    uuid: randomUUID(),
    os_version: { name: os, distro: os.split(' ')[0].toLowerCase(), major: os.split(' ')[1] ?? '' },
    PV_drivers_version: tools === null ? {} : { major: major ?? '0', minor: minor ?? '0', micro: micro ?? '0', build: '1' },
    PV_drivers_up_to_date: tools !== null && upToDate,
    memory: {},
    disks: {},
    networks: { '0/ip': '10.0.0.1' },
    other,
    last_updated: new Date(now),
    other_config: {},
    live: true,
    can_use_hotplug_vbd: tools === null ? 'unspecified' : 'yes',
    can_use_hotplug_vif: tools === null ? 'unspecified' : 'yes',
    PV_drivers_detected: tools !== null,
  };
}

export function vbdRecord(o: { vm: string; vdi: string; type: 'CD' | 'Disk'; userdevice: string; attached: boolean }): Rec {
  const empty = o.vdi === NULL_REF;
  return {
    uuid: randomUUID(),
    allowed_operations: o.type === 'CD' ? (empty ? ['insert'] : ['eject']) : ['attach'],
    current_operations: {},
    VM: o.vm,
    VDI: o.vdi,
    device: o.type === 'CD' ? 'xvdd' : `xvd${String.fromCharCode(97 + Number(o.userdevice))}`,
    userdevice: o.userdevice,
    bootable: o.userdevice === '0',
    mode: o.type === 'CD' ? 'RO' : 'RW',
    type: o.type,
    unpluggable: o.type !== 'CD',
    storage_lock: false,
    empty,
    other_config: {},
    currently_attached: o.attached,
    status_code: 0,
    status_detail: '',
    runtime_properties: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    qos_supported_algorithms: [],
    metrics: NULL_REF,
  };
}

export function vdiRecord(o: { name: string; sr: string; size: number; type: string; readOnly: boolean; isToolsIso: boolean }): Rec {
  return {
    uuid: randomUUID(),
    name_label: o.name,
    name_description: '',
    allowed_operations: ['clone', 'snapshot', 'copy'],
    current_operations: {},
    SR: o.sr,
    VBDs: [],
    crash_dumps: [],
    virtual_size: o.size,
    physical_utilisation: o.size,
    type: o.type,
    sharable: false,
    read_only: o.readOnly,
    other_config: {},
    storage_lock: false,
    location: o.readOnly ? o.name : randomUUID(),
    managed: true,
    missing: false,
    parent: NULL_REF,
    xenstore_data: {},
    sm_config: {},
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    snapshots: [],
    snapshot_time: NEVER,
    tags: [],
    allow_caching: false,
    on_boot: 'persist',
    metadata_of_pool: NULL_REF,
    metadata_latest: false,
    is_tools_iso: o.isToolsIso,
  };
}

export function srRecord(o: { name: string; type: string; shared: boolean; size: number; isToolsSr?: boolean }): Rec {
  const iso = o.type === 'iso';
  return {
    uuid: randomUUID(),
    name_label: o.name,
    name_description: '',
    allowed_operations: ['vdi_create', 'vdi_destroy', 'scan', 'plug', 'unplug'],
    current_operations: {},
    VDIs: [],
    PBDs: [],
    virtual_allocation: 0,
    physical_utilisation: 0,
    physical_size: o.size,
    type: o.type,
    content_type: iso ? 'iso' : 'user',
    shared: o.shared,
    other_config: iso ? { i18n_key: o.isToolsSr ? 'xenserver-tools' : '' } : {},
    tags: [],
    sm_config: {},
    blobs: {},
    local_cache_enabled: false,
    introduced_by: NULL_REF,
    clustered: false,
    is_tools_sr: o.isToolsSr ?? false,
  };
}

export function pbdRecord(host: string, sr: string, deviceConfig: Record<string, string>): Rec {
  return { uuid: randomUUID(), host, SR: sr, device_config: deviceConfig, currently_attached: true, other_config: {} };
}

export function taskRecord(nameLabel: string, residentOn: string, now: number): Rec {
  return {
    uuid: randomUUID(),
    name_label: nameLabel,
    name_description: '',
    allowed_operations: ['cancel'],
    current_operations: {},
    created: new Date(now),
    finished: NEVER,
    status: 'pending',
    resident_on: residentOn,
    progress: 0,
    type: '<none/>',
    result: '',
    error_info: [],
    other_config: {},
    subtask_of: NULL_REF,
    subtasks: [],
    backtrace: '()',
  };
}

export function poolUpdateRecord(o: { name: string; version: string; vdi: string }): Rec {
  return {
    uuid: randomUUID(),
    name_label: o.name,
    name_description: `XenServer ${o.version} update`,
    version: o.version,
    installation_size: 1024 * MiB,
    key: 'Citrix',
    after_apply_guidance: ['restartHost'],
    vdi: o.vdi,
    hosts: [],
    other_config: {},
    enforce_homogeneity: false,
  };
}

/** VM allowed_operations by power state, minus what a missing feature or PCI device forbids. */
export function vmAllowedOperations(power: string, o: { dom0: boolean; noSuspend: boolean; noShutdown: boolean; pci: boolean; rpu: boolean }): string[] {
  if (o.dom0) return [];
  let ops: string[];
  switch (power) {
    case 'Running':
      ops = ['clean_shutdown', 'hard_shutdown', 'clean_reboot', 'hard_reboot', 'shutdown', 'suspend', 'pool_migrate', 'migrate_send', 'snapshot', 'checkpoint', 'pause'];
      break;
    case 'Halted':
      ops = ['start', 'start_on', 'destroy', 'clone', 'copy', 'export', 'snapshot'];
      break;
    case 'Suspended':
      ops = ['resume', 'resume_on', 'hard_shutdown', 'shutdown', 'snapshot'];
      break;
    case 'Paused':
      ops = ['unpause', 'hard_shutdown', 'shutdown'];
      break;
    default:
      ops = [];
  }
  if (o.noSuspend || o.pci) ops = ops.filter((x) => !['suspend', 'pool_migrate', 'migrate_send', 'checkpoint'].includes(x));
  if (o.noShutdown) ops = ops.filter((x) => x !== 'clean_shutdown' && x !== 'clean_reboot');
  // During a rolling upgrade xapi withdraws these (reference §4.2).
  if (o.rpu) ops = ops.filter((x) => !['snapshot', 'checkpoint', 'migrate_send'].includes(x));
  return ops;
}

export function networkRecord(name: string, bridge: string): Rec {
  return { uuid: randomUUID(), name_label: name, name_description: '', MTU: 1500, bridge, PIFs: [], VIFs: [], other_config: {}, managed: true };
}

export function pifRecord(o: { host: string; network: string; device: string; vlan: number; management: boolean }): Rec {
  return {
    uuid: randomUUID(),
    device: o.device,
    network: o.network,
    host: o.host,
    VLAN: o.vlan,
    management: o.management,
    currently_attached: true,
    physical: o.vlan < 0,
    other_config: {},
  };
}

export function vifRecord(o: { vm: string; network: string; device: string; attached: boolean }): Rec {
  return { uuid: randomUUID(), device: o.device, network: o.network, VM: o.vm, MAC: '', MTU: 1500, currently_attached: o.attached, other_config: {} };
}
