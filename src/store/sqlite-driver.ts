import type BetterSqlite3 from 'better-sqlite3';

/**
 * The one place that loads the SQLite driver (issue 14). better-sqlite3 13 is a Node-API addon with its binaries
 * inside the package (nothing compiled or downloaded at install); 12 wraps Node's internal ObjectWrap and aborts
 * the process on Node 24 when V8 collects a prepared statement ("RemoveEnvironmentCleanupHook … (env) != nullptr").
 * 13 is built for Node-API 10 (Node >= 22.14, 23.6, 24): on an older runtime — Node 20, end-of-life but still the
 * machine CI runs `npm test` on — opening a database SEGFAULTS rather than throwing, so 13 must never be loaded there.
 * Those runtimes use 12 from the optional dependency `better-sqlite3-v12` (an npm alias), chosen here first.
 */
export const NODE_API_FOR_V13 = 10;

export type SqlitePackage = 'better-sqlite3' | 'better-sqlite3-v12';

/** The package that serves SQLite on a runtime offering Node-API version `napi` (process.versions.napi). */
export function sqlitePackageFor(napi: number): SqlitePackage {
  return Number.isFinite(napi) && napi >= NODE_API_FOR_V13 ? 'better-sqlite3' : 'better-sqlite3-v12';
}

/** This runtime's package. */
export const sqlitePackage: SqlitePackage = sqlitePackageFor(Number(process.versions.napi));

/**
 * Loads `pkg` through `load` (require; injectable for tests). A missing fallback on an old runtime is named as such:
 * a production install with --omit=optional on Node 20.
 */
export function loadSqliteDriver(pkg: SqlitePackage, load: (id: string) => unknown = require): typeof BetterSqlite3 {
  try {
    return load(pkg) as typeof BetterSqlite3; // the name depends on the runtime: no static import
  } catch (e) {
    if (pkg === 'better-sqlite3-v12' && (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `SQLite store: Node ${process.version} offers Node-API ${process.versions.napi}, better-sqlite3 13 needs ` +
          `${NODE_API_FOR_V13} (Node 22.14 or later), and the fallback better-sqlite3-v12 is not installed ` +
          `(installed with --omit=optional?). Run on Node 22 or 24 LTS, or reinstall without --omit=optional.`,
      );
    }
    throw e;
  }
}

let driver: typeof BetterSqlite3 | undefined;

/** The Database constructor of this runtime's package, loaded on first use (a PostgreSQL deployment never loads it). */
export function sqliteDriver(): typeof BetterSqlite3 {
  driver ??= loadSqliteDriver(sqlitePackage);
  return driver;
}
