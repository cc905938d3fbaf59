/**
 * On process start, Engine.recoverRuns reads each run's pool lease and writes its 'resume' audit record before it
 * drives the run. A store error there (one refused call at startup) is tried again like the run loop's calls — the
 * audit record read back first, so it is never written twice — and every run left running is still recovered and
 * driven. A store that stays unavailable for one run's calls leaves that run as the store shows it (logged, not driven
 * here) and the other runs are still recovered and driven.
 */
import { openStore, type Store } from '../../src/store';
import type { PoolClient } from '../../src/runner/ports';
import type { Run } from '../../src/domain/types';
import { fastClock, makePlan, makeRun, scriptedSteps } from './helpers';
import { engineOn, failingStore } from './store-failures';

const client = { reconnect: async () => undefined } as unknown as PoolClient;

/** `store` whose getLease is refused while `down.leases(pool)` says so. */
function refusingLeaseReads(store: Store, refuse: (pool: string) => boolean) {
  const refused: string[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getLease') {
        const getLease: Store['getLease'] = async (pool) => {
          if (refuse(pool)) {
            refused.push(pool);
            throw new Error('store error: connection terminated unexpectedly');
          }
          return target.getLease(pool);
        };
        return getLease;
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { store: wrapped, refused };
}

/** Two runs left running by a runner that stopped (pools pool-t and pool-u), each with its backup done. */
async function twoRunsLeftRunning(inner: Store): Promise<Run[]> {
  const runs = [makeRun(makePlan(), 'pool-t-20260101-1'), makeRun({ ...makePlan(), pool: 'pool-u' }, 'pool-u-20260101-1')];
  for (const run of runs) {
    for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
    await inner.createRun(run);
  }
  return runs;
}

const startAudits = async (inner: Store, runId: string) =>
  (await inner.listAudit(runId)).filter((e) => e.kind === 'resume' && e.message.startsWith('runner runner-a started: resuming run'));

async function expectBothDriven(inner: Store, runs: Run[], t: ReturnType<typeof engineOn>) {
  for (const run of runs) {
    await t.engine.whenIdle(run.id);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'done', attempts: 1 });
    expect(after.state).toBe('awaiting-approval');
    expect(await startAudits(inner, run.id)).toHaveLength(1);
  }
}

describe('Engine.recoverRuns: a store error at startup', () => {
  it.each(['lost', 'after-commit'] as const)("the first run's resume audit refused once (%s): tried again, written once, and every run is recovered and driven", async (how) => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    let left = 1;
    const { store, failures } = failingStore(inner, { audit: (e) => e.kind === 'resume' && e.message.startsWith('runner runner-a started') && left-- > 0 }, how);
    const { registry } = scriptedSteps();
    const t = engineOn(store, registry, client);
    const runs = await twoRunsLeftRunning(inner);

    const resumed = await t.engine.recoverRuns();

    expect(failures.audits).toBe(1);
    expect([...resumed].sort()).toEqual(runs.map((r) => r.id).sort());
    await expectBothDriven(inner, runs, t);
    await inner.close();
  });

  it("the first run's lease read refused once: tried again, and every run is recovered and driven", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    let left = 1;
    const { store, refused } = refusingLeaseReads(inner, () => left-- > 0);
    const { registry } = scriptedSteps();
    const t = engineOn(store, registry, client);
    const runs = await twoRunsLeftRunning(inner);

    const resumed = await t.engine.recoverRuns();

    expect(refused).toHaveLength(1);
    expect([...resumed].sort()).toEqual(runs.map((r) => r.id).sort());
    await expectBothDriven(inner, runs, t);
    await inner.close();
  });

  it("one run's lease stays unreadable: that run is left as the store shows it, the other run is still recovered and driven", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { store, refused } = refusingLeaseReads(inner, (pool) => pool === 'pool-t');
    const { registry, seen } = scriptedSteps();
    const t = engineOn(store, registry, client);
    const [stuck, other] = await twoRunsLeftRunning(inner);

    const resumed = await t.engine.recoverRuns();

    expect(refused.length).toBeGreaterThan(1); // tried again before giving up
    expect(resumed).toEqual([other!.id]);
    await expectBothDriven(inner, [other!], t);
    // the run whose lease could not be read: not driven, nothing audited or done for it here
    expect(t.engine.isDriving(stuck!.id)).toBe(false);
    const left = (await inner.getRun(stuck!.id))!;
    expect(left.state).toBe('running');
    expect(left.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'pending', attempts: 0 });
    expect(await startAudits(inner, stuck!.id)).toHaveLength(0);
    expect(seen.filter((s) => s.id === 'h1:disable')).toHaveLength(1);
    await inner.close();
  });
});
