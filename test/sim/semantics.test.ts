/** xapi's rules with real error codes: memory, storage, evacuation, HA, CD drives, VM lifecycle, plugin. */
import { startSimulator, SimPool } from '../../src/sim';
import { failureOf, fastClock, login, ok } from './helpers';

async function waitTask(url: string, s: string, task: string): Promise<any> {
  // event.from blocks until the task changes (tokens chain), instead of sleep-polling
  let token = '';
  for (let i = 0; i < 200; i++) {
    const rec = await ok(url, 'task.get_record', [s, task]);
    if (rec.status !== 'pending') return rec;
    const r = await ok(url, 'event.from', [s, [`task/${task}`], token, 5.0]);
    token = r.token;
  }
  throw new Error('task never finished');
}

const small = {
  pool: { name: 'small', password: 'pw' },
  hosts: [
    { name: 'h1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', memoryGiB: 16, dom0MemoryGiB: 2 },
    { name: 'h2', productVersion: '7.1.1', platformVersion: '2.1.1', memoryGiB: 16, dom0MemoryGiB: 2 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true }],
  vms: [
    { name: 'big-1', host: 'h1', memoryGiB: 12, disks: [{ sr: 'nfs' }] },
    { name: 'big-2', host: 'h2', memoryGiB: 8, disks: [{ sr: 'nfs' }] },
  ],
};

test('memory accounting: HOST_NOT_ENOUGH_FREE_MEMORY [needed, available] on migrate, [vm] on evacuate', async () => {
  const sim = await startSimulator(small, { clock: fastClock() });
  try {
    const url = sim.masterUrl;
    const s = await login(url, 'root', 'pw');
    const [h1, h2] = sim.hosts().map((h) => h.ref);
    const vms = await ok(url, 'VM.get_all_records', [s]);
    const big1 = Object.keys(vms).find((r) => vms[r].name_label === 'big-1')!;
    const free2 = Number(await ok(url, 'host.compute_free_memory', [s, h2]));
    const metrics = await ok(url, 'host.get_metrics', [s, h2]);
    expect(Number(await ok(url, 'host_metrics.get_memory_free', [s, metrics]))).toBe(free2);
    expect(free2).toBeLessThan(6 * 2 ** 30);
    const [code, needed, available] = await failureOf(url, 'VM.pool_migrate', [s, big1, h2, {}]);
    expect(code).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    expect(Number(needed)).toBeGreaterThan(12 * 2 ** 30);
    expect(Number(available)).toBe(free2);
    await ok(url, 'host.disable', [s, h1]);
    expect(await failureOf(url, 'host.evacuate', [s, h1])).toEqual(['HOST_NOT_ENOUGH_FREE_MEMORY', big1]);
    expect(sim.stats().migrations).toBe(0);
  } finally {
    await sim.stop();
  }
});

describe('sim semantics (pool-a)', () => {
  let sim: SimPool;
  let url: string;
  let s: string;
  const refs: Record<string, string> = {};
  const hostRef: Record<string, string> = {};
  beforeEach(async () => {
    sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
    url = sim.masterUrl;
    s = await login(url);
    for (const [ref, vm] of Object.entries<any>(await ok(url, 'VM.get_all_records', [s]))) refs[vm.name_label] = ref;
    for (const h of sim.hosts()) hostRef[h.name] = h.ref;
  });
  afterEach(() => sim.stop());

  test('host.disable refuses while HA is on; pool.disable_ha / enable_ha errors', async () => {
    expect(await failureOf(url, 'host.disable', [s, hostRef['xs-a1']])).toEqual(['HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN']);
    expect(await failureOf(url, 'pool.enable_ha', [s, [], {}])).toEqual(['HA_IS_ENABLED']);
    await ok(url, 'pool.disable_ha', [s]);
    expect(await failureOf(url, 'pool.disable_ha', [s])).toEqual(['HA_NOT_ENABLED']);
    expect(sim.inspect().pool.haEnabled).toBe(false);
    await ok(url, 'host.disable', [s, hostRef['xs-a1']]);
    expect(await ok(url, 'host.get_enabled', [s, hostRef['xs-a1']])).toBe(false);
  });

  test('evacuation blockers: local disk, ISO on a local SR, then a clean evacuation', async () => {
    await ok(url, 'pool.disable_ha', [s]);
    const blockers2 = await ok(url, 'host.get_vms_which_prevent_evacuation', [s, hostRef['xs-a2']]);
    expect(Object.keys(blockers2)).toEqual([refs['vm-licence-srv']]);
    expect(blockers2[refs['vm-licence-srv']][0]).toBe('VM_REQUIRES_SR');
    const blockers1 = await ok(url, 'host.get_vms_which_prevent_evacuation', [s, hostRef['xs-a1']]);
    expect(blockers1[refs['build-agent']][0]).toBe('VM_REQUIRES_SR');
    const [code, param] = await failureOf(url, 'host.assert_can_evacuate', [s, hostRef['xs-a1']]);
    expect(code).toBe('CANNOT_EVACUATE_HOST');
    expect(param).toMatch(new RegExp(`^VM_REQUIRES_SR,${refs['build-agent']},OpaqueRef:`));
    // a migration of the CD VM to another host fails the same way, with [vm, sr]
    const [c2, vm2, sr2] = await failureOf(url, 'VM.pool_migrate', [s, refs['build-agent'], hostRef['xs-a3'], { live: 'true' }]);
    expect([c2, vm2]).toEqual(['VM_REQUIRES_SR', refs['build-agent']]);
    expect(await ok(url, 'SR.get_type', [s, sr2])).toBe('iso');
    // eject the CD (R2.3), then the host evacuates
    const vbds: string[] = await ok(url, 'VM.get_VBDs', [s, refs['build-agent']]);
    const types = await Promise.all(vbds.map((b) => ok(url, 'VBD.get_type', [s, b])));
    const cd = vbds[types.indexOf('CD')];
    const disk = vbds[types.indexOf('Disk')];
    expect(await failureOf(url, 'VBD.eject', [s, disk])).toEqual(['VBD_NOT_REMOVABLE_MEDIA', disk]);
    await ok(url, 'VBD.eject', [s, cd]);
    expect(await failureOf(url, 'VBD.eject', [s, cd])).toEqual(['VBD_IS_EMPTY', cd]);
    await ok(url, 'host.disable', [s, hostRef['xs-a1']]);
    const task = await ok(url, 'Async.host.evacuate', [s, hostRef['xs-a1']]);
    expect(task).toMatch(/^OpaqueRef:/);
    const rec = await waitTask(url, s, task);
    expect(rec.status).toBe('success');
    expect(rec.result).toBe('<value></value>');
    expect(rec.name_label).toBe('Async.host.evacuate');
    const resident: string[] = await ok(url, 'host.get_resident_VMs', [s, hostRef['xs-a1']]);
    expect(resident).toHaveLength(1); // dom0 only
    expect(sim.stats().migrations).toBe(4);
    // evacuation never targets a disabled host: with xs-a1 and xs-a3 disabled, xs-a2's VMs have nowhere to go
    await ok(url, 'host.disable', [s, hostRef['xs-a3']]);
    const b = await ok(url, 'host.get_vms_which_prevent_evacuation', [s, hostRef['xs-a2']]);
    expect(b[refs['app-01']]).toEqual(['NO_HOSTS_AVAILABLE', refs['app-01']]);
    await ok(url, 'task.destroy', [s, task]);
    expect(await failureOf(url, 'task.get_status', [s, task])).toEqual(['HANDLE_INVALID', 'task', task]);
  });

  test('VM lifecycle: bad power states in lower case, suspend/resume, shutdown/start', async () => {
    const vm = refs['web-01'];
    expect(await failureOf(url, 'VM.start', [s, vm, false, false])).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    expect(await failureOf(url, 'VM.resume', [s, vm, false, false])).toEqual(['VM_BAD_POWER_STATE', vm, 'suspended', 'running']);
    await ok(url, 'VM.suspend', [s, vm]);
    expect(await ok(url, 'VM.get_power_state', [s, vm])).toBe('Suspended');
    expect(await ok(url, 'VM.get_resident_on', [s, vm])).toBe('OpaqueRef:NULL');
    expect(await failureOf(url, 'VM.clean_shutdown', [s, vm])).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'suspended']);
    await ok(url, 'VM.resume_on', [s, vm, hostRef['xs-a2'], false, false]);
    expect(await ok(url, 'VM.get_resident_on', [s, vm])).toBe(hostRef['xs-a2']);
    await ok(url, 'VM.clean_shutdown', [s, vm]);
    expect(await ok(url, 'VM.get_power_state', [s, vm])).toBe('Halted');
    await ok(url, 'VM.start_on', [s, vm, hostRef['xs-a3'], false, false]);
    expect(sim.inspect().vms.find((v) => v.name === 'web-01')).toMatchObject({ powerState: 'Running', residentOn: 'xs-a3' });
    const dom0 = await ok(url, 'host.get_control_domain', [s, hostRef['xs-a1']]);
    expect((await failureOf(url, 'VM.clean_shutdown', [s, dom0]))[0]).toBe('OPERATION_NOT_ALLOWED');
  });

  test('the prepare_host_upgrade.py plugin and its errors', async () => {
    const h = hostRef['xs-a2'];
    const good = 'http://repo.example.com/xenserver/7.6/';
    expect(await ok(url, 'host.call_plugin', [s, h, 'prepare_host_upgrade.py', 'testUrl', { url: good }])).toBe('true');
    expect(await failureOf(url, 'host.call_plugin', [s, h, 'prepare_host_upgrade.py', 'testUrl', {}])).toEqual(['XENAPI_PLUGIN_FAILURE', 'testUrl', 'Exception', 'MISSING_URL']);
    expect(await failureOf(url, 'host.call_plugin', [s, h, 'prepare_host_upgrade.py', 'testUrl', { url: 'http://repo.example.com/xenserver/broken/' }])).toEqual([
      'XENAPI_PLUGIN_FAILURE',
      'testUrl',
      'Exception',
      'INVALID_URL',
    ]);
    expect(await failureOf(url, 'host.call_plugin', [s, h, 'nope.py', 'main', {}])).toEqual(['XENAPI_MISSING_PLUGIN', 'nope.py']);
    expect(await failureOf(url, 'host.call_plugin', [s, h, 'prepare_host_upgrade.py', 'frob', {}])).toEqual(['UNKNOWN_XENAPI_PLUGIN_FUNCTION', 'frob']);
    const v = JSON.parse(await ok(url, 'host.call_plugin', [s, h, 'prepare_host_upgrade.py', 'getVersion', { url: good }]));
    expect(v['product-version']).toBe('7.6.0');
  });

  test('host.reboot needs a disabled host; host.destroy refuses a live host', async () => {
    await ok(url, 'pool.disable_ha', [s]);
    expect(await failureOf(url, 'host.reboot', [s, hostRef['xs-a3']])).toEqual(['HOST_NOT_DISABLED']);
    expect(await failureOf(url, 'host.destroy', [s, hostRef['xs-a3']])).toEqual(['HOST_IS_LIVE', hostRef['xs-a3']]);
  });

  test('event.from: "" gives every object as add; a token blocks until a change; EVENT_FROM_TOKEN_PARSE_FAILURE', async () => {
    const all = await ok(url, 'event.from', [s, ['host', 'vm'], '', 1.0]);
    expect(all.token).toMatch(/^\d{20},\d{20}$/);
    expect(all.events.every((e: any) => e.operation === 'add' && ['host', 'vm'].includes(e.class))).toBe(true);
    expect(all.events.filter((e: any) => e.class === 'host')).toHaveLength(3);
    expect(all.valid_ref_counts).toEqual({ host: 3, vm: 15 });
    // nothing changed: returns empty after the timeout (clock time)
    const none = await ok(url, 'event.from', [s, ['host'], all.token, 2.0]);
    expect(none.events).toEqual([]);
    const pending = ok(url, 'event.from', [s, ['vm'], none.token, 300000.0]); // ~3 s real: the change comes first
    await ok(url, 'VM.add_to_other_config', [s, refs['web-01'], 'k', 'v']);
    const got = await pending;
    expect(got.events).toHaveLength(1);
    expect(got.events[0]).toMatchObject({ class: 'vm', operation: 'mod', ref: refs['web-01'] });
    expect(got.events[0].snapshot.other_config.k).toBe('v');
    expect(await failureOf(url, 'event.from', [s, ['vm'], 'garbage', 1.0])).toEqual(['EVENT_FROM_TOKEN_PARSE_FAILURE', 'garbage']);
    const tok = await ok(url, 'event.inject', [s, 'pool', (await ok(url, 'pool.get_all', [s]))[0]]);
    expect(tok).toMatch(/^\d{20},\d{20}$/);
  });
});
