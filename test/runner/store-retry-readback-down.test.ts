/**
 * A write of the run loop whose answer was lost has an unknown outcome: it may have been committed. Before it is made
 * again, the store is read for it (store-calls.ts retryStoreCall). When that read-back is itself refused (the store
 * still down), the outcome is still unknown: the write is NOT made again; the read-back is tried again after the next
 * wait, within the same retry budget, and the write is made again only once a read-back shows it absent. A store that
 * stays down stops the loop (StoreUnavailable) with the write made once, never repeated blindly.
 */
import { openStore, type Store } from '../../src/store';
import type { AuditEvent, Run } from '../../src/domain/types';
import { fastClock, makePlan, makeRun, scriptedSteps } from './helpers';
import { engineOn, executions, failingReads, failingStore, recordingClient, thread } from './store-failures';

/** How many waits the loop makes for one call before it gives up (store-calls.ts WRITE_RETRY_MS). */
const RETRY_WAITS = 5;

/** A run of pool-t with its backup done: the loop starts h1:disable next, then waits at h1:approval. */
async function backedUpRun(inner: Store): Promise<Run> {
  const run = makeRun(makePlan());
  for (const s of run.steps) if (s.id === 'backup') s.state = 'done';
  await inner.createRun(run);
  return run;
}

/** The write that starts h1:disable (makes it running, a new attempt). */
function startsH1Disable(before: Run, after: Run): boolean {
  const now = after.steps.find((s) => s.id === 'h1:disable')!;
  return now.state === 'running' && now.attempts !== before.steps.find((s) => s.id === 'h1:disable')!.attempts;
}

/** Drives that run over `store` (`inner` behind its faults) until the loop stops; the pool client answers every call. */
async function driveBackedUpRun(inner: Store, store: Store, steps = scriptedSteps()) {
  const pool = recordingClient();
  const t = engineOn(store, steps.registry, pool.client);
  const run = await backedUpRun(inner);
  t.engine.drive(run.id);
  await t.engine.whenIdle(run.id);
  return { t, run, seen: steps.seen, sent: pool.sent };
}

/**
 * `inner` behind a store that loses (`how`) the first audit record `lost` picks, then refuses the next `refusals`
 * read-backs of the audit (listAudit, counted in `r.down.failed`).
 */
function lostAuditThenRefusedReadBacks(inner: Store, how: 'lost' | 'after-commit', lost: (e: AuditEvent) => boolean, refusals: number) {
  let left = 1;
  let reads: ReturnType<typeof failingReads>['down'] | undefined;
  const f = failingStore(
    inner,
    {
      audit: (e) => {
        if (!lost(e) || left-- <= 0) return false;
        reads!.reads = refusals;
        return true;
      },
    },
    how,
  );
  const r = failingReads(f.store, 'listAudit');
  reads = r.down;
  return { f, r };
}

describe.each(['after-commit', 'lost'] as const)('Engine: a write whose answer was lost (%s), then a store that refuses the read-back', (how) => {
  it("a step's start: the read-back refused once, then the store answers: the start is written once (attempt 1), the step runs once", async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const f = failingStore(inner, {}, how);
    let left = 1;
    f.down.update = (before, after) => {
      if (!startsH1Disable(before, after) || left === 0) return false;
      left--;
      f.down.reads = 1; // the store is still down when the loop reads whether the start was recorded
      return true;
    };
    const { t, run, seen } = await driveBackedUpRun(inner, f.store);

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
    const { f, r } = lostAuditThenRefusedReadBacks(inner, how, (e) => e.message === 'h1:disable done', 2);
    const { t, run } = await driveBackedUpRun(inner, r.store);

    expect(f.failures.audits).toBe(1);
    expect(r.down.failed).toBe(2);
    expect((await inner.listAudit(run.id)).filter((e) => e.message === 'h1:disable done')).toHaveLength(1);
    expect((await inner.getRun(run.id))!.state).toBe('awaiting-approval');
    expect(thread(t.notifier, run.id)).toEqual([]);
    await inner.close();
  });

  it('the record written before an action on the pool: the read-back refused once: the record is written once, the action sent once', async () => {
    const inner = await openStore({ path: ':memory:', clock: fastClock() });
    const { f, r } = lostAuditThenRefusedReadBacks(inner, how, (e) => e.kind === 'xenapi' && e.message === 'host.disable h1', 1);
    const steps = scriptedSteps(async (ctx) => {
      if (ctx.step.id === 'h1:disable') await ctx.act('host.disable', ['h1'], 'h1');
      return undefined;
    });
    const { t, run, sent } = await driveBackedUpRun(inner, r.store, steps);

    expect(f.failures.audits).toBe(1);
    expect(r.down.failed).toBe(1);
    expect((await inner.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && e.message === 'host.disable h1')).toHaveLength(1);
    expect(sent).toEqual(['host.disable h1']);
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
      if (!startsH1Disable(before, after)) return false;
      if (left-- > 0) {
        f.down.reads = Number.POSITIVE_INFINITY; // from here on the store answers nothing
        return true;
      }
      return true; // a blind second write is refused too (it would commit, 'after-commit')
    };
    const { t, run, seen } = await driveBackedUpRun(inner, f.store);
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
