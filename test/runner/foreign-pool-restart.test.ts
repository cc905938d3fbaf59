/**
 * A run records the pool it started on (Run.poolUuid). Restarted, the bot drives it on that pool only: when the
 * pools file's address now answers for another pool (the master reinstalled into a new pool, the address given to
 * another pool's master) and no certificate pin tells them apart (plain HTTP here), the first step after the
 * restart fails with EFOREIGNPOOL, and nothing that changes anything is sent to that pool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../../src/clock';
import type { CoreHandle } from '../../src/core';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { XenApiClient } from '../../src/xenapi';
import { APPROVER, coreForSim, startToFirstGate, waitForRun } from './sim-harness';

jest.setTimeout(120_000);

/** what only reads: the calls a bot may send to a pool it must not drive (http:/jsonrpc counts the transport's requests) */
const READS = /^(http:\/jsonrpc|session\.(login_with_password|logout)|event\.from|\w+\.get_\w+)$/;

describe('a run resumed after a restart, when its address answers for another pool', () => {
  const clock = new ScaledClock(3000);
  const sims: SimPool[] = [];
  const cores: CoreHandle[] = [];
  let store: Store;
  let dir: string;
  afterAll(async () => {
    for (const c of cores) await c.shutdown().catch(() => undefined);
    for (const s of sims) await s.stop().catch(() => undefined);
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const startCore = async (sim: SimPool, ownerId: string): Promise<CoreHandle> => {
    const core = await coreForSim(sim, { store, clock, dir, ownerId });
    cores.push(core);
    return core;
  };

  it('fails the first step with EFOREIGNPOOL and sends that pool nothing that changes it', async () => {
    store = await openStore({ path: ':memory:', clock });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-foreign-'));
    const simA = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock, http: true });
    sims.push(simA);
    const first = await startCore(simA, 'before-restart');
    const waiting = await startToFirstGate(first, store, simA.name);

    // the run knows its pool
    const reader = new XenApiClient({ url: simA.masterUrl, username: simA.username, password: simA.password, tls: simA.tls });
    await reader.getAllRecords('pool');
    expect(waiting.poolUuid).toBe(reader.poolUuid);
    await reader.logout();

    // the bot stops; the address now answers for another pool of the same name, same credentials
    await first.shutdown();
    await simA.stop();
    const simB = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock, http: true });
    sims.push(simB);
    const second = await startCore(simB, 'after-restart');
    await second.recoverRuns();
    const gate = waiting.steps.find((s) => s.state === 'awaiting-approval')!;
    expect((await second.approve(waiting.id, gate.id, APPROVER)).ok).toBe(true);

    const failed = await waitForRun(store, waiting.id, ['failed', 'done']);
    expect(failed.state).toBe('failed');
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.error?.message).toMatch(/belongs to another pool \(pool uuid [0-9a-f-]+, expected [0-9a-f-]+\): not adopted/);
    const changing = Object.keys(simB.stats().calls).filter((m) => !READS.test(m));
    expect(changing).toEqual([]);
    expect(simB.stats().shutdowns).toEqual({});
  });
});
