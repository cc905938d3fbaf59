import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sqliteDriver } from '../../src/store/sqlite-driver';
import { openStore } from '../../src/store';
import { samplePlan, sampleRun } from '../store/fixtures/sample';
import { createTestDatabase, type TestDatabase } from './pg';

/** this runtime's better-sqlite3 (13, or 12 where Node-API 10 is missing: src/store/sqlite-driver.ts) */
const Database = sqliteDriver();

const CLI = resolve(__dirname, '../../dist/src/cli.js');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('xsupgrade state migrate <sqlite-path> <postgres-url>', () => {
  let dir: string;
  let db: TestDatabase;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-migrate-'));
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function singleInstanceState(): Promise<string> {
    const path = join(dir, 'state.sqlite');
    const s = await openStore({ path });
    const id = await s.nextRunId('pool-a', Date.UTC(2026, 10, 25));
    await s.createRun(sampleRun(id, { state: 'paused' }));
    await s.appendAudit({ at: 1, runId: id, kind: 'state', actor: 'U1', message: 'paused by U1' });
    await s.savePlan('pool-a', samplePlan({ id: 'p1' }));
    await s.acquireLease('pool-a', 'old-bot', id, 60_000, 0);
    await s.outbox.add({ queue: 'C1', describe: 'header', request: { method: 'chat.postMessage', args: { channel: 'C1', text: 'x' } }, createdAt: 1 });
    await s.claimNotice('approval:r1:gate', undefined, 5);
    await s.close();
    return path;
  }

  it('copies every run, audit event, plan, lease, counter and pending message; the replicas carry on from it', async () => {
    const path = await singleInstanceState();
    const r = await cli(['state', 'migrate', path, db.url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/copied \d+ keys .* 1 runs, 1 audit events, 1 plans, 0 schedules, 1 pending Slack messages, 1 pool leases/);
    const pgStore = await openStore({ path: db.url });
    try {
      const [run] = await pgStore.listRuns();
      expect(run).toMatchObject({ id: 'pool-a-20261125-1', state: 'paused' });
      expect((await pgStore.listAudit(run.id)).map((e) => e.message)).toEqual(['paused by U1']);
      expect((await pgStore.getLatestPlan('pool-a'))?.id).toBe('p1');
      expect(await pgStore.getLease('pool-a')).toMatchObject({ owner: 'old-bot', token: 1 });
      expect(await pgStore.outbox.list()).toHaveLength(1);
      expect(await pgStore.listNotices()).toEqual({ 'approval:r1:gate': 5 });
      // counters came along: no id is handed out twice, and a new holder's token is larger
      expect(await pgStore.nextRunId('pool-a', Date.UTC(2026, 10, 25))).toBe('pool-a-20261125-2');
      expect(await pgStore.acquireLease('pool-a', 'replica-a', run.id, 60_000, 120_000)).toMatchObject({ ok: true, token: 2, tookOverFrom: 'old-bot' });
    } finally {
      await pgStore.close();
    }
  });

  it('refuses a database already in use, and changes nothing in it', async () => {
    const path = await singleInstanceState();
    expect((await cli(['state', 'migrate', path, db.url])).code).toBe(0);
    const before = await openStore({ path: db.url });
    await before.updateRun('pool-a-20261125-1', (r) => {
      r.state = 'running';
    });
    await before.close();
    const again = await cli(['state', 'migrate', path, db.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds \d+ keys: migrate into an empty database \(nothing was changed\)/);
    const after = await openStore({ path: db.url });
    expect((await after.getRun('pool-a-20261125-1'))?.state).toBe('running');
    await after.close();
  });

  it('refuses a corrupt source naming the key and the field, and copies nothing', async () => {
    const path = await singleInstanceState();
    const raw = new Database(path);
    raw.prepare('UPDATE keyv SET value = ? WHERE key = ?').run(JSON.stringify({ value: { ...sampleRun('pool-a-20261125-1'), state: 'exploded' } }), 'run:pool-a-20261125-1');
    raw.close();
    const r = await cli(['state', 'migrate', path, db.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"run:pool-a-20261125-1".*state/);
    const s = await openStore({ path: db.url });
    expect(await s.listRuns()).toEqual([]);
    await s.close();
  });

  it('bad arguments: a usage line (exit 2), a missing file or a non-URL target (exit 1), never a password', async () => {
    expect((await cli(['state', 'migrate', 'only-one'])).code).toBe(2);
    expect((await cli(['state', 'copy', 'a', 'b'])).stderr).toMatch(/unknown action "copy"/);
    const missing = await cli(['state', 'migrate', join(dir, 'nope.sqlite'), db.url]);
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.stderr).toMatch(/no SQLite state file at/);
    const notUrl = await cli(['state', 'migrate', join(dir, 'nope.sqlite'), join(dir, 'other.sqlite')]);
    expect(notUrl.stderr).toMatch(/target: expected a postgres:\/\/ URL/);
    const path = await singleInstanceState();
    const unreachable = await cli(['state', 'migrate', path, 'postgres://bot:Sup3rS3cret@127.0.0.1:1/x']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr + unreachable.stdout).not.toContain('Sup3rS3cret');
  });
});
