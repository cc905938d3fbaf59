/**
 * The client against the real simulator (src/sim) over real HTTP: redirects, sessions, tasks through events,
 * refusals with xapi's codes, master restarts (R3.8), automatic and manual upgrades driven only by client calls
 * (R3.7, vendor sequence), the DB dump (R2.1), and round trips for a 64-host × 50-VM pool.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock, type Clock } from '../../src/clock';
import { generateScenario, startSimulator, type ScenarioInput, type SimPool } from '../../src/sim';
import {
  EventWatcher,
  RECORD_CLASSES,
  XenApiClient,
  XenApiConnectionError,
  XenApiError,
  isXenApiError,
  type XenEvent,
} from '../../src/xenapi';

const REPO = 'http://repo.example.com/7.6/';
const SCALE = 20000;

const scenario = (): ScenarioInput => ({
  pool: { name: 'cli', password: 'pw-Integration-1' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's3', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 24 },
  ],
  srs: [
    { name: 'nfs', type: 'nfs', shared: true },
    { name: 'local-s2', type: 'lvm', shared: false, host: 's2' },
  ],
  vms: [
    { name: 'a', host: 'm1', memoryGiB: 4, disks: [{ sr: 'nfs' }] },
    { name: 'a2', host: 'm1', memoryGiB: 4, disks: [{ sr: 'nfs' }] },
    { name: 'big', host: 's2', memoryGiB: 40, disks: [{ sr: 'nfs' }] },
    { name: 'local', host: 's2', memoryGiB: 2, disks: [{ sr: 'local-s2' }] },
    { name: 'c', host: 's3', memoryGiB: 2, disks: [{ sr: 'nfs' }] },
  ],
  repositories: [{ url: REPO, version: '7.6.0', platform: '2.7.0', build: 'lima' }],
  // at scale 20000: install ~1 s real, xapi start ~0.1 s, shutdown ~0.1 s
  timings: { installSeconds: 20000, xapiStartSeconds: 2000, bootSeconds: 200, shutdownSeconds: 2000 },
});

let sim: SimPool;
let clock: Clock;
let client: XenApiClient;
const clients: XenApiClient[] = [];

function newClient(url = sim.masterUrl, extra: Partial<ConstructorParameters<typeof XenApiClient>[0]> = {}): XenApiClient {
  const c = new XenApiClient({ url, username: sim.username, password: sim.password, tls: sim.tls, clock, ...extra });
  clients.push(c);
  return c;
}
const host = (name: string) => sim.hosts().find((h) => h.name === name)!;
const vm = (name: string) => sim.inspect().vms.find((v) => v.name === name)!;
const HOUR = 3600_000;

beforeEach(async () => {
  clock = new ScaledClock(SCALE);
  sim = await startSimulator(scenario() as never, { clock });
  client = newClient();
});

afterEach(async () => {
  for (const c of clients.splice(0)) {
    await c.logout().catch(() => undefined);
    c.close();
  }
  await sim.stop();
});

/** host.enable, retried on HOST_STILL_BOOTING with clock sleeps (XenCenter retries every 5 s). */
async function enable(c: XenApiClient, ref: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await c.call('host.enable', [ref]);
      return;
    } catch (e) {
      if (!isXenApiError(e, 'HOST_STILL_BOOTING') || i > 100) throw e;
      await clock.sleep(5000);
    }
  }
}

const bootTimeOf = (ev: XenEvent) => (ev.snapshot?.other_config as Record<string, string> | undefined)?.boot_time;

test('login on a slave follows HOST_IS_SLAVE to the master (same scheme and port)', async () => {
  const c = newClient(host('s3').url);
  await c.login();
  expect(c.masterAddress).toBe(host('m1').address);
  expect(c.masterUrl).toBe(sim.masterUrl.replace(/\/$/, ''));
  expect(await c.call('pool.get_master', [(await c.call<string[]>('pool.get_all'))[0]])).toBe(host('m1').ref);
});

test('SESSION_INVALID (session logged out behind our back) is healed by one re-login', async () => {
  await client.login();
  const stale = (client as unknown as { session: string }).session;
  const other = newClient();
  await other.call('session.logout', [stale]);
  client.resetCallCount();
  expect(await client.call<string[]>('pool.get_all')).toHaveLength(1);
  expect(client.callCounts).toEqual({ 'pool.get_all': 2, 'session.login_with_password': 1 });
});

test('tasks: Async.VM.pool_migrate is followed through event.from and destroyed', async () => {
  const before = sim.stats().calls['task.get_status'] ?? 0;
  await client.callAsync('VM.pool_migrate', [vm('a').ref, host('s2').ref, { live: 'true' }], { deadlineMs: clock.now() + HOUR });
  expect(vm('a').residentOn).toBe('s2');
  expect(client.callCounts['event.from']).toBeGreaterThanOrEqual(1);
  expect(client.callCounts['task.destroy']).toBe(1);
  expect(sim.stats().calls['task.get_status'] ?? 0).toBe(before);
  const tasks = await client.getAllRecords('task');
  expect(Object.values(tasks).filter((t) => t.name_label === 'Async.VM.pool_migrate')).toHaveLength(0);
});

test('memory and storage refusals surface as XenApiError with the xapi code and params', async () => {
  const mem = (await client.call('VM.pool_migrate', [vm('big').ref, host('s3').ref, { live: 'true' }]).catch((e: unknown) => e)) as XenApiError;
  expect(mem).toBeInstanceOf(XenApiError);
  expect(mem.code).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
  expect(mem.params).toHaveLength(2);
  expect(Number(mem.params[0])).toBeGreaterThan(Number(mem.params[1]));
  const sr = (await client.call('VM.pool_migrate', [vm('local').ref, host('s3').ref, { live: 'true' }]).catch((e: unknown) => e)) as XenApiError;
  expect(sr).toBeInstanceOf(XenApiError);
  expect(sr.code).toBe('VM_REQUIRES_SR');
  expect(sr.params[0]).toBe(vm('local').ref);
  // through a task, the same refusal comes from error_info
  const viaTask = await client.callAsync('VM.pool_migrate', [vm('local').ref, host('s3').ref, { live: 'true' }]).catch((e) => e);
  expect(viaTask).toMatchObject({ name: 'XenApiError', code: 'VM_REQUIRES_SR', method: 'Async.VM.pool_migrate' });
});

test('master down (R3.8): calls fail as connection errors, the client reports it, reconnect succeeds once it is back', async () => {
  await client.getAllRecords('host'); // learns the members
  const seen: string[] = [];
  client.on('master-unreachable', () => seen.push('unreachable'));
  client.on('master-back', (a: string) => seen.push(`back ${a}`));
  sim.control.powerOff('m1');
  const err = await client.call('pool.get_all').catch((e) => e);
  expect(err).toBeInstanceOf(XenApiConnectionError);
  expect(err).not.toBeInstanceOf(XenApiError);
  // a fresh client through a slave: HOST_IS_SLAVE, then the dead master refuses
  const viaSlave = await newClient(host('s2').url).login().catch((e) => e);
  expect(viaSlave).toBeInstanceOf(XenApiConnectionError);
  expect(seen).toEqual(['unreachable']);
  setTimeout(() => sim.control.powerOn('m1'), 50);
  await client.reconnect({ deadlineMs: clock.now() + 4 * HOUR });
  expect(seen).toEqual(['unreachable', `back ${host('m1').address}`]);
  expect(await client.call<string[]>('pool.get_all')).toHaveLength(1);
});

test('events survive a master restart: the watcher reconnects and re-reads', async () => {
  const w = new EventWatcher(client, { classes: ['host'], clock, pollSeconds: 30 });
  const m1 = host('m1').ref;
  let before: string | undefined;
  let restarted = false;
  let resyncsAfter = 0;
  for await (const ev of w) {
    if (ev.ref !== m1) continue;
    if (before === undefined) {
      before = bootTimeOf(ev);
      sim.control.powerOff('m1');
      setTimeout(() => sim.control.powerOn('m1'), 50);
      restarted = true;
      continue;
    }
    if (restarted && ev.resync) resyncsAfter += 1;
    if (bootTimeOf(ev) !== before) break;
  }
  w.stop();
  expect(resyncsAfter).toBeGreaterThanOrEqual(1);
  // its xapi serves reads once the management interface is up, before start-up completes (reference D1)
  expect(['booting', 'on']).toContain(host('m1').power);
});

test('automatic upgrade of the master using only client calls (R3.2, R3.7): disable, evacuate, plugin main, reboot, wait for boot_time, enable', async () => {
  const seen: string[] = [];
  client.on('master-unreachable', () => seen.push('unreachable'));
  client.on('master-back', () => seen.push('back'));
  const m1 = host('m1').ref;
  const hosts = await client.getAllRecords('host');
  const before = hosts[m1]!.other_config.boot_time;
  await client.call('host.disable', [m1]);
  await client.callAsync('host.evacuate', [m1], { deadlineMs: clock.now() + HOUR });
  expect(sim.inspect().vms.filter((v) => v.residentOn === 'm1')).toEqual([]);
  expect(await client.call('host.call_plugin', [m1, 'prepare_host_upgrade.py', 'main', { url: REPO }])).toBe('true');
  await client.call('host.reboot', [m1]);
  const back = await client.waitFor((ev) => ev.class === 'host' && ev.ref === m1 && bootTimeOf(ev) !== before, {
    classes: ['host'],
    deadlineMs: clock.now() + 12 * HOUR,
  });
  expect(bootTimeOf(back)).not.toBe(before);
  await enable(client, m1);
  const after = (await client.getAllRecords('host'))[m1]!;
  expect(after.software_version.product_version).toBe('7.6.0');
  expect(after.enabled).toBe(true);
  expect(seen).toEqual(['unreachable', 'back']);
  expect(sim.stats().maxHostsDownAtOnce).toBe(1);
});

test('manual upgrade of a slave: shutdown, the operator completes the install, wait for boot_time, enable', async () => {
  const s3 = host('s3').ref;
  const before = (await client.getAllRecords('host'))[s3]!.other_config.boot_time;
  await client.call('host.disable', [s3]);
  await client.callAsync('host.evacuate', [s3], { deadlineMs: clock.now() + HOUR });
  await client.call('host.shutdown', [s3]);
  // the master marks it dead at once (host_metrics.live = false); wait until the machine is off
  const metricsRef = (await client.getAllRecords('host'))[s3]!.metrics;
  await client.waitFor((ev) => ev.ref === metricsRef && ev.snapshot?.live === false, { classes: ['host_metrics'], deadlineMs: clock.now() + HOUR });
  for (let i = 0; host('s3').power !== 'off'; i++) {
    if (i > 1000) throw new Error('s3 never powered off');
    await clock.sleep(1000);
  }
  sim.control.completeManualInstall('s3');
  await client.waitFor((ev) => ev.class === 'host' && ev.ref === s3 && bootTimeOf(ev) !== before, { classes: ['host'], deadlineMs: clock.now() + 12 * HOUR });
  await enable(client, s3);
  const after = (await client.getAllRecords('host'))[s3]!;
  expect(after.software_version.product_version).toBe('7.6.0');
  expect(after.enabled).toBe(true);
});

test('pool database dump to a file with size and SHA-256 (R2.1)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xenapi-dump-'));
  try {
    const file = join(dir, 'pool.xml');
    const res = await client.dumpDatabase(file);
    const body = readFileSync(file);
    expect(res.bytes).toBe(body.length);
    expect(res.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(body.toString('utf8')).toContain('<database');
    expect(body.toString('utf8')).toContain('<table name="VM"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('all records of a 64-host × 50-VM pool in one round trip per class', async () => {
  const big = await startSimulator(generateScenario({ hosts: 64, vmsPerHost: 50, seed: 7 }), { clock });
  try {
    const c = newClient(big.masterUrl, { username: big.username, password: big.password, tls: big.tls });
    await c.login();
    c.resetCallCount();
    const all = await Promise.all(RECORD_CLASSES.map((cls) => c.getAllRecords(cls)));
    expect(c.callCount).toBe(RECORD_CLASSES.length);
    for (const cls of RECORD_CLASSES) expect(c.callCounts[`${cls}.get_all_records`]).toBe(1);
    const byClass = Object.fromEntries(RECORD_CLASSES.map((cls, i) => [cls, all[i]!]));
    expect(Object.keys(byClass.host!)).toHaveLength(64);
    const guests = Object.values(byClass.VM as Record<string, { is_control_domain: boolean; is_a_template: boolean }>).filter(
      (v) => !v.is_control_domain && !v.is_a_template,
    );
    expect(guests).toHaveLength(64 * 50);
    expect(c.knownMembers).toHaveLength(64);
  } finally {
    await big.stop();
  }
}, 180_000); // ~20 MB of XML: the xmlrpc package's sax deserializer reads ~6 MB/s
