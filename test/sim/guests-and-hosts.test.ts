/**
 * What the simulator shows of hosts and guests must agree with xapi and with the inventory converter that reads it:
 * boot from SAN (R2.7 marker), and HVM guests without PV drivers (VM_LACKS_FEATURE, R3.7).
 */
import { readSnapshot } from '../../src/inventory';
import { parseAllRecords, type RecordClass } from '../../src/xenapi/records';
import { parseScenario, ScenarioInput, startSimulator } from '../../src/sim';
import { failureOf, fastClock, login, ok } from './helpers';

const scenario: ScenarioInput = {
  pool: { name: 'guests', password: 'pw' },
  hosts: [
    { name: 'h1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', memoryGiB: 64, sanBoot: true },
    { name: 'h2', productVersion: '7.1.1', platformVersion: '2.1.1', memoryGiB: 64, multipathing: true },
    { name: 'h3', productVersion: '7.1.1', platformVersion: '2.1.1', memoryGiB: 64 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true }],
  vms: [
    { name: 'pv', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }] },
    { name: 'no-tools', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }], tools: null },
    { name: 'no-suspend', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }], tools: null, lacksFeature: true },
    { name: 'no-shutdown', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }], lacksFeature: ['shutdown'] },
    { name: 'blocked', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }], tools: null },
    { name: 'off', host: 'h1', power: 'Halted', memoryGiB: 2, disks: [{ sr: 'nfs' }], tools: null },
  ],
};

/** raw XML-RPC records through the client's record parser, the boundary readSnapshot expects */
const source = (url: string, s: string) => ({
  getAllRecords: async <C extends RecordClass>(cls: C) => parseAllRecords(cls, await ok(url, `${cls}.get_all_records`, [s])),
});

test('sanBoot writes no XenAPI marker (xapi has no field for it, R2.7); ordinary multipathing is visible', async () => {
  const sim = await startSimulator(scenario, { clock: fastClock() });
  try {
    const s = await login(sim.masterUrl, 'root', 'pw');
    const byName = Object.fromEntries(sim.hosts().map((h) => [h.name, h.ref]));
    const oc = async (h: string) => ok(sim.masterUrl, 'host.get_other_config', [s, byName[h]]);
    expect(await oc('h1')).not.toHaveProperty('boot_from_san');
    expect(await oc('h1')).not.toHaveProperty('multipathing');
    expect(await oc('h2')).toMatchObject({ multipathing: 'true', multipathhandle: 'dmp' });
    expect(await oc('h2')).not.toHaveProperty('boot_from_san');
    expect(await ok(sim.masterUrl, 'host.get_multipathing', [s, byName['h2']])).toBe(true);
    expect(await ok(sim.masterUrl, 'host.get_multipathing', [s, byName['h1']])).toBe(false);
    // nothing in the pool says it: only the pools file's sanBootHosts can
    const snap = await readSnapshot(source(sim.masterUrl, s));
    expect(Object.fromEntries(snap.hosts.map((h) => [h.name, h.sanBoot]))).toEqual({ h1: false, h2: false, h3: false });
  } finally {
    await sim.stop();
  }
});

test('HVM guests without PV drivers: VM_LACKS_FEATURE [vm] on migrate/suspend/clean shutdown, like xapi; the converter agrees', async () => {
  const sim = await startSimulator(scenario, { clock: fastClock() });
  try {
    const url = sim.masterUrl;
    const s = await login(url, 'root', 'pw');
    const vms = await ok(url, 'VM.get_all_records', [s]);
    const vm = (name: string) => Object.keys(vms).find((r) => vms[r].name_label === name)!;
    const [, h2] = sim.hosts().map((h) => h.ref);
    const gm = async (name: string) => ok(url, 'VM_guest_metrics.get_record', [s, vms[vm(name)].guest_metrics]);

    // records look like xapi's: no tools = no guest metrics; a guest lacking a feature has no PV drivers, and simply
    // does not report the flag (rather than reporting it as "0")
    expect(vms[vm('no-tools')].guest_metrics).toBe('OpaqueRef:NULL');
    const noSuspend = await gm('no-suspend');
    expect(noSuspend.PV_drivers_version).toEqual({});
    expect(noSuspend.PV_drivers_detected).toBe(false);
    expect(noSuspend.other).not.toHaveProperty('feature-suspend');
    expect(noSuspend.other['feature-shutdown']).toBe('1');
    expect((await gm('no-shutdown')).other).toMatchObject({ 'feature-suspend': '1' });
    expect((await gm('no-shutdown')).other).not.toHaveProperty('feature-shutdown');
    expect((await gm('pv')).PV_drivers_version.major).toBe('7');
    expect(await ok(url, 'VM_metrics.get_hvm', [s, vms[vm('no-tools')].metrics])).toBe(true);

    for (const name of ['no-tools', 'no-suspend']) {
      expect(await failureOf(url, 'VM.pool_migrate', [s, vm(name), h2, { live: 'true' }])).toEqual(['VM_LACKS_FEATURE', vm(name)]);
      expect(await failureOf(url, 'VM.suspend', [s, vm(name)])).toEqual(['VM_LACKS_FEATURE', vm(name)]);
      expect(vms[vm(name)].allowed_operations).not.toContain('pool_migrate');
      expect(vms[vm(name)].allowed_operations).not.toContain('suspend');
    }
    // no agent at all: no feature-shutdown/poweroff either; VM.shutdown still works (it falls back to hard)
    expect(await failureOf(url, 'VM.clean_shutdown', [s, vm('no-tools')])).toEqual(['VM_LACKS_FEATURE', vm('no-tools')]);
    expect(await failureOf(url, 'VM.clean_shutdown', [s, vm('no-shutdown')])).toEqual(['VM_LACKS_FEATURE', vm('no-shutdown')]);
    // earlier checks win (xapi_vm_lifecycle order): blocked operation, then power state
    await ok(url, 'VM.add_to_blocked_operations', [s, vm('blocked'), 'pool_migrate', 'maintenance']);
    expect(await failureOf(url, 'VM.pool_migrate', [s, vm('blocked'), h2, {}])).toEqual(['OPERATION_BLOCKED', vm('blocked'), 'maintenance']);
    expect(await failureOf(url, 'VM.suspend', [s, vm('blocked')])).toEqual(['VM_LACKS_FEATURE', vm('blocked')]);
    expect((await failureOf(url, 'VM.suspend', [s, vm('off')]))[0]).toBe('VM_BAD_POWER_STATE');
    // the host cannot be evacuated because of them
    const prevent = await ok(url, 'host.get_vms_which_prevent_evacuation', [s, sim.hosts()[0].ref]);
    expect(Object.keys(prevent).sort()).toEqual([vm('blocked'), vm('no-suspend'), vm('no-tools')].sort());
    expect(prevent[vm('no-tools')]).toEqual(['VM_LACKS_FEATURE', vm('no-tools')]);

    // guests with drivers, or with feature-suspend, move
    await ok(url, 'VM.pool_migrate', [s, vm('pv'), h2, { live: 'true' }]);
    await ok(url, 'VM.pool_migrate', [s, vm('no-shutdown'), h2, { live: 'true' }]);
    await ok(url, 'VM.shutdown', [s, vm('no-tools')]);
    expect(await ok(url, 'VM.get_power_state', [s, vm('no-tools')])).toBe('Halted');

    // the inventory converter sees the same guests as unable to migrate
    const snap = await readSnapshot(source(url, s));
    const lacks = Object.fromEntries(snap.vms.map((v) => [v.name, [v.lacksFeatureMigrate, v.toolsVersion]]));
    expect(lacks).toMatchObject({
      pv: [false, '7.1.1'],
      'no-tools': [true, null],
      'no-suspend': [true, null],
      'no-shutdown': [false, null],
      blocked: [true, null],
    });
  } finally {
    await sim.stop();
  }
});

test('a VM with PV drivers cannot lack a feature: the scenario says which field to change', () => {
  expect(() =>
    parseScenario({ ...scenario, vms: [{ name: 'x', host: 'h1', tools: '7.1.0', lacksFeature: true }] }),
  ).toThrow(/vms\[0\]\.lacksFeature: a VM with PV drivers \(tools\) has every feature in xapi; set tools: null/);
});
