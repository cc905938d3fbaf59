/**
 * Where the simulator used to be kinder than a real pool (issue 12; reference xapi-real-behaviour.md): slow calls,
 * PBDs at shutdown and boot, emergency mode and a starting master, tasks lost in a master restart, event.from
 * without EVENTS_LOST, VM.unpause, api-error faults.
 */
import { Db } from '../../src/sim/db';
import { parseScenario, startSimulator, SimPool, ScenarioInput } from '../../src/sim';
import { XenApiClient, XenApiTaskLostError } from '../../src/xenapi';
import { failureOf, fastClock, login, ok, until, xcall } from './helpers';

const REPO = 'http://repo.example.com/7.6/';
const base = (extra: Partial<ScenarioInput> = {}): ScenarioInput => ({
  pool: { name: 'rb', password: 'pw' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's3', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true, isos: [] }],
  vms: [
    { name: 'a', host: 'm1', memoryGiB: 4, disks: [{ sr: 'nfs' }] },
    { name: 'p', host: 's3', power: 'Paused', memoryGiB: 2, disks: [{ sr: 'nfs' }] },
  ],
  repositories: [
    { url: REPO, version: '7.6.0', platform: '2.7.0', build: 'lima' },
    { url: 'http://repo.example.com/7.0/', version: '7.0.0', platform: '2.0.0', build: 'dundee' },
  ],
  timings: { installSeconds: 2000, xapiStartSeconds: 2000, bootSeconds: 200 },
  ...extra,
});

const pw = (sim: SimPool) => login(sim.masterUrl, 'root', 'pw');
const host = (sim: SimPool, name: string) => sim.hosts().find((h) => h.name === name)!;
const vmRef = async (sim: SimPool, s: string, name: string): Promise<string> => (await ok(sim.masterUrl, 'VM.get_by_name_label', [s, name]))[0];
const pbdsOf = async (sim: SimPool, s: string, hostRef: string) =>
  Object.values((await ok(sim.masterUrl, 'PBD.get_all_records', [s])) as Record<string, { host: string; currently_attached: boolean }>).filter((p) => p.host === hostRef);

test('slow calls take minutes of clock time by default (reference top 1)', () => {
  const t = parseScenario(base({ timings: {} })).timings;
  expect(t.pluginMainSeconds).toBeGreaterThanOrEqual(300);
  expect(t.poolJoinSeconds).toBeGreaterThanOrEqual(120);
  expect(t.haEnableSeconds).toBeGreaterThanOrEqual(60);
  expect(t.haDisableSeconds).toBeGreaterThanOrEqual(60);
  expect(t.updatePrecheckSeconds).toBeGreaterThanOrEqual(60);
});

test('PBDs: unplugged when a host goes down, re-plugged at boot; a failed plug leaves the host enabled (HA off) but VM_REQUIRES_SR until PBD.plug', async () => {
  const clock = fastClock(20000);
  const sim = await startSimulator(base({ faults: [{ kind: 'pbd-plug-fails', host: 's2', sr: 'nfs', times: 2 }] }), { clock });
  try {
    const s = await pw(sim);
    const s2 = host(sim, 's2').ref;
    await ok(sim.masterUrl, 'host.disable', [s, s2]);
    await ok(sim.masterUrl, 'host.reboot', [s, s2]);
    await until(() => host(sim, 's2').power !== 'on', 's2 down');
    expect((await pbdsOf(sim, s, s2)).map((p) => p.currently_attached)).toEqual([false, false, false]);
    await until(() => host(sim, 's2').power === 'on' && host(sim, 's2').enabled, 's2 back and enabled', 2000);
    const pbds = Object.entries((await ok(sim.masterUrl, 'PBD.get_all_records', [s])) as Record<string, { host: string; SR: string; currently_attached: boolean }>).filter(
      ([, p]) => p.host === s2,
    );
    const nfsRef = (await ok(sim.masterUrl, 'SR.get_by_name_label', [s, 'nfs']))[0];
    const [nfsPbd] = pbds.find(([, p]) => p.SR === nfsRef)!;
    expect(pbds.filter(([, p]) => !p.currently_attached).map(([r]) => r)).toEqual([nfsPbd]);
    // the VM's disk is on nfs: a migration onto s2 fails as xapi's assert_can_see_SRs does
    const a = await vmRef(sim, s, 'a');
    expect(await failureOf(sim.masterUrl, 'VM.pool_migrate', [s, a, s2, {}])).toEqual(['VM_REQUIRES_SR', a, nfsRef]);
    // the fault fires once more on PBD.plug, then the plug works and the migration too
    expect((await failureOf(sim.masterUrl, 'PBD.plug', [s, nfsPbd]))[0]).toBe('SR_BACKEND_FAILURE_47');
    await ok(sim.masterUrl, 'PBD.plug', [s, nfsPbd]);
    await ok(sim.masterUrl, 'VM.pool_migrate', [s, a, s2, {}]);
  } finally {
    await sim.stop();
  }
});

test('a starting master refuses connections, then serves logins while only host.enable says HOST_STILL_BOOTING', async () => {
  const sim = await startSimulator(base({ timings: { bootSeconds: 2000, xapiStartSeconds: 40000 } }), { clock: fastClock(20000) });
  try {
    const m1 = host(sim, 'm1');
    sim.control.powerOff('m1');
    await until(() => host(sim, 'm1').power === 'off', 'master off');
    sim.control.powerOn('m1');
    await expect(fetch(m1.url, { method: 'POST', body: '<x/>' })).rejects.toThrow(); // booting: connection refused
    const s = await until(async () => {
      try {
        const r = await xcall(m1.url, 'session.login_with_password', ['root', 'pw']);
        return r.Status === 'Success' ? (r.Value as string) : undefined;
      } catch {
        return undefined; // not listening yet
      }
    }, 'login served while xapi starts', 2000);
    expect(host(sim, 'm1').power).toBe('booting');
    expect((await ok(m1.url, 'host.get_software_version', [s, m1.ref])).product_version).toBe('7.1.1');
    expect(await failureOf(m1.url, 'host.enable', [s, m1.ref])).toEqual(['HOST_STILL_BOOTING']);
  } finally {
    await sim.stop();
  }
});

test('a slave that boots while its master is away is in emergency mode: HOST_STILL_BOOTING, then the failed Pool.hello error', async () => {
  const sim = await startSimulator(base({ timings: { bootSeconds: 20, xapiStartSeconds: 30 }, faults: [{ kind: 'emergency-error', host: 's3', code: 'HOST_MASTER_CANNOT_TALK_BACK' }] }), {
    clock: fastClock(100),
  });
  try {
    sim.control.powerOff('m1');
    await until(() => host(sim, 'm1').power === 'off', 'master off');
    for (const name of ['s2', 's3']) sim.control.powerOff(name);
    await until(() => host(sim, 's2').power === 'off' && host(sim, 's3').power === 'off', 'slaves off');
    for (const name of ['s2', 's3']) sim.control.powerOn(name);
    const answers = async (name: string) => {
      const seen: string[] = [];
      await until(async () => {
        try {
          const r = await xcall(host(sim, name).url, 'session.login_with_password', ['root', 'pw']);
          if (r.Status === 'Failure' && seen[seen.length - 1] !== r.ErrorDescription[0]) seen.push(r.ErrorDescription[0]);
        } catch {
          // still booting: not listening
        }
        return seen.length >= 2;
      }, `${name} emergency answers`, 500);
      return seen;
    };
    const [a2, a3] = await Promise.all([answers('s2'), answers('s3')]);
    expect(a2).toEqual(['HOST_STILL_BOOTING', 'INTERNAL_ERROR']);
    expect(a3).toEqual(['HOST_STILL_BOOTING', 'HOST_MASTER_CANNOT_TALK_BACK']);
    // the master returns: the members leave emergency mode and redirect logins again
    sim.control.powerOn('m1');
    await until(async () => (await failureOf(host(sim, 's2').url, 'session.login_with_password', ['root', 'pw']).catch(() => ['']))[0] === 'HOST_IS_SLAVE', 's2 back', 4000);
  } finally {
    await sim.stop();
  }
});

test('tasks vanish in a master restart with no del event; the client reports the task lost instead of waiting for ever', async () => {
  const clock = fastClock(20000);
  const sim = await startSimulator(base({ timings: { pluginMainSeconds: 10_000_000, bootSeconds: 200, xapiStartSeconds: 200 } }), { clock });
  const client = new XenApiClient({ url: sim.masterUrl, username: 'root', password: 'pw', tls: sim.tls, clock });
  try {
    const s2 = host(sim, 's2').ref;
    const task = await client.call<string>('Async.host.call_plugin', [s2, 'prepare_host_upgrade.py', 'main', { url: REPO }]);
    const before = await client.eventFrom([`task/${task}`], '', 0);
    expect(before.events.map((e) => e.operation)).toEqual(['add']);
    sim.control.powerOff('m1');
    await until(() => host(sim, 'm1').power === 'off', 'master off');
    sim.control.powerOn('m1');
    await client.reconnect({ deadlineMs: clock.now() + 3600_000 });
    // real xapi: no `del` for the lost task (the old simulator delivered one)
    const after = await client.eventFrom([`task/${task}`], before.token, 0);
    expect(after.events).toEqual([]);
    await expect(client.waitForTask(task, { deadlineMs: clock.now() + 3600_000 })).rejects.toBeInstanceOf(XenApiTaskLostError);
  } finally {
    client.close();
    await sim.stop();
  }
});

test('event.from never raises EVENTS_LOST: deletions older than the queue are silently missing (reference K3)', () => {
  const db = new Db(['task', 'VM']);
  const vm = db.create('VM', { name_label: 'v' });
  const since = db.generation;
  for (let i = 0; i < 6000; i++) db.delete('task', db.create('task', { name_label: 't' }));
  db.update('VM', vm, { name_label: 'w' });
  const changes = db.changesSince(since);
  expect(changes).not.toBeNull();
  expect(changes.filter((c) => c.cls === 'VM').map((c) => c.ref)).toEqual([vm]);
  expect(changes.filter((c) => c.cls === 'task').length).toBeLessThan(6000);
});

test('VM.unpause resumes a Paused VM; the upgrade plugin refuses an older repository in main; an old plugin lacks getVersion', async () => {
  const sim = await startSimulator(
    base({
      hosts: [
        { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely' },
        { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', rpuHotfix: false },
        { name: 's3', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely' },
      ],
    }),
    { clock: fastClock(100000) },
  );
  try {
    const s = await pw(sim);
    const p = await vmRef(sim, s, 'p');
    await ok(sim.masterUrl, 'VM.unpause', [s, p]);
    expect(await ok(sim.masterUrl, 'VM.get_power_state', [s, p])).toBe('Running');
    const [m1, s2] = [host(sim, 'm1').ref, host(sim, 's2').ref];
    expect(await failureOf(sim.masterUrl, 'host.call_plugin', [s, m1, 'prepare_host_upgrade.py', 'main', { url: 'http://repo.example.com/7.0/' }])).toEqual([
      'XENAPI_PLUGIN_FAILURE',
      'main',
      'Exception',
      'INVALID_URL',
    ]);
    expect(await failureOf(sim.masterUrl, 'host.call_plugin', [s, s2, 'prepare_host_upgrade.py', 'getVersion', { url: REPO }])).toEqual(['UNKNOWN_XENAPI_PLUGIN_FUNCTION', 'getVersion']);
    expect(JSON.parse(await ok(sim.masterUrl, 'host.call_plugin', [s, m1, 'prepare_host_upgrade.py', 'getVersion', { url: REPO }]))['product-version']).toBe('7.6.0');
    // the RPU hotfix (RPU004 on 7.1) is an applied pool_update on the hosts that have it
    const updates = (await ok(sim.masterUrl, 'pool_update.get_all_records', [s])) as Record<string, { name_label: string; hosts: string[] }>;
    const rpu = Object.values(updates).find((u) => u.name_label === 'RPU004')!;
    expect(rpu.hosts.sort()).toEqual([m1, host(sim, 's3').ref].sort());
  } finally {
    await sim.stop();
  }
});

test('api-error faults: the named call fails with the scenario code, synchronously or in its task, once', async () => {
  const sim = await startSimulator(
    base({
      faults: [
        { kind: 'api-error', method: 'VM.clean_shutdown', vm: 'a', code: 'VM_SHUTDOWN_TIMEOUT', params: ['x', '1200'] },
        { kind: 'api-error', method: 'pool.join', code: 'HOSTS_NOT_COMPATIBLE', params: [] },
      ],
    }),
    { clock: fastClock(100000) },
  );
  try {
    const s = await pw(sim);
    const a = await vmRef(sim, s, 'a');
    const task = await ok(sim.masterUrl, 'Async.VM.clean_shutdown', [s, a]);
    const done = await until(async () => {
      const r = await ok(sim.masterUrl, 'task.get_record', [s, task]);
      return r.status !== 'pending' ? r : undefined;
    }, 'task end');
    expect(done.error_info).toEqual(['VM_SHUTDOWN_TIMEOUT', 'x', '1200']);
    await ok(sim.masterUrl, 'VM.clean_shutdown', [s, a]); // once only
    expect(await failureOf(sim.masterUrl, 'pool.join', [s, '127.0.0.1', 'root', 'pw'])).toEqual(['HOSTS_NOT_COMPATIBLE']);
  } finally {
    await sim.stop();
  }
});
