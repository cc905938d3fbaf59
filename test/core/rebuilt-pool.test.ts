/**
 * A pool rebuilt at the same address (its hosts reinstalled into a new pool, with a new pool uuid), while the bot
 * keeps running. With no unfinished run on it, the pools file's address is the operator's word: the next plan reads
 * the pool that answers there now. With an unfinished run, that run's pool is the only one the bot may read or drive
 * there (Run.poolUuid), so a plan is refused with the reason, and nothing that changes anything is sent. Restore of
 * an aborted run acts only on the pool that run started on, even after the new pool has been planned.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../../src/clock';
import type { CoreHandle } from '../../src/core';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { XenApiClient } from '../../src/xenapi';
import { GatedClient } from '../helpers/gated-client';
import { APPROVER, REQUESTER, coreForSim, startToFirstGate } from '../runner/sim-harness';

jest.setTimeout(120_000);

/** what only reads (http:/jsonrpc counts the transport's requests) */
const READS = /^(http:\/jsonrpc|session\.(login_with_password|logout)|event\.from|\w+\.get_\w+)$/;

describe('a pool rebuilt at the address the bot knows, while the bot runs', () => {
  const clock = new ScaledClock(3000);
  const sims: SimPool[] = [];
  let core: CoreHandle | undefined;
  let store: Store;
  let dir: string;
  beforeEach(async () => {
    store = await openStore({ path: ':memory:', clock });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-rebuilt-'));
  });
  afterEach(async () => {
    await core?.shutdown().catch(() => undefined);
    for (const s of sims.splice(0)) await s.stop().catch(() => undefined);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** pool-a at a free port, then its rebuild: another pool (another uuid) of the same name at that same port */
  const poolA = async (): Promise<SimPool> => {
    const sim = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock, http: true });
    sims.push(sim);
    return sim;
  };
  const rebuild = async (old: SimPool): Promise<SimPool> => {
    const addresses = new Map(old.inspect().hosts.map((h) => [h.name, h.address]));
    await old.stop();
    const scenario = loadScenario('manifests/demo/pool-a.yaml');
    const hosts = scenario.hosts.map((h) => ({ ...h, address: addresses.get(h.name) }));
    const sim = await startSimulator({ ...scenario, hosts, pool: { ...scenario.pool, port: old.port } }, { clock, http: true });
    sims.push(sim);
    expect(sim.masterUrl).toBe(old.masterUrl);
    return sim;
  };
  const startCore = async (sim: SimPool): Promise<CoreHandle> => {
    core = await coreForSim(sim, { store, clock, dir, ownerId: 'the-bot' });
    return core;
  };
  /** the pool uuid that answers at a simulator's address, read by a client of its own */
  const poolUuidAt = async (sim: SimPool): Promise<string> => {
    const reader = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls });
    try {
      await reader.getAllRecords('pool');
      return reader.poolUuid!;
    } finally {
      await reader.logout();
    }
  };

  it('with no unfinished run, the next plan is made from the pool that answers there now', async () => {
    const simA = await poolA();
    const bot = await startCore(simA);
    const before = await bot.plan(simA.name, {}, REQUESTER);
    if (!before.ok) throw new Error(before.error);
    const uuidA = await poolUuidAt(simA);

    const simB = await rebuild(simA);
    const uuidB = await poolUuidAt(simB);
    expect(uuidB).not.toBe(uuidA);
    // planned, and a run started from that plan records the new pool
    const waiting = await startToFirstGate(bot, store, simB.name);
    expect(waiting.poolUuid).toBe(uuidB);
  });

  it('with an unfinished run of the old pool, a plan is refused as another pool, and nothing is changed there', async () => {
    const simA = await poolA();
    const bot = await startCore(simA);
    await startToFirstGate(bot, store, simA.name);

    const simB = await rebuild(simA);
    const refused = await bot.plan(simB.name, {}, REQUESTER);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error).toMatch(/^pool pool-a: [\d.]+ belongs to another pool \(pool uuid [0-9a-f-]+, expected [0-9a-f-]+\): not adopted\. While a run of pool-a is unfinished, the bot reads only the pool that run started on: finish or abort it before planning the pool that answers there now$/);
    expect(Object.keys(simB.stats().calls).filter((m) => !READS.test(m))).toEqual([]);
  });

  it('a plan made while a start re-reads the pool does not make the run lose the pool it started on', async () => {
    const simA = await poolA();
    let client: GatedClient | undefined;
    core = await coreForSim(simA, {
      store,
      clock,
      dir,
      ownerId: 'the-bot',
      clientFactory: (pool) => (client = new GatedClient({ url: pool.masterUrl, username: pool.username, password: simA.password, tls: pool.tls, clock })),
    });
    const plan = await core.plan(simA.name, {}, REQUESTER);
    if (!plan.ok) throw new Error(plan.error);
    // the start has read the pool (and learnt its uuid) and waits; a plan then begins, and waits before its pool read
    const startWaits = client!.hold('session.get_is_local_superuser');
    const starting = core.start(simA.name, { planHash: plan.value.id, planMadeAt: plan.value.createdAt }, REQUESTER);
    await startWaits.reached;
    const planWaits = client!.hold('pool read');
    const planning = core.plan(simA.name, {}, REQUESTER);
    await planWaits.reached;
    startWaits.release();
    const started = await starting;
    planWaits.release();
    expect((await planning).ok).toBe(true);
    if (!started.ok) throw new Error(started.error);
    expect(started.value.poolUuid).toBe(await poolUuidAt(simA));
  });

  it('Restore of an aborted run, once another pool answers at the address, sends that pool nothing that changes it', async () => {
    const simA = await poolA();
    const bot = await startCore(simA);
    const waiting = await startToFirstGate(bot, store, simA.name);
    const aborted = await bot.abort(waiting.id, APPROVER);
    if (!aborted.ok) throw new Error(aborted.error);

    // the pool is rebuilt at the address and planned (no run is unfinished: the new pool is read); then someone
    // clicks Restore on the old run's message
    const simB = await rebuild(simA);
    expect((await bot.plan(simB.name, {}, REQUESTER)).ok).toBe(true);
    const before = { ...simB.stats().calls };
    const restored = await bot.restore(waiting.id, APPROVER);
    if (!restored.ok) throw new Error(restored.error);
    expect(restored.value.restore?.state).toBe('partial');
    expect(restored.value.restore?.did).toEqual([]);
    expect(restored.value.restore?.left.join(' ')).toMatch(/belongs to another pool \(pool uuid [0-9a-f-]+, expected [0-9a-f-]+\): not adopted/);
    const sentByRestore = Object.entries(simB.stats().calls).filter(([m, n]) => n !== before[m] && !READS.test(m));
    expect(sentByRestore).toEqual([]);
    // and the next plan of the pool plans the pool that answers there now again
    expect((await bot.plan(simB.name, {}, REQUESTER)).ok).toBe(true);
  });
});
