/**
 * host.destroy (xe host-forget, R4.2) as real xapi does it (reference H1, issue 12.8): the host, its control domain and
 * its PBDs go; its local SR and VDIs stay, attached nowhere, so a VM whose disk was there cannot start again.
 */
import { startSimulator, type SimPool } from '../../src/sim';
import { failureOf, fastClock, login, ok, until } from './helpers';

let sim: SimPool;
afterEach(() => sim?.stop());

const byName = async (url: string, s: string, cls: string, name: string): Promise<[string, any]> => {
  const all = await ok(url, `${cls}.get_all_records`, [s]);
  const hit = Object.entries<any>(all).find(([, r]) => r.name_label === name);
  if (!hit) throw new Error(`no ${cls} ${name}`);
  return hit as [string, any];
};

test('host.destroy keeps the forgotten host\'s local SR and VDIs (no PBD); a VM whose disk was there fails VM_REQUIRES_SR', async () => {
  sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
  const url = sim.masterUrl;
  const s = await login(url);
  await ok(url, 'pool.disable_ha', [s]); // host.destroy refuses while HA is on (R2.4)
  const a2 = sim.hosts().find((h) => h.name === 'xs-a2')!;
  sim.control.powerOff('xs-a2');
  await until(() => sim.hosts().find((h) => h.name === 'xs-a2')!.power === 'off', 'xs-a2 off');
  const [srRef, srBefore] = await byName(url, s, 'SR', 'Local storage xs-a2');
  expect(srBefore.PBDs).toHaveLength(1);
  const [vmRef, vm] = await byName(url, s, 'VM', 'vm-licence-srv');
  expect(vm.power_state).toBe('Halted'); // it died with its host

  await ok(url, 'host.destroy', [s, a2.ref]);

  expect(await failureOf(url, 'host.get_record', [s, a2.ref])).toEqual(['HANDLE_INVALID', 'host', a2.ref]);
  const sr = await ok(url, 'SR.get_record', [s, srRef]);
  expect(sr.PBDs).toEqual([]);
  expect(sr.VDIs).toHaveLength(1);
  const vdi = sr.VDIs[0];
  expect(await ok(url, 'VDI.get_SR', [s, vdi])).toBe(srRef);
  const disk = Object.values<any>(await ok(url, 'VBD.get_all_records', [s])).find((b) => b.VM === vmRef && b.type === 'Disk');
  expect(disk).toMatchObject({ VDI: vdi, empty: false });
  const xsA1 = sim.hosts().find((h) => h.name === 'xs-a1')!.ref;
  expect(await failureOf(url, 'VM.start_on', [s, vmRef, xsA1, false, false])).toEqual(['VM_REQUIRES_SR', vmRef, srRef]);
  expect(Object.values<any>(await ok(url, 'PBD.get_all_records', [s])).some((p) => p.host === a2.ref)).toBe(false);
});
