/** Which VMs depend on one host's local storage, and which lost their disks with a forgotten host (R2.5, R4.2). */
import { lostWithForgottenHost, storageSnapshot, vmsOnLocalStorageOf } from '../../src/runner/local-storage';

const vm = (name: string, power = 'Halted', extra: Record<string, unknown> = {}) => ({ name_label: name, power_state: power, ...extra });

/** h1, h2; shared NFS on both; a local SR per host; an orphan local SR (its host was forgotten: no PBD left) */
function raw() {
  return {
    VM: {
      'vm:web': vm('web', 'Running'),
      'vm:lic': vm('licence-srv', 'Suspended'),
      'vm:db': vm('db'),
      'vm:gone': vm('old-build'),
      'vm:mixed': vm('mixed'),
      'vm:tpl': vm('template', 'Halted', { is_a_template: true }),
      'vm:dom0': vm('Control domain', 'Running', { is_control_domain: true }),
    },
    VBD: {
      b1: { VM: 'vm:web', VDI: 'vdi:web', type: 'Disk', empty: false },
      b2: { VM: 'vm:lic', VDI: 'vdi:lic', type: 'Disk', empty: false },
      b3: { VM: 'vm:lic', VDI: 'vdi:iso', type: 'CD', empty: false },
      b4: { VM: 'vm:db', VDI: 'vdi:db', type: 'Disk', empty: false },
      b5: { VM: 'vm:gone', VDI: 'vdi:gone', type: 'Disk', empty: false },
      b6: { VM: 'vm:mixed', VDI: 'vdi:m1', type: 'Disk', empty: false },
      b7: { VM: 'vm:mixed', VDI: 'vdi:m2', type: 'Disk', empty: false },
      b8: { VM: 'vm:tpl', VDI: 'vdi:tpl', type: 'Disk', empty: false },
      b9: { VM: 'vm:db', VDI: 'OpaqueRef:NULL', type: 'Disk', empty: true },
    },
    VDI: {
      'vdi:web': { SR: 'sr:nfs' },
      'vdi:lic': { SR: 'sr:local-h2' },
      'vdi:iso': { SR: 'sr:iso-h2' },
      'vdi:db': { SR: 'sr:local-h1' },
      'vdi:gone': { SR: 'sr:orphan' },
      'vdi:m1': { SR: 'sr:nfs' },
      'vdi:m2': { SR: 'sr:local-h2' },
      'vdi:tpl': { SR: 'sr:local-h2' },
    },
    SR: {
      'sr:nfs': { name_label: 'nfs-shared', shared: true, PBDs: ['p1', 'p2'] },
      'sr:local-h1': { name_label: 'Local storage h1', shared: false, PBDs: ['p3'] },
      'sr:local-h2': { name_label: 'Local storage h2', shared: false, PBDs: ['p4'] },
      'sr:iso-h2': { name_label: 'ISO library h2', shared: false, PBDs: ['p5'] },
      'sr:orphan': { name_label: 'Local storage h9', shared: false, PBDs: [] },
    },
    PBD: {
      p1: { host: 'h1', SR: 'sr:nfs' },
      p2: { host: 'h2', SR: 'sr:nfs' },
      p3: { host: 'h1', SR: 'sr:local-h1' },
      p4: { host: 'h2', SR: 'sr:local-h2' },
      p5: { host: 'h2', SR: 'sr:iso-h2' },
    },
  };
}

describe('local storage', () => {
  it('VMs with a disk on a host\'s local SR (a CD on its ISO library does not count; templates and dom0 are no guests)', () => {
    const s = storageSnapshot(raw());
    expect(vmsOnLocalStorageOf(s, 'h2').map((v) => [v.name, v.srs])).toEqual([
      ['licence-srv', ['Local storage h2']],
      ['mixed', ['Local storage h2']],
    ]);
    expect(vmsOnLocalStorageOf(s, 'h1').map((v) => v.name)).toEqual(['db']);
  });

  it('VMs whose disk is on a local SR that no host has any more are lost with the forgotten host', () => {
    expect(lostWithForgottenHost(storageSnapshot(raw())).map((v) => [v.name, v.powerState, v.srs])).toEqual([['old-build', 'Halted', ['Local storage h9']]]);
  });

  it('after host.destroy of h2 (its PBDs gone, its local SR kept): its VMs are lost, shared-storage VMs are not', () => {
    const r = raw();
    delete (r.PBD as Record<string, unknown>).p4;
    delete (r.PBD as Record<string, unknown>).p5;
    delete (r.PBD as Record<string, unknown>).p2;
    expect(lostWithForgottenHost(storageSnapshot(r)).map((v) => v.name)).toEqual(['licence-srv', 'mixed', 'old-build']);
  });

  it('a record of an unexpected shape is an error naming the class and field', () => {
    const r = raw();
    (r.VBD as Record<string, unknown>).bad = { VDI: 'vdi:web' };
    expect(() => storageSnapshot(r)).toThrow(/^VBD bad: field VM: Required/);
  });
});
