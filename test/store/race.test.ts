import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store';
import { sampleRun } from './fixtures/sample';

/**
 * Real processes racing on one SQLite file (what happens when a restarted runner, a CLI command and the bot meet).
 * Each worker waits for a "go" file, then hammers the store; the assertions count outcomes, never time.
 */
const WORKER = join(__dirname, 'fixtures', 'race-worker.js');

function spawnWorker(db: string, worker: string, op: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [WORKER, db, worker, op, String(count)], { timeout: 50_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${worker} failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as string[]);
    });
  });
}

async function race(db: string, op: string, count: number): Promise<string[][]> {
  const workers = [spawnWorker(db, 'w1', op, count), spawnWorker(db, 'w2', op, count)];
  writeFileSync(`${db}.go`, '');
  return Promise.all(workers);
}

describe('two processes racing on one state file', () => {
  let dir: string;
  let db: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-race-'));
    db = join(dir, 'state.sqlite');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('updateRun: no update is lost, every write increments the revision once', async () => {
    const store = await openStore({ path: db });
    await store.createRun(sampleRun('race-run'));
    await race(db, 'update', 150);
    const run = (await store.getRun('race-run'))!;
    expect(run.revision).toBe(300);
    expect(run.approvals).toHaveLength(300);
    expect(new Set(run.approvals.map((a) => a.stepId)).size).toBe(300);
    await store.close();
  });

  test('acquireLease: each pool is won by exactly one process', async () => {
    const [w1, w2] = await race(db, 'lease', 600);
    const won = [...w1, ...w2].sort();
    expect(won).toHaveLength(600);
    expect(new Set(won).size).toBe(600);
    const store = await openStore({ path: db });
    for (const pool of ['pool-0', 'pool-77', 'pool-149']) {
      const lease = (await store.getLease(pool))!;
      expect((lease.owner === 'w1' ? w1 : w2)).toContain(pool);
    }
    await store.close();
  });

  test('nextRunId: ids are unique across processes and contiguous', async () => {
    const [w1, w2] = await race(db, 'runid', 100);
    const all = [...w1, ...w2];
    expect(new Set(all).size).toBe(200);
    const counters = all.map((id) => Number(id.replace('pool-a-20261125-', ''))).sort((a, b) => a - b);
    expect(counters).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});
