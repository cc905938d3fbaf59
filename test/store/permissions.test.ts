import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store';
import { sampleRun } from './fixtures/sample';
import { planAndStart, REQUESTER, startHarness, waitForRun } from '../runner/sim-harness';

/**
 * Issue 10.11: the state file (audit log, plans) and the pool database backups (the pool's secret table) are
 * owner-only, created so and tightened when found world-readable. The test process keeps the usual umask 022,
 * under which files would otherwise be created 0644.
 */
const mode = (p: string) => statSync(p).mode & 0o777;
const clock = { now: () => Date.UTC(2026, 10, 25), sleep: async () => undefined, scale: 1 };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xsupgrade-perms-'));
  chmodSync(dir, 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('state file permissions', () => {
  it('a new state file and its directories are created 0600 / 0700, its WAL too', async () => {
    const old = process.umask(0o022);
    try {
      const path = join(dir, 'data', 'nested', 'state.sqlite');
      const store = await openStore({ path, clock });
      await store.createRun(sampleRun('pool-a-20261125-1'));
      expect(mode(join(dir, 'data'))).toBe(0o700);
      expect(mode(join(dir, 'data', 'nested'))).toBe(0o700);
      expect(mode(path)).toBe(0o600);
      expect(mode(`${path}-wal`)).toBe(0o600);
      await store.close();
    } finally {
      process.umask(old);
    }
  });

  it('an existing world-readable state file and directory are tightened when opened', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const path = join(data, 'state.sqlite');
    const first = await openStore({ path, clock });
    await first.createRun(sampleRun('pool-a-20261125-1'));
    await first.close();
    chmodSync(path, 0o644);
    chmodSync(data, 0o755);
    const again = await openStore({ path, clock });
    expect(mode(path)).toBe(0o600);
    expect(mode(data)).toBe(0o700);
    expect(await again.getRun('pool-a-20261125-1')).toBeDefined();
    await again.close();
    // a shared parent (here the test's own temp dir is not touched: only the state file's own directory is)
    expect(mode(dir)).toBe(0o755);
  });
});

describe('pool database backup permissions (a real run on the simulator)', () => {
  jest.setTimeout(60_000);

  it('the backup directory becomes 0700, the new backup and older ones 0600', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      chmodSync(h.dir, 0o755);
      const older = join(h.dir, 'pool-a-20261101-1-pool-database.xml');
      writeFileSync(older, '<database/>', { mode: 0o644 });
      chmodSync(older, 0o644);
      const run = await planAndStart(h, REQUESTER);
      const waiting = await waitForRun(h.store, run.id, ['awaiting-approval', 'failed']);
      const backup = waiting.steps.find((s) => s.id === 'backup')!;
      expect(backup.state).toBe('done');
      const file = String((backup.data as { path: string }).path);
      expect(mode(file)).toBe(0o600);
      expect(mode(h.dir)).toBe(0o700);
      expect(mode(older)).toBe(0o600);
    } finally {
      await h.close();
    }
  });
});
