/**
 * reconnect() adopts a new master only when it is the master of the SAME pool (its pool uuid): a former member
 * reinstalled as a stand-alone host at the same address with the same credentials answers the login as a master,
 * and must never become the pool the rolling upgrade goes on with (it would disable, evacuate and reboot hosts no
 * one approved). Simulator over plain HTTP: with certificates pinned per host a reinstalled host is already refused
 * by TLS (R4.2); over HTTP, or with CA-verified certificates, only the pool identity tells the pools apart.
 */
import { ScaledClock, type Clock } from '../../src/clock';
import { startSimulator, type ScenarioInput, type SimPool } from '../../src/sim';
import { XenApiClient, XenApiReconnectTimeoutError } from '../../src/xenapi';
import { createLogger } from '../../src/log';

const scenario = (): ScenarioInput => ({
  pool: { name: 'idp', password: 'pw-Identity-7' },
  hosts: [
    { name: 'm1', master: true, productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's2', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
    { name: 's3', productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true }],
  vms: [{ name: 'a', host: 's2', memoryGiB: 2, disks: [{ sr: 'nfs' }] }],
  repositories: [{ url: 'http://repo.example.com/7.6/', version: '7.6.0', platform: '2.7.0', build: 'lima' }],
  timings: { installSeconds: 20000, xapiStartSeconds: 2000, bootSeconds: 200, shutdownSeconds: 2000 },
});

const HOUR = 3600_000;
let sim: SimPool;
let clock: Clock;
let client: XenApiClient;
let warnings: Array<Record<string, unknown>>;

/** warn and above, as the JSON lines pino writes */
const recordingLogger = () => createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line)) } });

const host = (name: string) => sim.hosts().find((h) => h.name === name)!;

/** The operator switches a member off and reinstalls it: a fresh pool of one that answers the login as its master. */
async function reinstallStandAlone(name: string): Promise<void> {
  sim.control.powerOff(name);
  await sim.control.reinstallFresh(name).ready;
}

beforeEach(async () => {
  clock = new ScaledClock(20000);
  warnings = [];
  sim = await startSimulator(scenario() as never, { clock, http: true });
  client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock, logger: recordingLogger() });
  await client.login();
  await client.getAllRecords('host'); // learns the members
  await client.getAllRecords('pool'); // and the pool it works on
});

afterEach(async () => {
  client.close();
  await sim.stop();
});

test('a member reinstalled stand-alone at the same address is not adopted as the new master: reconnect times out', async () => {
  const poolUuid = client.poolUuid;
  await reinstallStandAlone('s3');
  sim.control.powerOff('m1');
  const err = await client.reconnect({ deadlineMs: clock.now() + HOUR }).catch((e) => e);
  expect(err).toBeInstanceOf(XenApiReconnectTimeoutError);
  expect(err.message).toContain(`${host('s3').address} belongs to another pool`);
  expect(client.masterAddress).toBe(host('m1').address);
  expect(poolUuid).toMatch(/^[0-9a-f-]{36}$/);
  expect(client.poolUuid).toBe(poolUuid);
  const warned = warnings.find((w) => String(w.msg).includes('another pool'));
  expect(warned).toMatchObject({ host: host('s3').address, expected: poolUuid });
  expect(JSON.stringify(warnings)).not.toContain(sim.password);
});

test('the real master coming back is found while the other pool keeps being skipped', async () => {
  await reinstallStandAlone('s3');
  sim.control.powerOff('m1');
  setTimeout(() => sim.control.powerOn('m1'), 50);
  await client.reconnect({ deadlineMs: clock.now() + 4 * HOUR });
  expect(client.masterAddress).toBe(host('m1').address);
  expect((await client.getAllRecords('host'))[host('m1').ref]).toBeDefined();
});
