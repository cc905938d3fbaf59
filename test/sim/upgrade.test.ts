/** Upgrades driven only through XenAPI calls: automatic, manual, update ISO, faults, master down. */
import { startSimulator, SimPool, ScenarioInput } from '../../src/sim';
import { failureOf, fastClock, login, ok, rawPost, until, xcall } from './helpers';

const REPO = 'http://repo.example.com/7.6/';
const scenario = (extra: Partial<ScenarioInput> = {}): ScenarioInput => ({
  pool: { name: 'up', password: 'pw' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's3', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
  ],
  srs: [
    { name: 'nfs', type: 'nfs', shared: true, isos: [] },
    { name: 'isos', type: 'iso', shared: true, isos: ['tools.iso'] },
  ],
  vms: [
    { name: 'a', host: 'm1', memoryGiB: 4, disks: [{ sr: 'nfs' }] },
    { name: 'b', host: 's2', memoryGiB: 4, disks: [{ sr: 'nfs' }] },
    { name: 'cd-vm', host: 's3', memoryGiB: 2, disks: [{ sr: 'nfs' }], cd: { iso: 'tools.iso' } },
  ],
  repositories: [{ url: REPO, version: '7.6.0', platform: '2.7.0', build: 'lima' }],
  // At scale 20000 the install lasts ~1 s and xapi start ~0.1 s of real time: wide enough windows to observe each phase.
  timings: { installSeconds: 20000, xapiStartSeconds: 2000, bootSeconds: 200 },
  ...extra,
});

const pw = (sim: SimPool) => login(sim.masterUrl, 'root', 'pw');
const host = (sim: SimPool, name: string) => sim.hosts().find((h) => h.name === name)!;

/** XenCenter's wait (vendor-rpu-tools §4): poll other_config.boot_time through the master until it changes. */
async function waitBootTimeChange(sim: SimPool, s: string, ref: string, before: string): Promise<void> {
  await until(async () => {
    const r = await xcall(sim.masterUrl, 'host.get_other_config', [s, ref]);
    return r.Status === 'Success' && r.Value.boot_time !== before;
  }, 'boot_time to change');
}

async function enableWithRetry(sim: SimPool, s: string, ref: string): Promise<string[]> {
  const seen: string[] = [];
  await until(async () => {
    const r = await xcall(sim.masterUrl, 'host.enable', [s, ref]);
    if (r.Status === 'Failure') seen.push(r.ErrorDescription[0]);
    return r.Status === 'Success';
  }, 'host.enable to succeed');
  return seen;
}

test('automatic upgrade of a slave: plugin main, reboot, install, back on 7.6 and enabled', async () => {
  const sim = await startSimulator(scenario(), { clock: fastClock(20000) });
  try {
    const s = await pw(sim);
    const s2 = host(sim, 's2').ref;
    const before = (await ok(sim.masterUrl, 'host.get_other_config', [s, s2])).boot_time;
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    const t = await ok(sim.masterUrl, 'Async.host.evacuate', [s, s2]);
    await until(async () => (await ok(sim.masterUrl, 'task.get_status', [s, t])) !== 'pending', 'evacuate');
    expect(await ok(sim.masterUrl, 'task.get_status', [s, t])).toBe('success');
    expect(await ok(sim.masterUrl, 'host.call_plugin', [s, s2, 'prepare_host_upgrade.py', 'main', { url: REPO }])).toBe('true');
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    // the master marks it dead at once; enable is refused until it has rebooted
    const metrics = await ok(sim.masterUrl, 'host.get_metrics', [s, s2]);
    expect(await ok(sim.masterUrl, 'host_metrics.get_live', [s, metrics])).toBe(false);
    await until(() => host(sim, 's2').power === 'installing', 'installing');
    expect(await failureOf(sim.masterUrl, 'host.enable', [s, s2])).toEqual(['HOST_DISABLED_UNTIL_REBOOT']);
    expect(await failureOf(sim.masterUrl, 'host.reboot', [s, s2])).toEqual(['OTHER_OPERATION_IN_PROGRESS', 'host', s2, 'reboot']);
    await expect(rawPost(host(sim, 's2').url, '<x/>')).rejects.toThrow(/ECONNREFUSED/); // refused while off
    await waitBootTimeChange(sim, s, s2, before);
    await enableWithRetry(sim, s, s2);
    const rec = await ok(sim.masterUrl, 'host.get_record', [s, s2]);
    expect(rec.software_version.product_version).toBe('7.6.0');
    expect(rec.software_version.platform_version).toBe('2.7.0');
    expect(rec.software_version.build_number).toBe('lima');
    expect(rec.API_version_minor).toBe('11');
    expect(Number(rec.other_config.agent_start_time)).toBeGreaterThanOrEqual(Number(rec.other_config.boot_time));
    expect(rec.enabled).toBe(true);
    // rolling upgrade mode: flag set, no migration back to the older hosts, no HA
    const pool = (await ok(sim.masterUrl, 'pool.get_all', [s]))[0];
    expect((await ok(sim.masterUrl, 'pool.get_other_config', [s, pool])).rolling_upgrade_in_progress).toBe('true');
    expect(sim.inspect().pool.rollingUpgrade).toBe(true);
    const vms = await ok(sim.masterUrl, 'VM.get_all_records', [s]);
    const b = Object.keys(vms).find((r) => vms[r].name_label === 'b')!;
    await ok(sim.masterUrl, 'VM.pool_migrate', [s, b, s2, { live: 'true' }]);
    expect(await failureOf(sim.masterUrl, 'VM.pool_migrate', [s, b, host(sim, 's3').ref, {}])).toEqual(['NOT_SUPPORTED_DURING_UPGRADE']);
    expect(await failureOf(sim.masterUrl, 'pool.enable_ha', [s, [], {}])).toEqual(['NOT_SUPPORTED_DURING_UPGRADE']);
    expect(sim.stats().shutdowns).toEqual({ s2: 1 });
    expect(sim.stats().maxHostsDownAtOnce).toBe(1);
  } finally {
    await sim.stop();
  }
});

test('master upgrade: sessions die, slaves keep redirecting, connections refused until xapi listens, then logins served, back on 7.6', async () => {
  const sim = await startSimulator(scenario(), { clock: fastClock(20000) });
  try {
    let s = await pw(sim);
    const m1 = host(sim, 'm1');
    const slave = host(sim, 's3');
    await ok(sim.masterUrl, 'host.disable', [s, m1.ref]);
    await ok(sim.masterUrl, 'host.evacuate', [s, m1.ref]);
    await ok(sim.masterUrl, 'host.call_plugin', [s, m1.ref, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
    await ok(sim.masterUrl, 'host.reboot', [s, m1.ref]);
    await until(() => host(sim, 'm1').power !== 'on', 'master down');
    // master down: refused; slaves still answer HOST_IS_SLAVE with the master's address
    await expect(rawPost(m1.url, '<x/>')).rejects.toThrow(/ECONNREFUSED/);
    expect(await failureOf(slave.url, 'session.login_with_password', ['root', 'pw'])).toEqual(['HOST_IS_SLAVE', m1.address]);
    expect(await failureOf(slave.url, 'host.get_all', [s])).toEqual(['HOST_IS_SLAVE', m1.address]);
    await until(() => host(sim, 'm1').power === 'booting', 'booting');
    const seen = new Set<string>();
    await until(async () => {
      try {
        const r = await xcall(m1.url, 'session.login_with_password', ['root', 'pw']);
        if (r.Status === 'Failure') seen.add(r.ErrorDescription[0]);
        return r.Status === 'Success';
      } catch {
        return false;
      }
    }, 'master login', 4000);
    // a starting master refuses connections until its management interface is up, then serves logins (reference D1)
    expect([...seen]).toEqual([]);
    expect(await failureOf(m1.url, 'pool.get_all', [s])).toEqual(['SESSION_INVALID', s]);
    s = await pw(sim);
    expect((await ok(m1.url, 'host.get_software_version', [s, m1.ref])).product_version).toBe('7.6.0');
    // enabled once its start-up completes
    await until(async () => (await ok(m1.url, 'host.get_enabled', [s, m1.ref])) === true, 'master enabled');
    expect(sim.inspect().pool.rollingUpgrade).toBe(true);
  } finally {
    await sim.stop();
  }
});

test('manual upgrade: shutdown, stays off until the operator completes the install', async () => {
  const sim = await startSimulator(scenario(), { clock: fastClock(20000) });
  try {
    const s = await pw(sim);
    const s3 = host(sim, 's3').ref;
    await ok(sim.masterUrl, 'host.disable', [s, s3]);
    // cd-vm cannot resume on an upgraded host if suspended with its CD in (R2.3)
    const vms = await ok(sim.masterUrl, 'VM.get_all_records', [s]);
    const cdVm = Object.keys(vms).find((r) => vms[r].name_label === 'cd-vm')!;
    await ok(sim.masterUrl, 'VM.suspend', [s, cdVm]);
    await ok(sim.masterUrl, 'host.shutdown', [s, s3]);
    await until(() => host(sim, 's3').power === 'off', 'off');
    expect(() => sim.control.completeManualInstall('m1')).toThrow(/must be shut down/);
    sim.control.completeManualInstall('s3');
    await until(() => host(sim, 's3').power === 'on', 'back', 4000);
    const rec = await ok(sim.masterUrl, 'host.get_record', [s, s3]);
    expect(rec.software_version.product_version).toBe('7.6.0');
    expect(rec.enabled).toBe(true);
    const [code, msg] = await failureOf(sim.masterUrl, 'VM.resume_on', [s, cdVm, s3, false, false]);
    expect(code).toBe('INTERNAL_ERROR');
    expect(msg).toMatch(/CD/);
    // powerOn without the installer keeps the version
    await ok(sim.masterUrl, 'host.disable', [s, host(sim, 's2').ref]);
    await ok(sim.masterUrl, 'host.shutdown', [s, host(sim, 's2').ref]);
    await until(() => host(sim, 's2').power === 'off', 's2 off');
    sim.control.powerOn('s2');
    await until(() => host(sim, 's2').power === 'on', 's2 on', 4000);
    expect(host(sim, 's2').productVersion).toBe('7.1.1');
    expect(sim.stats().shutdowns).toEqual({ s3: 1, s2: 1 });
    expect(sim.stats().maxHostsDownAtOnce).toBe(1);
  } finally {
    await sim.stop();
  }
});

test('failed install: a slave never returns (forget + reinstall + join); the master returns on its old version', async () => {
  const sim = await startSimulator(
    scenario({
      faults: [
        { kind: 'install-fails', host: 's2' },
        { kind: 'install-fails', host: 'm1' },
      ],
    }),
    { clock: fastClock(20000) },
  );
  try {
    const s = await pw(sim);
    const s2 = host(sim, 's2').ref;
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    await ok(sim.masterUrl, 'host.evacuate', [s, s2]);
    await ok(sim.masterUrl, 'host.call_plugin', [s, s2, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    await until(() => host(sim, 's2').power === 'installing', 'installing');
    await until(() => host(sim, 's2').power === 'off', 'install failed');
    expect(() => sim.control.powerOn('s2')).toThrow(/reinstallFresh/);
    expect(await ok(sim.masterUrl, 'host_metrics.get_live', [s, await ok(sim.masterUrl, 'host.get_metrics', [s, s2])])).toBe(false);
    // R4.2 in the operator's order: reinstall the failed machine, then forget its stale record, then join.
    // A running member or the master cannot be reinstalled.
    expect(() => sim.control.reinstallFresh('s3')).toThrow(/running as a member of the pool/);
    expect(() => sim.control.reinstallFresh('m1')).toThrow(/master.*R4\.1/);
    const fresh = sim.control.reinstallFresh('s2', { version: '7.6.0' });
    await fresh.ready;
    expect(fresh.address).toBe(host(sim, 's2').address);
    expect(host(sim, 's2')).toMatchObject({ inPool: false, power: 'on', productVersion: '7.6.0' });
    // the pool still holds the stale record, not live, until host.destroy on the master
    expect(await ok(sim.masterUrl, 'host.get_name_label', [s, s2])).toBe('s2');
    expect(await ok(sim.masterUrl, 'host_metrics.get_live', [s, await ok(sim.masterUrl, 'host.get_metrics', [s, s2])])).toBe(false);
    expect((await ok(sim.masterUrl, 'host.get_software_version', [s, s2])).product_version).toBe('7.1.1');
    expect(await failureOf(sim.masterUrl, 'host.enable', [s, s2])).toEqual(['HOST_OFFLINE', s2]);
    const fs = await ok(fresh.url, 'session.login_with_password', ['root', 'pw']);
    // the fresh host is its own master, with one host on 7.6
    const freshHosts = await ok(fresh.url, 'host.get_all_records', [fs]);
    expect(Object.values<any>(freshHosts).map((h) => [h.name_label, h.software_version.product_version])).toEqual([['s2', '7.6.0']]);
    await ok(sim.masterUrl, 'host.destroy', [s, s2]);
    expect(await failureOf(sim.masterUrl, 'host.get_record', [s, s2])).toEqual(['HANDLE_INVALID', 'host', s2]);
    expect(host(sim, 's2').power).toBe('on'); // forgetting the record does not touch the reinstalled machine
    // a 7.6 host cannot join a 7.1 pool
    const [code] = await failureOf(fresh.url, 'pool.join', [fs, host(sim, 'm1').address, 'root', 'pw']);
    expect(code).toBe('POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION');
    await ok(fresh.url, 'session.logout', [fs]);
    const again = sim.control.reinstallFresh('s2', { version: '7.6.0' });
    await again.ready;
    void again;
    // the master's failed install comes back on 7.1.1
    const m1 = host(sim, 'm1');
    await ok(sim.masterUrl, 'host.disable', [s, m1.ref]);
    await ok(sim.masterUrl, 'host.evacuate', [s, m1.ref]);
    await ok(sim.masterUrl, 'host.call_plugin', [s, m1.ref, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
    await ok(sim.masterUrl, 'host.reboot', [s, m1.ref]);
    await until(() => host(sim, 'm1').power === 'installing', 'master installing');
    await until(() => host(sim, 'm1').power === 'on', 'master back', 4000);
    expect(host(sim, 'm1').productVersion).toBe('7.1.1');
  } finally {
    await sim.stop();
  }
});

test('a fresh host on the pool version joins as a slave', async () => {
  const sim = await startSimulator(scenario({ hosts: [
    { name: 'm1', master: true, productVersion: '7.6.0', platformVersion: '2.7.0', build: 'lima', memoryGiB: 64 },
    { name: 's2', productVersion: '7.6.0', platformVersion: '2.7.0', build: 'lima', memoryGiB: 64 },
  ], vms: [], faults: [{ kind: 'install-hangs', host: 's2' }] }), { clock: fastClock(20000) });
  try {
    const s = await pw(sim);
    const s2 = host(sim, 's2').ref;
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    await ok(sim.masterUrl, 'host.call_plugin', [s, s2, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    await until(() => host(sim, 's2').power === 'installing', 'installing');
    // the install hangs: the operator reinstalls the machine while the pool still lists it (R4.2)
    const fresh = sim.control.reinstallFresh('s2');
    await fresh.ready;
    expect(await failureOf(sim.masterUrl, 'host.destroy', [s, sim.hosts()[0].ref])).toEqual(['HOST_IS_LIVE', sim.hosts()[0].ref]);
    await ok(sim.masterUrl, 'host.destroy', [s, s2]);
    const fs = await ok(fresh.url, 'session.login_with_password', ['root', 'pw']);
    await ok(fresh.url, 'pool.join', [fs, host(sim, 'm1').address, 'root', 'pw']);
    await until(async () => (await xcall(fresh.url, 'session.login_with_password', ['root', 'pw'])).Status === 'Failure', 'slave');
    await until(() => host(sim, 's2').live, 'joined host live', 4000);
    const hosts = await ok(sim.masterUrl, 'host.get_all_records', [s]);
    expect(Object.values<any>(hosts).map((h) => h.name_label).sort()).toEqual(['m1', 's2']);
    expect(await failureOf(fresh.url, 'session.login_with_password', ['root', 'pw'])).toEqual(['HOST_IS_SLAVE', host(sim, 'm1').address]);
  } finally {
    await sim.stop();
  }
});

test('reinstalling a host whose install is still running stops that install; forgetting a live host is refused', async () => {
  const sim = await startSimulator(scenario(), { clock: fastClock(20000) });
  try {
    const s = await pw(sim);
    const s2 = host(sim, 's2').ref;
    expect(await failureOf(sim.masterUrl, 'host.destroy', [s, s2])).toEqual(['HOST_IS_LIVE', s2]);
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    await ok(sim.masterUrl, 'host.evacuate', [s, s2]);
    await ok(sim.masterUrl, 'host.call_plugin', [s, s2, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    await until(() => host(sim, 's2').power === 'installing', 'installing');
    const fresh = sim.control.reinstallFresh('s2', { version: '7.6.0' });
    await fresh.ready;
    const fs = await ok(fresh.url, 'session.login_with_password', ['root', 'pw']);
    const freshRef = (await ok(fresh.url, 'host.get_all', [fs]))[0];
    const bootTime = (await ok(fresh.url, 'host.get_other_config', [fs, freshRef])).boot_time;
    // well past the install, boot and xapi start of the abandoned upgrade: the machine stays the fresh stand-alone host
    await new Promise((r) => setTimeout(r, 2000));
    expect(host(sim, 's2')).toMatchObject({ inPool: false, power: 'on', productVersion: '7.6.0' });
    expect(await ok(sim.masterUrl, 'host_metrics.get_live', [s, await ok(sim.masterUrl, 'host.get_metrics', [s, s2])])).toBe(false);
    expect(await ok(fresh.url, 'host.get_all', [fs])).toEqual([freshRef]);
    expect((await ok(fresh.url, 'host.get_other_config', [fs, freshRef])).boot_time).toBe(bootTime);
    await ok(sim.masterUrl, 'host.destroy', [s, s2]);
  } finally {
    await sim.stop();
  }
});

test('update ISO (pool-b): introduce, precheck, apply, reboot → 7.6', async () => {
  const sim = await startSimulator('manifests/demo/pool-b.yaml', { clock: fastClock(20000) });
  try {
    const s = await login(sim.masterUrl);
    const vdis = await ok(sim.masterUrl, 'VDI.get_all_records', [s]);
    const iso = Object.keys(vdis).find((r) => vdis[r].name_label === 'XS76E000.iso')!;
    const notUpdate = Object.keys(vdis).find((r) => vdis[r].name_label === 'windows-2016.iso')!;
    expect((await failureOf(sim.masterUrl, 'pool_update.introduce', [s, notUpdate]))[0]).toBe('INVALID_UPDATE');
    const upd = await ok(sim.masterUrl, 'pool_update.introduce', [s, iso]);
    expect((await failureOf(sim.masterUrl, 'pool_update.introduce', [s, iso]))[0]).toBe('UPDATE_ALREADY_EXISTS');
    const b4 = host(sim, 'xs-b4').ref;
    expect(await ok(sim.masterUrl, 'pool_update.precheck', [s, upd, b4])).toBe('ok');
    await ok(sim.masterUrl, 'pool_update.apply', [s, upd, b4]);
    expect(await failureOf(sim.masterUrl, 'pool_update.apply', [s, upd, b4])).toEqual(['UPDATE_ALREADY_APPLIED']);
    expect(await ok(sim.masterUrl, 'host.get_updates_requiring_reboot', [s, b4])).toEqual([upd]);
    await ok(sim.masterUrl, 'host.disable', [s, b4]);
    await ok(sim.masterUrl, 'host.reboot', [s, b4]);
    await until(() => host(sim, 'xs-b4').power !== 'on', 'down');
    await until(() => host(sim, 'xs-b4').power === 'on' && host(sim, 'xs-b4').enabled, 'back', 4000);
    expect(host(sim, 'xs-b4').productVersion).toBe('7.6.0');
    expect(host(sim, 'xs-b4').platformVersion).toBe('2.7.0');
    expect(await ok(sim.masterUrl, 'host.get_updates_requiring_reboot', [s, b4])).toEqual([]);
  } finally {
    await sim.stop();
  }
});
