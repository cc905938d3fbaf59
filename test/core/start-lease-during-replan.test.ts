/**
 * Several replicas (docs/ha.md): "two starts on one pool → exactly one takes effect", across replicas the pool lease
 * decides (src/core/index.ts start: the lease first, then the re-validation under it).
 *
 * The start takes the pool lease, then re-plans from the live pool (a snapshot, RBAC, repository tests from every
 * host: on a real pool this can take longer than the lease's TTL when the pool is slow), and only then creates the
 * run. The lease used not to be renewed while it re-planned, nor createRun to check that the start still held it: a
 * second replica whose start came once that lease had expired took it over and started its own run, and the first
 * start created a second run of the same pool anyway. Now the lease is renewed while the start re-plans, and the run
 * is written only under it (createRun fenced): a start that lost its lease (its renewals failed, or it stalled) starts
 * nothing and says why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreHandle } from '../../src/core';
import { UNFINISHED_RUN_STATES } from '../../src/domain/types';
import { RunInterrupted } from '../../src/runner/errors';
import { openStore, type Store } from '../../src/store';
import { GatedClient } from '../helpers/gated-client';
import { coreForSim, REQUESTER, startHarness, type Harness } from '../runner/sim-harness';

const TTL = 60_000; // the default XSUPGRADE_LEASE_TTL_SECONDS

describe('a start whose re-plan outlasts the lease', () => {
  let h: Harness;
  let dir: string;
  const stores: Store[] = [];
  const cores: CoreHandle[] = [];
  let unblock: () => void = () => undefined;

  beforeEach(async () => {
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-start-lease-'));
  });
  afterEach(async () => {
    unblock();
    for (const c of cores.splice(0)) await c.shutdown().catch(() => undefined);
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['renews the lease while it re-plans (the other start is refused, or, were a renewal late, its own fenced write)', false],
    ['cannot renew it (the store did not answer): it starts nothing, and says the lease passed to the other replica', true],
  ])('two replicas starting one pool, the first one slow: it %s; never two unfinished runs of the pool', async (_what, renewalFails) => {
    const path = join(dir, 'state.sqlite');
    const [storeA, storeB] = [await openStore({ path, clock: h.clock }), await openStore({ path, clock: h.clock })];
    stores.push(storeA!, storeB!);
    // replica A's store, whose lease renewals fail when asked (as a stalled or cut-off replica's would)
    const storeOfA: Store = renewalFails ? Object.assign(Object.create(storeA!) as Store, { renewLease: async () => Promise.reject(new Error('store unreachable')) }) : storeA!;
    let clientA: GatedClient | undefined;
    const a = await coreForSim(h.sim, {
      store: storeOfA,
      clock: h.clock,
      dir,
      ownerId: 'replica-a',
      pool: h.pool,
      leaseTtlMs: TTL,
      clientFactory: (p) => (clientA = new GatedClient({ url: p.masterUrl, username: p.username, password: h.sim.password, tls: p.tls, clock: h.clock })),
    });
    // replica B's run stays before its first step (nothing on the pool changes), until the test ends
    const blocked = new Promise<void>((_, reject) => (unblock = () => reject(new RunInterrupted('test over'))));
    blocked.catch(() => undefined);
    const b = await coreForSim(h.sim, {
      store: storeB!,
      clock: h.clock,
      dir,
      ownerId: 'replica-b',
      pool: h.pool,
      leaseTtlMs: TTL,
      checkpoint: async (label) => {
        if (label.startsWith('before:')) await blocked;
      },
    });
    cores.push(a, b);

    const plan = await a.plan(h.pool.name, {}, REQUESTER);
    if (!plan.ok) throw new Error(plan.error);
    expect(plan.value.executable).toBe(true);

    // replica A's start: lease taken, then its re-plan is slow (held at its VM read)
    const slow = clientA!.hold('VM read');
    const startA = a.start(h.pool.name, { planHash: plan.value.id }, REQUESTER);
    await slow.reached;
    const leaseA = await storeA!.getLease(h.pool.name);
    expect(leaseA?.owner).toBe('replica-a');
    // …longer than the lease's TTL
    while (h.clock.now() <= leaseA!.expiresAt + 1) await new Promise((r) => setTimeout(r, 5));

    // replica B's start of the same pool
    const startB = await b.start(h.pool.name, { planHash: plan.value.id }, REQUESTER);
    slow.release();
    const resultA = await startA;

    const unfinished = await storeA!.listRuns({ pool: h.pool.name, states: UNFINISHED_RUN_STATES });
    expect({ started: [resultA.ok, startB.ok].filter(Boolean).length, unfinished: unfinished.map((r) => r.id).length }).toEqual({ started: 1, unfinished: 1 });
    if (renewalFails) {
      expect(startB.ok).toBe(true);
      expect(resultA).toMatchObject({ ok: false, error: expect.stringMatching(/lease passed to replica-b while the plan was re-validated .*nothing was started/) });
    } else {
      // A renews its lease every third of its TTL; on the simulator's fast clock a loaded machine can still let it lapse
      // before a renewal, and then B wins and A's fenced write refuses A: either way one run, and the other start says why
      const refused = resultA.ok ? startB : resultA;
      expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(resultA.ok ? /held by replica-a/ : /lease passed to replica-b/) });
    }
  });
});
