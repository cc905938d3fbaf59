import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSqliteDriver, sqliteDriver, sqlitePackage, sqlitePackageFor } from '../../src/store/sqlite-driver';

/** Runs test/store/fixtures/statement-churn.js on this very runtime; its exit code and output. */
function churn(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(__dirname, 'fixtures', 'statement-churn.js'), ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, signal: err?.signal ?? null, stdout, stderr }),
    );
  });
}

describe('the SQLite driver of this runtime (issue 14)', () => {
  it('better-sqlite3 13 only where Node-API 10 is offered (Node >= 22.14); 12 from better-sqlite3-v12 elsewhere', () => {
    expect(sqlitePackageFor(9)).toBe('better-sqlite3-v12'); // Node 20 (any 20.x) and 22.12-22.13: 13 segfaults there
    expect(sqlitePackageFor(10)).toBe('better-sqlite3'); // Node 22.14+, 24
    expect(sqlitePackageFor(11)).toBe('better-sqlite3');
    expect(sqlitePackageFor(Number.NaN)).toBe('better-sqlite3-v12');
  });

  it(`loads the major that suits ${process.version} (Node-API ${process.versions.napi}) and opens a database`, () => {
    // the installed version, read from the package itself
    const version: string = require(`${sqlitePackage}/package.json`).version;
    expect(Number(version.split('.')[0])).toBe(Number(process.versions.napi) >= 10 ? 13 : 12);
    const Database = sqliteDriver();
    expect(sqliteDriver()).toBe(Database);
    const db = new Database(':memory:');
    expect(db.prepare('SELECT 41 + 1 AS x').get()).toEqual({ x: 42 });
    db.close();
  });

  it('names the missing fallback on an old runtime (a production install with --omit=optional on Node 20)', () => {
    const missing = (id: string): never => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => loadSqliteDriver('better-sqlite3-v12', missing)).toThrow(/better-sqlite3-v12 is not installed \(installed with --omit=optional\?\)\. Run on Node 22 or 24/);
    // any other failure, and a missing 13, are passed on as they are
    expect(() => loadSqliteDriver('better-sqlite3', missing)).toThrow("Cannot find module 'better-sqlite3'");
    expect(() => loadSqliteDriver('better-sqlite3-v12', () => { throw new Error('invalid ELF header'); })).toThrow('invalid ELF header');
    const Fake = function FakeDatabase() {};
    expect(loadSqliteDriver('better-sqlite3-v12', (id) => (id === 'better-sqlite3-v12' ? Fake : missing(id)))).toBe(Fake);
  });

  // better-sqlite3 12 on Node 24: "RemoveEnvironmentCleanupHook … Assertion failed: (env) != nullptr" from
  // Statement::~Statement when V8 collects statements, and so exit 134 (SIGABRT), in both children below
  it('a process whose prepared statements are collected while it runs, and that exits with them live, exits 0', async () => {
    const r = await churn(['driver', require.resolve(sqlitePackage), '5000']);
    expect(r.stderr).not.toMatch(/Assertion failed/);
    expect({ code: r.code, signal: r.signal, stdout: r.stdout }).toEqual({ code: 0, signal: null, stdout: 'churned\n' });
  });

  it('a process that opens the SQLite store 50 times, runs statements and exits with the last one open, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-churn-'));
    try {
      const r = await churn(['store', join(dir, 'state.sqlite'), '50']);
      expect(r.stderr).not.toMatch(/Assertion failed/);
      expect({ code: r.code, signal: r.signal, stdout: r.stdout }).toEqual({ code: 0, signal: null, stdout: 'churned\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
