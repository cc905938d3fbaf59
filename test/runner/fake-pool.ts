/**
 * A small in-memory pool served as XenApiClient.getAllRecords serves it (wire records, int64 as decimal strings, put
 * through the client's own parser src/xenapi/records.ts) for step unit tests: hosts with their memory and attached SRs, VMs with their disks. VM.pool_migrate moves the VM in the
 * model and is recorded, so a test counts side effects instead of timing anything.
 */
import type { RecordSource } from '../../src/inventory';
import { matches, parseQuery } from '../../src/sim/query';
import { parseAllRecords, type RecordClass, type RecordOf } from '../../src/xenapi/records';

const GiB = 1024 ** 3;
const N = 'OpaqueRef:NULL';

export interface FakeHost {
  name: string;
  memGiB?: number;
  platform?: string;
  product?: string;
  live?: boolean;
  enabled?: boolean;
  master?: boolean;
  /** SR names with a currently attached PBD */
  srs: string[];
}

export interface FakeVm {
  name: string;
  host: string;
  memGiB: number;
  /** SR name of each disk */
  disks: string[];
  power?: 'Running' | 'Halted' | 'Paused';
}

export class FakePool implements RecordSource {
  readonly migrations: Array<{ vm: string; to: string }> = [];
  constructor(
    readonly hosts: FakeHost[],
    readonly vms: FakeVm[],
    /** SRs with shared = false (every other SR is shared; which hosts see it is given by FakeHost.srs) */
    readonly localSrs: string[] = [],
  ) {}

  static hostRef = (n: string): string => `OpaqueRef:host-${n}`;
  static vmRef = (n: string): string => `OpaqueRef:vm-${n}`;

  async getAllRecords<C extends RecordClass>(cls: C): Promise<Record<string, RecordOf<C>>> {
    return parseAllRecords(cls, this.wire(cls));
  }

  /** `<cls>.get_all_records` as it comes off the wire (what client.call returns) */
  wire(cls: string): Record<string, unknown> {
    return this.records()[cls] ?? {};
  }

  /** `<cls>.get_all_records_where(expr)`, with the simulator's implementation of xapi's filter language */
  where(cls: string, expr: string): Record<string, unknown> {
    const e = parseQuery(expr);
    return Object.fromEntries(Object.entries(this.wire(cls)).filter(([, r]) => matches(e, r as Record<string, unknown>)));
  }

  /** the VM.pool_migrate side effect, as ctx.act issues it */
  migrate(vmRef: string, hostRef: string): void {
    const vm = this.vms.find((v) => FakePool.vmRef(v.name) === vmRef);
    const host = this.hosts.find((h) => FakePool.hostRef(h.name) === hostRef);
    if (!vm || !host) throw new Error(`unknown ${vmRef} or ${hostRef}`);
    this.migrations.push({ vm: vm.name, to: host.name });
    vm.host = host.name;
  }

  private records(): Record<string, Record<string, unknown>> {
    const srNames = [...new Set([...this.localSrs, ...this.hosts.flatMap((h) => h.srs), ...this.vms.flatMap((v) => v.disks)])];
    const out: Record<string, Record<string, unknown>> = { pool: {}, host: {}, host_metrics: {}, VM: {}, VM_metrics: {}, VM_guest_metrics: {}, VBD: {}, VDI: {}, SR: {}, PBD: {}, task: {} };
    const master = this.hosts.find((h) => h.master) ?? this.hosts[0]!;
    out.pool['OpaqueRef:pool'] = { uuid: 'uuid-pool', name_label: 'pool-t', master: FakePool.hostRef(master.name), ha_enabled: false, other_config: {} };
    for (const sr of srNames) {
      out.SR[`OpaqueRef:sr-${sr}`] = { uuid: `uuid-sr-${sr}`, name_label: sr, type: 'nfs', content_type: 'user', shared: !this.localSrs.includes(sr), PBDs: [], VDIs: [] };
    }
    for (const h of this.hosts) {
      const ref = FakePool.hostRef(h.name);
      const pbds = srNames.map((sr) => `OpaqueRef:pbd-${h.name}-${sr}`);
      srNames.forEach((sr, i) => (out.PBD[pbds[i]!] = { uuid: `uuid-${pbds[i]}`, host: ref, SR: `OpaqueRef:sr-${sr}`, currently_attached: h.srs.includes(sr) }));
      out.host_metrics[`OpaqueRef:metrics-${h.name}`] = { uuid: `uuid-metrics-${h.name}`, live: h.live ?? true, memory_total: String((h.memGiB ?? 64) * GiB) };
      out.host[ref] = {
        uuid: `uuid-host-${h.name}`,
        name_label: h.name,
        address: `10.0.0.${this.hosts.indexOf(h) + 1}`,
        enabled: h.enabled ?? true,
        software_version: { product_version: h.product ?? '7.1.1', platform_version: h.platform ?? '2.1.1', build_number: '' },
        memory_overhead: String(GiB),
        metrics: `OpaqueRef:metrics-${h.name}`,
        PBDs: pbds,
        resident_VMs: [],
        other_config: {},
      };
    }
    for (const v of this.vms) {
      const ref = FakePool.vmRef(v.name);
      const running = (v.power ?? 'Running') !== 'Halted';
      const vbds = v.disks.map((_, i) => `OpaqueRef:vbd-${v.name}-${i}`);
      v.disks.forEach((sr, i) => {
        out.VBD[vbds[i]!] = { uuid: `uuid-${vbds[i]}`, VM: ref, VDI: `OpaqueRef:vdi-${v.name}-${i}`, type: 'Disk', empty: false };
        out.VDI[`OpaqueRef:vdi-${v.name}-${i}`] = { uuid: `uuid-vdi-${v.name}-${i}`, VBDs: [vbds[i]!], virtual_size: String(GiB), SR: `OpaqueRef:sr-${sr}`, name_label: `${v.name} disk ${i}` };
      });
      out.VM_guest_metrics[`OpaqueRef:gm-${v.name}`] = { uuid: `uuid-gm-${v.name}`, PV_drivers_version: { major: '7', minor: '1', micro: '0' }, PV_drivers_up_to_date: true, other: {} };
      out.VM[ref] = {
        uuid: `uuid-vm-${v.name}`,
        name_label: v.name,
        power_state: v.power ?? 'Running',
        is_a_template: false,
        is_control_domain: false,
        memory_static_max: String(v.memGiB * GiB),
        memory_dynamic_max: String(v.memGiB * GiB),
        resident_on: running ? FakePool.hostRef(v.host) : N,
        affinity: N,
        memory_dynamic_min: String(v.memGiB * GiB),
        memory_overhead: '0',
        VBDs: vbds,
        metrics: N,
        guest_metrics: `OpaqueRef:gm-${v.name}`,
        blocked_operations: {},
        HVM_boot_policy: '',
        attached_PCIs: [],
        other_config: {},
      };
    }
    return out;
  }
}
