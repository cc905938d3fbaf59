/**
 * A write of the run loop whose answer was lost has an unknown outcome: it may have been committed. Before it is made
 * again, the store is read for it (store-calls.ts retryStoreCall). When that read-back is itself refused (the store
 * still down), the outcome is still unknown: the write is NOT made again; the read-back is tried again after the next
 * wait, within the same retry budget, and the write is made again only once a read-back shows it absent. A store that
 * stays down stops the loop (StoreUnavailable) with the write made once, never repeated blindly.
 */
import { openStore, type Store } from '../../src/store';
import type { PoolClient } from '../../src/runner/ports';
import type { Run } from '../../src/domain/types';
import { fastClock, makePlan, makeRun, scriptedSteps } from './helpers';
import { engineOn, executions, failingStore, thread } from './store-failures';

/** How many waits the loop makes for one call before it gives up (store-calls.ts WRITE_RETRY_MS). */
const RETRY_WAITS = 5;

/** A client that answers the calls sent to it (the steps are scripted). */
function answeringClient() {
  const sent: string[] = [];
  const client = {
    reconnect: async () => undefined,
    call: async (method: string, params: unknown[]) => {
      sent.push(`${method} ${String(params[0])}`);
      return 'OK';
    },
  } as unknown as PoolClient;
  return { client, sent };
}

/** `store` whose listAudit (the read-back of an audit record) is refused while `down.lists` is above 0. */
function refusingAuditReads(store: Store) {
  const down = { lists: 0, refused: 0 };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'listAudit') {
        const listAudit: Store['listAudit'] = async (runId) => {
          if (down.lists > 0) {
            down.lists--;
            down.refused++;
            throw new Error('store error: connection terminated unexpectedly');
          }
          return target.listAudit(runId);
        };
        return listAudit;
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { store: wrapped, down };
}

/** A run of pool-t with its backup done: the loop starts h1:disable next, then waits at h1:approval. */
async function backedUpRun(inner: Store): Promise<Run> {
  const run = makeRun(makePlan());
  for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
  await inner.createRun(run);
  return run;
}

describe.each(['after-commit', 'lost'] as const)('Engine: a write whose answer was lost (%s), then a store that refuses the read-back', (how) => {
  it("a step's start: the read-back refused once, then the store answers: the start is written once (attempt 1), the step runs once", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const f = failingStore(inner, {}, how);
    let left = 1;
    f.down.update = (before, after) => {
      const was = before.steps.find((s) => s.id === 'h1:disable')!;
      const now = after.steps.find((s) => s.id === 'h1:disable')!;
      if (now.state !== 'running' || now.attempts === was.attempts || left === 0) return false;
      left--;
      f.down.reads = 1; // the store is still down when the loop reads whether the start was recorded
      return true;
    };
    const { registry, seen } = scriptedSteps();
    const t = engineOn(f.store, registry, answeringClient().client);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(f.failures.count).toBe(1);
    expect(f.failures.reads).toBe(1);
    const after = (await inner.getRun(run.id))!;
    expect(after.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'done', attempts: 1 });
    expect(executions(seen, 'h1:disable')).toBe(1);
    expect(after.state).toBe('awaiting-approval');
    const audit = await inner.listAudit(run.id);
    expect(audit.filter((e) => /^h1:disable (started|resumed)/.test(e.message)).map((e) => e.message)).toEqual(['h1:disable started (attempt 1)']);
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it("a step's end audit record: the read-back refused twice, then the store answers: the record is written once", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    let left = 1;
    let reads: ReturnType<typeof refusingAuditReads>['down'] | undefined;
    const f = failingStore(
      inner,
      {
        audit: (e) => {
          if (e.message !== 'h1:disable done' || left-- <= 0) return false;
          reads!.lists = 2;
          return true;
        },
      },
      how,
    );
    const r = refusingAuditReads(f.store);
    reads = r.down;
    const { registry } = scriptedSteps();
    const t = engineOn(r.store, registry, answeringClient().client);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(f.failures.audits).toBe(1);
    expect(r.down.refused).toBe(2);
    expect((await inner.listAudit(run.id)).filter((e) => e.message === 'h1:disable done')).toHaveLength(1);
    expect((await inner.getRun(run.id))!.state).toBe('awaiting-approval');
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it('the record written before an action on the pool: the read-back refused once: the record is written once, the action sent once', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    let left = 1;
    let reads: ReturnType<typeof refusingAuditReads>['down'] | undefined;
    const f = failingStore(
      inner,
      {
        audit: (e) => {
          if (!(e.kind === 'xenapi' && e.message === 'host.disable h1') || left-- <= 0) return false;
          reads!.lists = 1;
          return true;
        },
      },
      how,
    );
    const r = refusingAuditReads(f.store);
    reads = r.down;
    const { registry } = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable') await ctx.act('host.disable', ['h1'], 'h1');
      return undefined;
    });
    const pool = answeringClient();
    const t = engineOn(r.store, registry, pool.client);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);

    expect(f.failures.audits).toBe(1);
    expect(r.down.refused).toBe(1);
    expect((await inner.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && e.message === 'host.disable h1')).toHaveLength(1);
    expect(pool.sent).toEqual(['host.disable h1']);
    expect((await inner.getRun(run.id))!.state).toBe('awaiting-approval');
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });
});

describe('Engine: a write whose answer was lost, then a store that stays down', () => {
  it("a step's start committed, every read-back refused: never written again, the loop stops within the same budget and the thread is told", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const f = failingStore(inner, {}, 'after-commit');
    let left = 1;
    f.down.update = (before, after) => {
      const now = after.steps.find((s) => s.id === 'h1:disable')!;
      if (now.state !== 'running' || now.attempts === before.steps.find((s) => s.id === 'h1:disable')!.attempts) return false;
      if (left-- > 0) {
        f.down.reads = Number.POSITIVE_INFINITY; // from here on the store answers nothing
        return true;
      }
      return true; // a blind second write is refused too (it would commit, 'after-commit')
    };
    const { registry, seen } = scriptedSteps();
    const t = engineOn(f.store, registry, answeringClient().client);
    const run = await backedUpRun(inner);
    t.engine.drive(run.id);
    await t.engine.whenIdle(run.id);
    f.down.reads = 0;

    expect(f.failures.count).toBe(1); // the write was made once, then only read back
    expect(f.failures.reads).toBe(RETRY_WAITS); // one read-back after each wait of the budget, no more
    expect(executions(seen, 'h1:disable')).toBe(0);
    expect(t.engine.isDriving(run.id)).toBe(false);
    expect((await inner.getRun(run.id))!.steps.find((s) => s.id === 'h1:disable')).toMatchObject({ state: 'running', attempts: 1 });
    const said = thread(t.notifier, run.id);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/could not record that h1:disable starts \(attempt 1\)/);
    expect(said[0]).toMatch(/Nothing was sent to the pool for h1:disable\./);
    expect(await inner.getLease('pool-t')).toBeUndefined();
    await inner.close();
  });
});
