import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  ConflictError,
  NotFoundError,
  StoreCorruptError,
  defaultStatePath,
  openStore,
  type Store,
} from '../../src/store';
import type { Clock } from '../../src/clock';
import { samplePlan, sampleRun } from './fixtures/sample';

const fixedClock = (t: number): Clock => ({ now: () => t, sleep: async () => undefined, scale: 1 });

describe.each([
  ['sqlite file', 'file'],
  ['memory', 'memory'],
])('store (%s)', (_label, mode) => {
  let dir: string;
  let store: Store;
  let path: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-store-'));
    path = mode === 'file' ? join(dir, 'nested', 'state.sqlite') : ':memory:';
    store = await openStore({ path, clock: fixedClock(5_000) });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('createRun refuses an existing id with ConflictError', async () => {
    await store.createRun(sampleRun('pool-a-20261125-1'));
    await expect(store.createRun(sampleRun('pool-a-20261125-1', { requestedBy: 'U2' }))).rejects.toThrow(ConflictError);
    expect((await store.getRun('pool-a-20261125-1'))?.requestedBy).toBe('U1');
  });

  test('updateRun increments revision, sets updatedAt from the clock, and returns the new run', async () => {
    await store.createRun(sampleRun('r1'));
    const a = await store.updateRun('r1', (r) => {
      r.state = 'paused';
    });
    const b = await store.updateRun('r1', (r) => {
      r.steps[0].state = 'done';
    });
    expect([a.revision, b.revision]).toEqual([1, 2]);
    expect(b.updatedAt).toBe(5_000);
    const read = await store.getRun('r1');
    expect(read).toMatchObject({ state: 'paused', revision: 2, steps: [{ state: 'done' }] });
  });

  test('updateRun with a stale expectedRevision is a CAS conflict and writes nothing', async () => {
    await store.createRun(sampleRun('r1'));
    const seen = (await store.getRun('r1'))!;
    await store.updateRun('r1', (r) => {
      r.state = 'paused';
    }, { expectedRevision: seen.revision });
    await expect(
      store.updateRun('r1', (r) => {
        r.state = 'aborted';
      }, { expectedRevision: seen.revision }),
    ).rejects.toThrow(ConflictError);
    expect((await store.getRun('r1'))).toMatchObject({ state: 'paused', revision: 1 });
  });

  test('a mutate that throws rolls back (nothing written, revision unchanged)', async () => {
    await store.createRun(sampleRun('r1'));
    await expect(
      store.updateRun('r1', (r) => {
        r.state = 'done';
        throw new ConflictError('gate already approved');
      }),
    ).rejects.toThrow('gate already approved');
    expect(await store.getRun('r1')).toMatchObject({ state: 'running', revision: 0 });
  });

  test('updateRun refuses an async mutate, an unknown run, and a mutate that breaks the run', async () => {
    await store.createRun(sampleRun('r1'));
    await expect(store.updateRun('r1', (async () => undefined) as unknown as () => void)).rejects.toThrow(/synchronous/);
    await expect(store.updateRun('nope', () => undefined)).rejects.toThrow(NotFoundError);
    await expect(
      store.updateRun('r1', (r) => {
        (r as { state: string }).state = 'exploded';
      }),
    ).rejects.toThrow(/run:r1.*state/);
    expect((await store.getRun('r1'))?.revision).toBe(0);
  });

  test('nextRunId: pool, UTC date of now, per-day counter', async () => {
    const nov25late = Date.UTC(2026, 10, 25, 23, 59);
    expect(await store.nextRunId('pool-a', nov25late)).toBe('pool-a-20261125-1');
    expect(await store.nextRunId('pool-a', nov25late)).toBe('pool-a-20261125-2');
    expect(await store.nextRunId('pool-b', nov25late)).toBe('pool-b-20261125-1');
    expect(await store.nextRunId('pool-a', Date.UTC(2026, 10, 26, 0, 1))).toBe('pool-a-20261126-1');
  });

  test('nextRunId skips an id already taken by a run', async () => {
    await store.createRun(sampleRun('pool-a-20261125-1'));
    expect(await store.nextRunId('pool-a', Date.UTC(2026, 10, 25))).toBe('pool-a-20261125-2');
  });

  test('listRuns: newest first, filtered by pool and state', async () => {
    await store.createRun(sampleRun('a1', { createdAt: 1 }));
    await store.createRun(sampleRun('a2', { createdAt: 3, state: 'done' }));
    await store.createRun(sampleRun('b1', { createdAt: 2, pool: 'pool-b' }));
    expect((await store.listRuns()).map((r) => r.id)).toEqual(['a2', 'b1', 'a1']);
    expect((await store.listRuns({ pool: 'pool-a' })).map((r) => r.id)).toEqual(['a2', 'a1']);
    expect((await store.listRuns({ states: ['running', 'paused'] })).map((r) => r.id)).toEqual(['b1', 'a1']);
  });

  test('audit log: append order kept, per run, events are stored as given', async () => {
    for (let i = 0; i < 12; i++) {
      await store.appendAudit({ at: 100 - i, runId: 'r1', kind: 'step', actor: 'runner', message: `event ${i}` });
    }
    await store.appendAudit({ at: 1, runId: 'r10', kind: 'state', actor: 'cli', message: 'other run' });
    const events = await store.listAudit('r1');
    expect(events.map((e) => e.message)).toEqual(Array.from({ length: 12 }, (_, i) => `event ${i}`));
    expect(await store.listAudit('r10')).toHaveLength(1);
    await expect(store.appendAudit({ at: 1, runId: 'r1', kind: 'bogus' as 'step', actor: 'x', message: 'm' })).rejects.toThrow(/kind/);
  });

  test('plans: latest per pool', async () => {
    expect(await store.getLatestPlan('pool-a')).toBeUndefined();
    await store.savePlan('pool-a', samplePlan({ id: 'p1' }));
    await store.savePlan('pool-a', samplePlan({ id: 'p2' }));
    await store.savePlan('pool-b', samplePlan({ id: 'p3', pool: 'pool-b' }));
    expect((await store.getLatestPlan('pool-a'))?.id).toBe('p2');
    expect((await store.getLatestPlan('pool-b'))?.id).toBe('p3');
  });

  describe('leases', () => {
    test('a second owner is refused with the holder and its run', async () => {
      expect(await store.acquireLease('pool-a', 'bot-1', 'run-1', 60_000, 1_000)).toEqual({ ok: true });
      expect(await store.acquireLease('pool-a', 'bot-2', 'run-2', 60_000, 2_000)).toEqual({
        ok: false,
        holder: 'bot-1',
        runId: 'run-1',
        expiresAt: 61_000,
      });
      // the same owner may not hold a second run on the pool either
      expect(await store.acquireLease('pool-a', 'bot-1', 'run-3', 60_000, 2_000)).toMatchObject({ ok: false, runId: 'run-1' });
      // re-acquiring its own lease for its own run is fine (restart with a stable owner id)
      expect(await store.acquireLease('pool-a', 'bot-1', 'run-1', 60_000, 2_000)).toEqual({ ok: true });
      // other pools are independent
      expect(await store.acquireLease('pool-b', 'bot-2', 'run-2', 60_000, 2_000)).toEqual({ ok: true });
    });

    test('a stale lease is taken over only after expiry, and the take-over is audited', async () => {
      await store.acquireLease('pool-a', 'bot-1', 'run-1', 10_000, 1_000);
      expect(await store.acquireLease('pool-a', 'bot-2', 'run-1', 10_000, 10_999)).toMatchObject({ ok: false });
      expect(await store.listAudit('run-1')).toEqual([]);
      expect(await store.acquireLease('pool-a', 'bot-2', 'run-1', 10_000, 11_000)).toEqual({ ok: true, tookOverFrom: 'bot-1' });
      expect(await store.getLease('pool-a')).toEqual({ owner: 'bot-2', runId: 'run-1', expiresAt: 21_000 });
      const audit = await store.listAudit('run-1');
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ kind: 'lease', actor: 'bot-2', detail: { previousOwner: 'bot-1', pool: 'pool-a' } });
      // the old owner can no longer renew
      expect(await store.renewLease('pool-a', 'bot-1', 10_000, 11_500)).toBe(false);
    });

    test('renew extends, release frees, release by another owner is a no-op', async () => {
      await store.acquireLease('pool-a', 'bot-1', 'run-1', 10_000, 0);
      expect(await store.renewLease('pool-a', 'bot-1', 10_000, 9_000)).toBe(true);
      expect((await store.getLease('pool-a'))?.expiresAt).toBe(19_000);
      await store.releaseLease('pool-a', 'bot-2');
      expect(await store.getLease('pool-a')).toBeDefined();
      await store.releaseLease('pool-a', 'bot-1');
      expect(await store.getLease('pool-a')).toBeUndefined();
      expect(await store.renewLease('pool-a', 'bot-1', 10_000, 9_000)).toBe(false);
      expect(await store.acquireLease('pool-a', 'bot-2', 'run-2', 10_000, 9_500)).toEqual({ ok: true });
    });
  });

  test('schedules: ids per pool, save, update, list, delete', async () => {
    const id = await store.nextScheduleId('pool-a');
    expect(id).toBe('pool-a-w1');
    const s = {
      id,
      pool: 'pool-a',
      whenText: '2026-11-25T22:00:00Z',
      timezone: 'UTC',
      window: { kind: 'once' as const, startAt: 10, endAt: 20 },
      approvedPlan: samplePlan(),
      createdBy: 'U1',
      createdAt: 1,
      updatedAt: 1,
      state: 'scheduled' as const,
      nextStartAt: 10,
    };
    await store.saveSchedule(s);
    const updated = await store.updateSchedule(id, (x) => {
      x.state = 'active';
    });
    expect(updated).toMatchObject({ state: 'active', updatedAt: 5_000 });
    expect((await store.listSchedules({ pool: 'pool-a' })).map((x) => x.id)).toEqual([id]);
    expect(await store.listSchedules({ pool: 'pool-b' })).toEqual([]);
    expect(await store.deleteSchedule(id)).toBe(true);
    expect(await store.deleteSchedule(id)).toBe(false);
    await expect(store.updateSchedule(id, () => undefined)).rejects.toThrow(NotFoundError);
    expect(await store.nextScheduleId('pool-a')).toBe('pool-a-w2');
  });

  test('a closed store refuses work', async () => {
    await store.close();
    await expect(store.getRun('x')).rejects.toThrow(/closed/);
  });
});

describe('store on a file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('everything persists across close and reopen, including counters', async () => {
    const path = join(dir, 'state.sqlite');
    const now = Date.UTC(2026, 10, 25, 10);
    let store = await openStore({ path });
    const id = await store.nextRunId('pool-a', now);
    await store.createRun(sampleRun(id));
    await store.updateRun(id, (r) => {
      r.state = 'paused';
    });
    await store.appendAudit({ at: 1, runId: id, kind: 'state', actor: 'runner', message: 'paused' });
    await store.savePlan('pool-a', samplePlan({ id: 'p9' }));
    await store.acquireLease('pool-a', 'bot-1', id, 60_000, now);
    await store.close();

    store = await openStore({ path });
    expect(await store.getRun(id)).toMatchObject({ state: 'paused', revision: 1 });
    expect(await store.nextRunId('pool-a', now)).toBe('pool-a-20261125-2');
    expect((await store.listAudit(id)).map((e) => e.message)).toEqual(['paused']);
    expect((await store.getLatestPlan('pool-a'))?.id).toBe('p9');
    expect(await store.getLease('pool-a')).toMatchObject({ owner: 'bot-1', runId: id });
    await store.close();
  });

  test('the memory store does not persist', async () => {
    let store = await openStore({ path: ':memory:' });
    await store.createRun(sampleRun('r1'));
    await store.close();
    store = await openStore({ path: ':memory:' });
    expect(await store.getRun('r1')).toBeUndefined();
    await store.close();
  });

  test('a corrupt row gives an error naming the key and the field', async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    await store.createRun(sampleRun('r1'));
    const db = new Database(path);
    db.prepare('UPDATE keyv SET value = ? WHERE key = ?').run(JSON.stringify({ value: { ...sampleRun('r1'), revision: 'x' } }), 'run:r1');
    db.prepare('INSERT INTO keyv (key, value) VALUES (?, ?)').run('run:r2', '{not json');
    db.close();
    await expect(store.getRun('r1')).rejects.toThrow(StoreCorruptError);
    await expect(store.getRun('r1')).rejects.toThrow(/"run:r1".*revision/);
    await expect(store.getRun('r2')).rejects.toThrow(/"run:r2"/);
    await expect(store.updateRun('r1', () => undefined)).rejects.toThrow(/"run:r1".*revision/);
    await store.close();
  });

  test('a WAL database with a busy timeout; the table is the one keyv reads', async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    await store.savePlan('pool-a', samplePlan({ id: 'p1' }));
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const row = db.prepare('SELECT value FROM keyv WHERE key = ?').get('plan:pool-a') as { value: string };
    expect(JSON.parse(row.value).value.id).toBe('p1');
    db.close();
    await store.close();
  });

  test("two connections to one file see each other's committed writes", async () => {
    const path = join(dir, 'state.sqlite');
    const a = await openStore({ path, busyTimeoutMs: 5_000 });
    const b = await openStore({ path, busyTimeoutMs: 5_000 });
    await a.createRun(sampleRun('r1'));
    // interleave updates from two connections: every update sees the previous one's result
    const ops: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) {
      const s = i % 2 === 0 ? a : b;
      ops.push(s.updateRun('r1', (r) => {
        r.approvals.push({ stepId: `s${i}`, decision: 'approved', by: 'U', at: i });
      }));
    }
    await Promise.all(ops);
    const run = (await b.getRun('r1'))!;
    expect(run.revision).toBe(20);
    expect(run.approvals).toHaveLength(20);
    await a.close();
    await b.close();
  });

  test('a writer holding the lock makes the other connection wait, then fail after the busy timeout', async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    await store.createRun(sampleRun('r1'));
    await store.close();
    // both sides in fresh processes, as a second bot or a CLI command would be: SQLite shares lock state between the
    // connections of one process by inode, which a test file recreated on a reused inode can confuse
    const holder = await holdWriteLock(path);
    try {
      expect(await updateOnce(path, 50)).toMatch(/^error .*(locked|busy)/i);
    } finally {
      await holder.release();
    }
    expect(await updateOnce(path, 50)).toBe('ok 1');
  });
});

test('defaultStatePath: XSUPGRADE_STATE or ./data/state.sqlite', () => {
  expect(defaultStatePath({})).toBe('./data/state.sqlite');
  expect(defaultStatePath({ XSUPGRADE_STATE: '/var/lib/x.sqlite' })).toBe('/var/lib/x.sqlite');
});

/** One updateRun of run r1 by the real store code in a fresh process: "ok <revision>" or "error <message>". */
function updateOnce(path: string, busyTimeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, 'fixtures', 'update-once.js'), path, String(busyTimeoutMs)], { timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** A child process that opens the file, takes the write lock (BEGIN IMMEDIATE) and holds it until released. */
async function holdWriteLock(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.prepare('BEGIN IMMEDIATE').run();
    process.stdout.write('locked\\n');
    process.stdin.on('data', () => { db.prepare('ROLLBACK').run(); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['pipe', 'pipe', 'inherit'], cwd: join(__dirname, '../..') });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => /locked/.test(String(d)) && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.write('release\n');
      }),
  };
}
