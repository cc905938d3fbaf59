import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDriver, sqlitePackage } from '../../src/store/sqlite-driver';
import { StoreCorruptError, defaultStatePath, openStore } from '../../src/store';
import type { Clock } from '../../src/clock';
import type { Plan } from '../../src/domain/types';
import { storeContract } from './contract';
import { samplePlan, sampleRun } from './fixtures/sample';

/** this runtime's better-sqlite3 (13, or 12 where Node-API 10 is missing: src/store/sqlite-driver.ts) */
const Database = sqliteDriver();

const fixedClock = (t: number): Clock => ({ now: () => t, sleep: async () => undefined, scale: 1 });

storeContract('sqlite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-store-'));
  const path = join(dir, 'nested', 'state.sqlite');
  return {
    open: () => openStore({ path, clock: fixedClock(5_000), busyTimeoutMs: 5_000 }),
    second: () => openStore({ path, clock: fixedClock(5_000), busyTimeoutMs: 5_000 }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
storeContract('memory', () => ({ open: () => openStore({ path: ':memory:', clock: fixedClock(5_000) }), cleanup: async () => undefined }));

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

  test("issue 13: a write of progress rewrites the head and the steps it changed; plan and baseline are written once", async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    const hosts = Array.from({ length: 200 }, (_, i) => ({ host: `OpaqueRef:h${i}`, name: `host-${i}` })) as unknown as Plan['hosts'];
    const steps = [
      { id: 'backup', kind: 'backup' as const, state: 'pending' as const, attempts: 0 },
      { id: 'h1:evacuate', kind: 'evacuate' as const, state: 'pending' as const, attempts: 0, data: { moved: { 'OpaqueRef:v1': { name: 'vm-1' } } } },
    ];
    await store.createRun(sampleRun('r1', { plan: samplePlan({ hosts }), steps }));
    const db = new Database(path, { readonly: true });
    const row = (k: string) => (db.prepare('SELECT value FROM keyv WHERE key = ?').get(k) as { value: string } | undefined)?.value;
    const planText = row('runplan:r1')!;
    const untouchedStep = row('runstep:r1:00001')!;
    expect(JSON.parse(planText).value.hosts).toHaveLength(200);
    await store.updateRun('r1', (r) => {
      r.baseline = { takenAt: 1, haEnabled: false, hosts: [], vms: [] };
    });
    for (let i = 0; i < 5; i++) {
      await store.updateRun('r1', (r) => {
        r.steps[0].data = { moved: i };
      });
    }
    const head = JSON.parse(row('run:r1')!).value;
    for (const inline of ['plan', 'baseline', 'steps']) expect(head).not.toHaveProperty(inline);
    expect(head).toMatchObject({ hasBaseline: true, revision: 6, stepRevs: [6, 0] });
    expect(JSON.parse(row('runstep:r1:00000')!).value).toEqual({ rev: 6, step: { ...steps[0], data: { moved: 4 } } });
    expect(row('runstep:r1:00001')).toBe(untouchedStep);
    expect(row('run:r1')!.length).toBeLessThan(planText.length / 10);
    expect(row('runplan:r1')).toBe(planText);
    expect(JSON.parse(row('runbaseline:r1')!).value).toEqual({ takenAt: 1, haEnabled: false, hosts: [], vms: [] });
    db.close();
    // another process (nothing cached) reads the same run
    const other = await openStore({ path });
    expect(await other.getRun('r1')).toEqual(await store.getRun('r1'));
    await other.close();
    await store.close();
  });

  test('a step record written after the head was read is not mixed with the older head: the read is made again', async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    const writer = await openStore({ path });
    const steps = Array.from({ length: 3 }, (_, i) => ({ id: `s${i}`, kind: 'evacuate' as const, state: 'pending' as const, attempts: 0 }));
    await store.createRun(sampleRun('r1', { steps }));
    // between this store's read of the head and of a step record, the other process commits two steps at once
    const backend = (store as unknown as { backend: { get(k: string): Promise<string | undefined> } }).backend;
    const get = backend.get.bind(backend);
    let raced = false;
    backend.get = async (k: string) => {
      if (k.startsWith('runstep:') && !raced) {
        raced = true;
        await writer.updateRun('r1', (r) => {
          r.steps[0].state = 'done';
          r.steps[2].state = 'done';
        });
      }
      return get(k);
    };
    const run = (await store.getRun('r1'))!;
    expect(raced).toBe(true);
    expect(run.revision).toBe(1);
    expect(run.steps.map((s) => s.state)).toEqual(['done', 'pending', 'done']);
    await writer.close();
    await store.close();
  });

  test('a run stored before the split (plan and baseline inline) is read whole, and split at its next update', async () => {
    const path = join(dir, 'state.sqlite');
    let store = await openStore({ path });
    await store.close();
    const legacy = sampleRun('r1', { plan: samplePlan({ id: 'legacy-plan' }), baseline: { takenAt: 3, haEnabled: true, hosts: [], vms: [] } });
    let db = new Database(path);
    db.prepare('INSERT INTO keyv (key, value) VALUES (?, ?)').run('run:r1', JSON.stringify({ value: legacy }));
    db.close();
    store = await openStore({ path });
    expect(await store.getRun('r1')).toEqual(legacy);
    expect((await store.listRuns())[0]).toEqual(legacy);
    const { plan: _plan, baseline: _baseline, steps: _steps, ...legacyHead } = legacy;
    expect(await store.listRunHeads()).toEqual([legacyHead]);
    await store.updateRun('r1', (r) => {
      r.state = 'paused';
    });
    await store.close();
    db = new Database(path, { readonly: true });
    const keys = (db.prepare("SELECT key FROM keyv WHERE key LIKE '%:r1%'").all() as Array<{ key: string }>).map((r) => r.key).sort();
    db.close();
    expect(keys).toEqual(['run:r1', 'runbaseline:r1', 'runplan:r1', 'runstep:r1:00000']);
    store = await openStore({ path });
    expect(await store.getRun('r1')).toEqual({ ...legacy, state: 'paused', revision: 1, updatedAt: expect.any(Number) });
    await store.close();
  });

  test("a run whose plan record is missing is an error naming the plan's key", async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    await store.createRun(sampleRun('r1'));
    await store.close();
    const db = new Database(path);
    db.prepare('DELETE FROM keyv WHERE key = ?').run('runplan:r1');
    db.close();
    const reopened = await openStore({ path });
    await expect(reopened.getRun('r1')).rejects.toThrow(/"runplan:r1".*missing/);
    await expect(reopened.updateRun('r1', () => undefined)).rejects.toThrow(/"runplan:r1".*missing/);
    await reopened.close();
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

/**
 * A child process that opens the file, takes the write lock (BEGIN IMMEDIATE) and holds it until released; it loads
 * the driver this runtime uses, by path (better-sqlite3 13 segfaults on Node 20).
 */
async function holdWriteLock(path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const Database = require(process.argv[2]);
    const db = new Database(process.argv[1]);
    db.prepare('BEGIN IMMEDIATE').run();
    process.stdout.write('locked\\n');
    process.stdin.on('data', () => { db.prepare('ROLLBACK').run(); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script, path, require.resolve(sqlitePackage)], { stdio: ['pipe', 'pipe', 'inherit'], cwd: join(__dirname, '../..') });
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
