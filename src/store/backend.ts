import { dirname } from 'node:path';
import { ensurePrivateDir, ensurePrivateFile, tightenFile } from '../private-files';
import Database from 'better-sqlite3';

/**
 * The synchronous key/value table under keyv. Both keyv (plain reads/writes, through KeyvBackendAdapter)
 * and the store's atomic operations (through `transaction`) use the SAME table, so a value written by one is
 * read by the other. Values are keyv's serialized form: JSON `{"value": …}`.
 */
export interface KvBackend {
  readonly kind: 'sqlite' | 'memory';
  get(key: string): string | undefined;
  /** insert or replace */
  put(key: string, value: string): void;
  /** insert only: false when the key already exists */
  insert(key: string, value: string): boolean;
  delete(key: string): boolean;
  clear(): void;
  /** every key starting with `prefix`, sorted by key (byte order) */
  list(prefix: string): Array<[string, string]>;
  /**
   * Run `fn` atomically. SQLite: BEGIN IMMEDIATE … COMMIT, i.e. the write lock is taken before the first read,
   * so a read-modify-write in another process (or connection) waits (busy timeout) instead of interleaving.
   * `fn` must be synchronous: an await inside would release nothing and commit early.
   */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export const TABLE = 'keyv';

export class SqliteBackend implements KvBackend {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly stmts: {
    get: Database.Statement<[string], { value: string }>;
    put: Database.Statement<[string, string]>;
    insert: Database.Statement<[string, string]>;
    del: Database.Statement<[string]>;
    clear: Database.Statement<[]>;
    list: Database.Statement<[string, string], { key: string; value: string }>;
  };

  constructor(
    readonly path: string,
    opts: { busyTimeoutMs?: number } = {},
  ) {
    // owner-only (issue 10.11): the file is created 0600 before SQLite opens it, so its WAL and SHM files follow
    ensurePrivateDir(dirname(path));
    ensurePrivateFile(path);
    for (const side of ['-wal', '-shm', '-journal']) tightenFile(`${path}${side}`);
    this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 10_000 });
    // WAL: readers never block the writer and vice versa; a crash (SIGKILL) loses no committed transaction.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`);
    this.stmts = {
      get: this.db.prepare(`SELECT value FROM ${TABLE} WHERE key = ?`),
      put: this.db.prepare(`INSERT INTO ${TABLE} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      insert: this.db.prepare(`INSERT INTO ${TABLE} (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`),
      del: this.db.prepare(`DELETE FROM ${TABLE} WHERE key = ?`),
      clear: this.db.prepare(`DELETE FROM ${TABLE}`),
      list: this.db.prepare(`SELECT key, value FROM ${TABLE} WHERE key >= ? AND key < ? ORDER BY key`),
    };
  }

  get(key: string): string | undefined {
    return this.stmts.get.get(key)?.value;
  }
  put(key: string, value: string): void {
    this.stmts.put.run(key, value);
  }
  insert(key: string, value: string): boolean {
    return this.stmts.insert.run(key, value).changes === 1;
  }
  delete(key: string): boolean {
    return this.stmts.del.run(key).changes === 1;
  }
  clear(): void {
    this.stmts.clear.run();
  }
  list(prefix: string): Array<[string, string]> {
    // keys are ASCII; U+FFFF (EF BF BF in UTF-8) sorts after every ASCII continuation of the prefix
    return this.stmts.list.all(prefix, `${prefix}\uffff`).map((r) => [r.key, r.value]);
  }
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Unit tests: a Map. One process, synchronous `fn`: atomic by construction (rolled back on throw). */
export class MemoryBackend implements KvBackend {
  readonly kind = 'memory' as const;
  private map = new Map<string, string>();

  get(key: string): string | undefined {
    return this.map.get(key);
  }
  put(key: string, value: string): void {
    this.map.set(key, value);
  }
  insert(key: string, value: string): boolean {
    if (this.map.has(key)) return false;
    this.map.set(key, value);
    return true;
  }
  delete(key: string): boolean {
    return this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
  list(prefix: string): Array<[string, string]> {
    return [...this.map.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  transaction<T>(fn: () => T): T {
    const before = new Map(this.map);
    try {
      return fn();
    } catch (e) {
      this.map = before;
      throw e;
    }
  }
  close(): void {
    /* nothing to release */
  }
}
