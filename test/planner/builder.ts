import type { HostInfo, PoolSnapshot, SrInfo, TaskInfo, VmInfo } from '../../src/domain/types';

/** A small fluent builder of PoolSnapshots for pure planner tests. Memory in GiB, refs derived from names. */
export const GiB = 1024 ** 3;
export const PLATFORM: Record<string, string> = {
  '5.6.0': '1.7.0',
  '6.5.0': '1.9.0',
  '7.0.0': '2.0.0',
  '7.1.0': '2.1.1',
  '7.1.1': '2.1.1',
  '7.1.2': '2.1.1',
  '7.2.0': '2.3.0',
  '7.3.0': '2.4.0',
  '7.4.0': '2.5.0',
  '7.5.0': '2.6.0',
  '7.6.0': '2.7.0',
  '8.0.0': '3.0.0',
  '8.1.0': '3.1.0',
  '8.2.0': '3.2.0',
  '8.2.1': '3.2.1',
};
const DOM0 = 1 * GiB;

export interface HostOpts {
  version?: string;
  memGiB?: number;
  master?: boolean;
  live?: boolean;
  enabled?: boolean;
  sanBoot?: boolean;
  detached?: string[];
}
export interface VmOpts {
  host?: string | null;
  memGiB?: number;
  power?: VmInfo['powerState'];
  disks?: string[];
  cd?: { iso: string; sr: string } | 'physical' | null;
  tools?: string | null;
  lacksFeature?: boolean;
  pci?: boolean;
  blocked?: string[];
  affinity?: string;
}

export class PoolBuilder {
  private hosts: Array<{ name: string; o: HostOpts }> = [];
  private srs: Array<{ name: string; shared: boolean; host?: string; type: string }> = [];
  private vms: Array<{ name: string; o: VmOpts }> = [];
  private ha = false;
  private rolling = false;
  private tasks: TaskInfo[] = [];

  constructor(private readonly name = 'pool-t') {
    this.sr('shared-nfs', { shared: true });
  }

  host(name: string, o: HostOpts = {}): this {
    this.hosts.push({ name, o });
    this.sr(`local-${name}`, { shared: false, host: name });
    return this;
  }
  sr(name: string, o: { shared: boolean; host?: string; type?: string }): this {
    this.srs.push({ name, shared: o.shared, host: o.host, type: o.type ?? (o.shared ? 'nfs' : 'lvm') });
    return this;
  }
  vm(name: string, o: VmOpts = {}): this {
    this.vms.push({ name, o });
    return this;
  }
  /** n running VMs of memGiB each on host, on shared storage */
  vmsOn(host: string, n: number, memGiB = 4, prefix = `${host}-vm`): this {
    for (let i = 1; i <= n; i++) this.vm(`${prefix}${String(i).padStart(2, '0')}`, { host, memGiB });
    return this;
  }
  withHa(on = true): this {
    this.ha = on;
    return this;
  }
  rollingUpgrade(on = true): this {
    this.rolling = on;
    return this;
  }
  task(name: string): this {
    this.tasks.push({ ref: `OpaqueRef:task-${this.tasks.length}`, name, status: 'pending', progress: 0.4 });
    return this;
  }

  build(takenAt = 1_764_000_000_000): PoolSnapshot {
    const hostRef = (n: string): string => `OpaqueRef:host-${n}`;
    const srRef = (n: string): string => `OpaqueRef:sr-${n}`;
    const vmRef = (n: string): string => `OpaqueRef:vm-${n}`;
    const masterName = this.hosts.find((h) => h.o.master)?.name ?? this.hosts[0]?.name;
    const srs: SrInfo[] = this.srs.map((s) => ({
      ref: srRef(s.name),
      uuid: `uuid-sr-${s.name}`,
      name: s.name,
      type: s.type,
      contentType: s.type === 'iso' ? 'iso' : 'user',
      shared: s.shared,
      attachedHosts: this.hosts
        .filter((h) => (s.shared || s.host === h.name) && !(h.o.detached ?? []).includes(s.name))
        .map((h) => hostRef(h.name))
        .sort(),
    }));
    const vms: VmInfo[] = this.vms.map(({ name, o }) => {
      const power = o.power ?? 'Running';
      const host = o.host === undefined ? this.hosts[0].name : o.host;
      const cd = o.cd ?? null;
      return {
        ref: vmRef(name),
        uuid: `uuid-vm-${name}`,
        name,
        powerState: power,
        residentOn: (power === 'Running' || power === 'Paused') && host ? hostRef(host) : null,
        affinity: o.affinity ? hostRef(o.affinity) : null,
        memoryNeeded: (o.memGiB ?? 4) * GiB,
        disks: (o.disks ?? ['shared-nfs']).map((sr, i) => ({ vbd: `OpaqueRef:vbd-${name}-${i}`, vdi: `OpaqueRef:vdi-${name}-${i}`, sr: srRef(sr) })),
        cds:
          cd === null
            ? [{ vbd: `OpaqueRef:cd-${name}`, empty: true, vdi: null, sr: null, isoName: null }]
            : cd === 'physical'
              ? [{ vbd: `OpaqueRef:cd-${name}`, empty: false, vdi: null, sr: null, isoName: null }]
              : [{ vbd: `OpaqueRef:cd-${name}`, empty: false, vdi: `OpaqueRef:iso-${cd.iso}`, sr: srRef(cd.sr), isoName: cd.iso }],
        toolsVersion: o.tools === undefined ? '7.1.0' : o.tools,
        toolsUpToDate: true,
        lacksFeatureMigrate: !!o.lacksFeature,
        hasPciPassthrough: !!o.pci,
        haPriority: '',
        blockedOperations: o.blocked ?? [],
      };
    });
    const hosts: HostInfo[] = this.hosts.map(({ name, o }) => {
      const ref = hostRef(name);
      const version = o.version ?? '7.1.1';
      const total = (o.memGiB ?? 64) * GiB;
      const used = vms.filter((v) => v.residentOn === ref).reduce((s, v) => s + v.memoryNeeded, 0);
      const attached = srs.filter((s) => s.attachedHosts.includes(ref)).map((s) => s.ref);
      return {
        ref,
        uuid: `uuid-host-${name}`,
        name,
        address: `10.0.0.${this.hosts.findIndex((h) => h.name === name) + 1}`,
        isMaster: name === masterName,
        live: o.live ?? true,
        enabled: o.enabled ?? true,
        version: { product: version, platform: PLATFORM[version] ?? '0.0.0', build: '', brand: 'XenServer' },
        apiVersion: { major: 2, minor: 6 },
        memoryTotal: total,
        memoryFree: Math.max(0, total - DOM0 - used),
        residentVms: vms.filter((v) => v.residentOn === ref).map((v) => v.ref).sort(),
        bootTime: 1_700_000_000,
        sanBoot: !!o.sanBoot,
        attachedSrs: attached.sort(),
        detachedSrs: (o.detached ?? []).map(srRef),
      };
    });
    const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return {
      takenAt,
      pool: { ref: 'OpaqueRef:pool', name: this.name, master: hostRef(masterName), haEnabled: this.ha, rollingUpgradeInProgress: this.rolling },
      hosts: hosts.sort(byName),
      vms: vms.sort(byName),
      srs: srs.sort(byName),
      tasks: this.tasks,
    };
  }
}

/** The three-host pool of the Slack sketch: xs-a1 (master), xs-a2, xs-a3 on 7.1.1. */
export function threeHostPool(): PoolBuilder {
  return new PoolBuilder('pool-a')
    .host('xs-a1', { master: true })
    .host('xs-a2')
    .host('xs-a3')
    .vmsOn('xs-a1', 4)
    .vmsOn('xs-a2', 4)
    .vmsOn('xs-a3', 3);
}
