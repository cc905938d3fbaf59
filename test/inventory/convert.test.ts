import type { Clock } from '../../src/clock';
import { InventoryError, readSnapshot, toSnapshot, toSnapshotSliced } from '../../src/inventory';
import { RecordParseError } from '../../src/xenapi/records';
import { parseRecords, recordSource, WireRecords } from './records';

const GiB = 1024 ** 3;
const N = 'OpaqueRef:NULL';
/** get_all_records the way xapi sends them over XML-RPC: int64 as decimal strings (parsed by the client's schemas) */
function raw(): WireRecords {
  return {
    pool: { 'OpaqueRef:pool': { uuid: 'uuid-pool', name_label: 'pool-a', master: 'OpaqueRef:h1', ha_enabled: true, other_config: { rolling_upgrade_in_progress: 'true' } } },
    host: {
      'OpaqueRef:h1': host('h1', 'OpaqueRef:m1', { boot_time: '1700000000.5' }, ['OpaqueRef:pbd1', 'OpaqueRef:pbd3']),
      'OpaqueRef:h2': host('h2', 'OpaqueRef:m2', { boot_from_san: 'true' }, ['OpaqueRef:pbd2', 'OpaqueRef:pbd4']),
    },
    host_metrics: {
      'OpaqueRef:m1': { uuid: 'uuid-m1', live: true, memory_total: String(64 * GiB) },
      'OpaqueRef:m2': { uuid: 'uuid-m2', live: false, memory_total: String(32 * GiB) },
    },
    VM: {
      'OpaqueRef:dom0': vm('Control domain on host: h1', 'Running', 'OpaqueRef:h1', 2, { is_control_domain: true }),
      'OpaqueRef:tpl': vm('Debian template', 'Halted', N, 1, { is_a_template: true }),
      'OpaqueRef:snap': vm('web snapshot', 'Halted', N, 1, { is_a_snapshot: true }),
      'OpaqueRef:web': vm('web', 'Running', 'OpaqueRef:h1', 8, { VBDs: ['OpaqueRef:vbd-web-disk', 'OpaqueRef:vbd-web-cd'], guest_metrics: 'OpaqueRef:gm-web' }),
      'OpaqueRef:win': vm('win', 'Running', 'OpaqueRef:h1', 4, { HVM_boot_policy: 'BIOS order', VBDs: ['OpaqueRef:vbd-win-disk', 'OpaqueRef:vbd-win-cd'] }),
      'OpaqueRef:off': vm('off', 'Halted', N, 4, { attached_PCIs: ['OpaqueRef:pci'], blocked_operations: { pool_migrate: 'no' } }),
    },
    VM_metrics: {},
    VM_guest_metrics: {
      'OpaqueRef:gm-web': { uuid: 'uuid-gm-web', PV_drivers_version: { major: '7', minor: '1', micro: '0', build: '59' }, PV_drivers_up_to_date: true, other: { 'feature-suspend': '1' } },
    },
    VBD: {
      'OpaqueRef:vbd-web-disk': { uuid: 'uuid-vbd-web-disk', VM: 'OpaqueRef:web', VDI: 'OpaqueRef:vdi-web', type: 'Disk', empty: false },
      'OpaqueRef:vbd-web-cd': { uuid: 'uuid-vbd-web-cd', VM: 'OpaqueRef:web', VDI: 'OpaqueRef:vdi-iso', type: 'CD', empty: false },
      'OpaqueRef:vbd-win-disk': { uuid: 'uuid-vbd-win-disk', VM: 'OpaqueRef:win', VDI: 'OpaqueRef:vdi-win', type: 'Disk', empty: false },
      'OpaqueRef:vbd-win-cd': { uuid: 'uuid-vbd-win-cd', VM: 'OpaqueRef:win', VDI: N, type: 'CD', empty: true },
    },
    VDI: {
      'OpaqueRef:vdi-web': { uuid: 'uuid-vdi-web', VBDs: [], virtual_size: String(GiB), SR: 'OpaqueRef:sr-nfs', name_label: 'web disk' },
      'OpaqueRef:vdi-iso': { uuid: 'uuid-vdi-iso', VBDs: [], virtual_size: String(GiB), SR: 'OpaqueRef:sr-iso', name_label: 'tools-7.1.iso' },
      'OpaqueRef:vdi-win': { uuid: 'uuid-vdi-win', VBDs: [], virtual_size: String(GiB), SR: 'OpaqueRef:sr-local', name_label: 'win disk' },
    },
    SR: {
      'OpaqueRef:sr-nfs': { uuid: 'u1', name_label: 'nfs', type: 'nfs', content_type: 'user', shared: true, PBDs: [], VDIs: [] },
      'OpaqueRef:sr-iso': { uuid: 'u2', name_label: 'ISO library', type: 'iso', content_type: 'iso', shared: false, PBDs: [], VDIs: [] },
      'OpaqueRef:sr-local': { uuid: 'u3', name_label: 'Local storage h1', type: 'lvm', content_type: 'user', shared: false, PBDs: [], VDIs: [] },
    },
    PBD: {
      'OpaqueRef:pbd1': { uuid: 'uuid-pbd1', host: 'OpaqueRef:h1', SR: 'OpaqueRef:sr-nfs', currently_attached: true },
      'OpaqueRef:pbd2': { uuid: 'uuid-pbd2', host: 'OpaqueRef:h2', SR: 'OpaqueRef:sr-nfs', currently_attached: false },
      'OpaqueRef:pbd3': { uuid: 'uuid-pbd3', host: 'OpaqueRef:h1', SR: 'OpaqueRef:sr-local', currently_attached: true },
      'OpaqueRef:pbd4': { uuid: 'uuid-pbd4', host: 'OpaqueRef:h2', SR: 'OpaqueRef:sr-iso', currently_attached: true },
    },
    task: {
      'OpaqueRef:t1': { uuid: 'uuid-t1', name_label: 'VM.export', status: 'pending', progress: 0.25, result: '', error_info: [] },
      'OpaqueRef:t2': { uuid: 'uuid-t2', name_label: 'done', status: 'success', progress: 1, result: '<value></value>', error_info: [] },
    },
    network: {},
    PIF: {},
    VIF: {},
  };
}
function host(name: string, metrics: string, other: Record<string, string>, PBDs: string[]) {
  return {
    uuid: `uuid-${name}`,
    name_label: name,
    address: `10.0.0.${name.slice(1)}`,
    enabled: true,
    software_version: { product_version: '7.1.1', platform_version: '2.1.1', build_number: '137272c', product_brand: 'XenServer' },
    API_version_major: '2',
    API_version_minor: '6',
    memory_overhead: String(GiB / 2),
    metrics,
    PBDs,
    resident_VMs: [],
    other_config: other,
  };
}
function vm(name: string, power: string, residentOn: string, memGiB: number, extra: Record<string, unknown> = {}) {
  return {
    uuid: `uuid-${name}`,
    name_label: name,
    power_state: power,
    resident_on: residentOn,
    affinity: N,
    is_a_template: false,
    is_control_domain: false,
    memory_static_max: String(memGiB * GiB),
    memory_dynamic_min: String(memGiB * GiB),
    memory_dynamic_max: String(memGiB * GiB),
    other_config: {},
    memory_overhead: String(GiB / 8),
    VBDs: [],
    metrics: N,
    guest_metrics: N,
    blocked_operations: {},
    ha_restart_priority: '',
    ...extra,
  };
}

describe('toSnapshot (pure converter)', () => {
  const s = toSnapshot(parseRecords(raw()), 42);

  it('reads pool flags and excludes dom0, templates and snapshots', () => {
    expect(s.takenAt).toBe(42);
    expect(s.pool).toEqual({ ref: 'OpaqueRef:pool', name: 'pool-a', master: 'OpaqueRef:h1', haEnabled: true, rollingUpgradeInProgress: true, suspendImageSr: null });
    expect(s.vms.map((v) => v.name)).toEqual(['off', 'web', 'win']);
  });

  it('computes memory like host.compute_free_memory (dom0 included) and memoryNeeded = dynamic_min + overhead', () => {
    const h1 = s.hosts.find((h) => h.name === 'h1')!;
    const reserved = (2 + 8 + 4) * GiB + 3 * (GiB / 8);
    expect(h1.memoryTotal).toBe(64 * GiB);
    expect(h1.memoryFree).toBe(64 * GiB - GiB / 2 - reserved);
    expect(h1.residentVms).toEqual(['OpaqueRef:web', 'OpaqueRef:win']);
    expect(s.vms.find((v) => v.name === 'web')!.memoryNeeded).toBe(8 * GiB + GiB / 8);
    expect(h1.isMaster).toBe(true);
    expect(h1.bootTime).toBe(1700000000.5);
    expect(h1.version).toEqual({ product: '7.1.1', platform: '2.1.1', build: '137272c', brand: 'XenServer' });
    expect(h1.apiVersion).toEqual({ major: 2, minor: 6 });
  });

  it('reads no boot-from-SAN evidence from an invented other_config.boot_from_san (XenAPI has none, R2.7), and liveness from host_metrics', () => {
    const h2 = s.hosts.find((h) => h.name === 'h2')!;
    expect(h2.sanBoot).toBe(false);
    expect(h2.live).toBe(false);
    expect(s.hosts.find((h) => h.name === 'h1')!.sanBoot).toBe(false);
  });

  it('derives SR visibility from attached PBDs', () => {
    const nfs = s.srs.find((x) => x.name === 'nfs')!;
    expect(nfs.attachedHosts).toEqual(['OpaqueRef:h1']);
    expect(s.hosts.find((h) => h.name === 'h2')!.detachedSrs).toEqual(['OpaqueRef:sr-nfs']);
    expect(s.hosts.find((h) => h.name === 'h1')!.attachedSrs).toEqual(['OpaqueRef:sr-local', 'OpaqueRef:sr-nfs']);
  });

  it('reads disks, CD drives with the ISO name, tools, lacks-feature, PCI and blocked operations', () => {
    const web = s.vms.find((v) => v.name === 'web')!;
    expect(web.disks).toEqual([{ vbd: 'OpaqueRef:vbd-web-disk', vdi: 'OpaqueRef:vdi-web', sr: 'OpaqueRef:sr-nfs' }]);
    expect(web.cds).toEqual([{ vbd: 'OpaqueRef:vbd-web-cd', empty: false, vdi: 'OpaqueRef:vdi-iso', sr: 'OpaqueRef:sr-iso', isoName: 'tools-7.1.iso' }]);
    expect(web.toolsVersion).toBe('7.1.0');
    expect(web.toolsUpToDate).toBe(true);
    expect(web.lacksFeatureMigrate).toBe(false);
    expect(web.residentOn).toBe('OpaqueRef:h1');
    const win = s.vms.find((v) => v.name === 'win')!;
    expect(win.lacksFeatureMigrate).toBe(true); // HVM, no PV drivers, no feature-suspend
    expect(win.toolsVersion).toBeNull();
    expect(win.cds[0]).toMatchObject({ empty: true, vdi: null, isoName: null });
    const off = s.vms.find((v) => v.name === 'off')!;
    expect(off.hasPciPassthrough).toBe(true);
    expect(off.blockedOperations).toEqual(['pool_migrate']);
    expect(off.residentOn).toBeNull();
  });

  it('keeps only tasks in progress', () => {
    expect(s.tasks).toEqual([{ ref: 'OpaqueRef:t1', name: 'VM.export', status: 'pending', progress: 0.25 }]);
  });

  it('names the class, the record and the field when a record is malformed', async () => {
    const bad = raw();
    (bad.host['OpaqueRef:h1'] as Record<string, unknown>).enabled = 'maybe';
    // malformed records are refused by the client's parser; readSnapshot reports them as an InventoryError
    await expect(readSnapshot(recordSource(bad))).rejects.toThrow(InventoryError);
    await expect(readSnapshot(recordSource(bad))).rejects.toThrow(/^host OpaqueRef:h1: field enabled:/);
    const noMaster = raw();
    (noMaster.pool['OpaqueRef:pool'] as Record<string, unknown>).master = 'OpaqueRef:gone';
    expect(() => toSnapshot(parseRecords(noMaster), 0)).toThrow(/field master: host OpaqueRef:gone not among the host records/);
  });
});

describe('toSnapshot: VM_LACKS_FEATURE', () => {
  const withGuest = (other: Record<string, string>, pv: Record<string, string>, extra: Record<string, unknown> = {}) => {
    const r = raw();
    (r.VM['OpaqueRef:win'] as Record<string, unknown>).guest_metrics = 'OpaqueRef:gm-win';
    r.VM_guest_metrics['OpaqueRef:gm-win'] = { uuid: 'uuid-gm-win', PV_drivers_version: pv, PV_drivers_up_to_date: false, other, ...extra };
    return toSnapshot(parseRecords(r), 0).vms.find((v) => v.name === 'win')!;
  };
  it('HVM with PV drivers can migrate; without drivers it needs feature-suspend', () => {
    expect(withGuest({}, { major: '7', minor: '0', micro: '0' }).lacksFeatureMigrate).toBe(false);
    expect(withGuest({ 'feature-suspend': '1' }, {}).lacksFeatureMigrate).toBe(false);
    expect(withGuest({}, {}).lacksFeatureMigrate).toBe(true);
  });
  it('drivers count only with a PV_drivers_version, as in xapi (detected without a version is not enough)', () => {
    expect(withGuest({}, {}, { PV_drivers_detected: true }).lacksFeatureMigrate).toBe(true);
    expect(withGuest({}, { major: '7', minor: '1', micro: '0' }, { PV_drivers_detected: false }).lacksFeatureMigrate).toBe(true);
  });
  it('an explicit feature-suspend = 0 is taken at its word (fail safe)', () => {
    expect(withGuest({ 'feature-suspend': '0' }, { major: '7', minor: '1', micro: '0' }).lacksFeatureMigrate).toBe(true);
  });
});

describe('toSnapshotSliced (issue 13: the conversion yields to the event loop)', () => {
  it('gives exactly toSnapshot’s snapshot on a pool large enough to be converted in several steps, and lets timers run meanwhile', async () => {
    const r = raw();
    for (let i = 0; i < 1500; i++) {
      r.VM[`OpaqueRef:gen-${i}`] = vm(`gen-${String(i).padStart(4, '0')}`, i % 3 ? 'Running' : 'Halted', i % 3 ? (i % 2 ? 'OpaqueRef:h1' : 'OpaqueRef:h2') : N, 1, {
        VBDs: ['OpaqueRef:vbd-web-disk'],
      });
    }
    const records = parseRecords(r);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    // a slow machine stands in for a large pool: every step past the slice budget makes the conversion yield
    const now = jest.spyOn(performance, 'now');
    let t = 0;
    now.mockImplementation(() => (t += 5));
    try {
      const sliced = await toSnapshotSliced(records, 9);
      expect(sliced).toEqual(toSnapshot(records, 9));
      expect(sliced.vms.filter((v) => v.name.startsWith('gen-'))).toHaveLength(1500);
    } finally {
      now.mockRestore();
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('readSnapshot over the client boundary', () => {
  it('asks once per record class (one list: RECORD_CLASSES) and converts what the client parsed', async () => {
    const source = recordSource(raw());
    const fixedClock: Clock = { now: () => 7, sleep: async () => undefined, scale: 1 };
    const s = await readSnapshot(source, fixedClock);
    expect([...source.calls].sort()).toEqual(['PBD', 'PIF', 'SR', 'VBD', 'VDI', 'VIF', 'VM', 'VM_guest_metrics', 'VM_metrics', 'host', 'host_metrics', 'network', 'pool', 'task'].sort());
    expect(s.takenAt).toBe(7);
    expect(s).toEqual(toSnapshot(parseRecords(raw()), 7));
  });

  it('keeps the client parse error as the cause, and lets transport errors through unwrapped', async () => {
    const bad = raw();
    (bad.VM['OpaqueRef:web'] as Record<string, unknown>).memory_dynamic_min = 'lots';
    const err = await readSnapshot(recordSource(bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    expect((err as Error).message).toMatch(/^VM OpaqueRef:web: field memory_dynamic_min: an int64 as a decimal string, got "lots"/);
    expect((err as Error).cause).toBeInstanceOf(RecordParseError);
    const down = new Error('connect ECONNREFUSED');
    await expect(readSnapshot({ getAllRecords: async () => Promise.reject(down) })).rejects.toBe(down);
  });
});

describe('toSnapshot: fields an older xapi may not send get xapi defaults', () => {
  it('no HVM_boot_policy, attached_PCIs, blocked_operations, is_a_snapshot, affinity, overheads, API version, ha_enabled', () => {
    const r = raw();
    const win = r.VM['OpaqueRef:win'];
    for (const f of ['blocked_operations', 'ha_restart_priority', 'affinity', 'memory_overhead', 'metrics', 'guest_metrics']) delete win[f];
    delete r.VM['OpaqueRef:off'].attached_PCIs;
    for (const f of ['API_version_major', 'API_version_minor', 'memory_overhead']) delete r.host['OpaqueRef:h2'][f];
    delete r.pool['OpaqueRef:pool'].ha_enabled;
    const s = toSnapshot(parseRecords(r), 0);
    expect(s.vms.find((v) => v.name === 'win')).toMatchObject({ affinity: null, blockedOperations: [], haPriority: '', memoryNeeded: 4 * GiB, lacksFeatureMigrate: true });
    expect(s.vms.find((v) => v.name === 'off')!.hasPciPassthrough).toBe(false);
    expect(s.hosts.find((h) => h.name === 'h2')).toMatchObject({ apiVersion: { major: 0, minor: 0 }, memoryFree: 32 * GiB });
    expect(s.pool.haEnabled).toBe(false);
    delete r.VM['OpaqueRef:win'].HVM_boot_policy; // PV by default: no VM_LACKS_FEATURE
    expect(toSnapshot(parseRecords(r), 0).vms.find((v) => v.name === 'win')!.lacksFeatureMigrate).toBe(false);
  });

  it('refuses a power state xapi does not have, naming the VM and the field', () => {
    const r = raw();
    r.VM['OpaqueRef:web'].power_state = 'Crashed';
    expect(() => toSnapshot(parseRecords(r), 0)).toThrow(InventoryError);
    expect(() => toSnapshot(parseRecords(r), 0)).toThrow('VM OpaqueRef:web: field power_state: expected one of Running, Halted, Suspended, Paused, got "Crashed"');
  });
});
