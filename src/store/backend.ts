import { dirname, resolve } from 'node:path';
import { EventEmitter } from 'node:events';
import { ensurePrivateDir, ensurePrivateFile, tightenFile } from '../private-files';
import type Database from 'better-sqlite3';
import { sqliteDriver } from './sqlite-driver';

/**
 * The key/value table under keyv and the store's atomic operations. Both keyv (plain reads/writes, through
 * KeyvBackendAdapter) and the store's transactions use the SAME table, so a value written by one is read by the
 * other. Values are keyv's serialized form: JSON `{"value": …}`. Three implementations: SQLite (the default, one
 * file), PostgreSQL (several replicas, ./postgres.ts) and a Map (unit tests).
 */
export interface KvOps {
  get(key: string): Promise<string | undefined>;
  /** insert or replace */
  put(key: string, value: string): Promise<void>;
  /** insert only: false when the key already exists */
  insert(key: string, value: string): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** every key starting with `prefix`, sorted by key (byte order) */
  list(prefix: string): Promise<Array<[string, string]>>;
  /**
   * As list, locking the rows for this transaction and skipping rows another transaction holds (PostgreSQL:
   * FOR UPDATE SKIP LOCKED, so that two replicas claiming work take disjoint rows; elsewhere the transaction is
   * exclusive already).
   */
  lockList(prefix: string): Promise<Array<[string, string]>>;
  /** tell every listener of `channel` (every replica on PostgreSQL); inside a transaction, only once it commits */
  notify(channel: string, payload: string): Promise<void>;
}

export interface KvBackend extends KvOps {
  readonly kind: 'sqlite' | 'memory' | 'postgres';
  /**
   * Run `fn` atomically against `tx` (never against the backend itself: on SQLite that would deadlock on the
   * connection's queue). SQLite: BEGIN IMMEDIATE … COMMIT (the write lock is taken before the first read).
   * PostgreSQL: a SERIALIZABLE transaction, re-run from the start when PostgreSQL reports a serialization failure,
   * so `fn` must only compute from what it reads through `tx` (it may run more than once).
   */
  transaction<T>(fn: (tx: KvOps) => Promise<T>): Promise<T>;
  /** `cb` for each notify() on `channel`; returns the unsubscribe function */
  listen(channel: string, cb: (payload: string) => void): Promise<() => void>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

export const TABLE = 'keyv';

/**
 * One connection, one queue: every operation (a transaction or a single statement) runs after the previous one
 * finished, so a statement never slips into another caller's open transaction on the shared connection.
 */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** The synchronous primitives of an embedded engine; SyncBackend makes them the async KvBackend. */
abstract class SyncBackend implements KvBackend {
  abstract readonly kind: 'sqlite' | 'memory';
  protected queue = new SerialQueue();
  /** this process only: a second process on the same SQLite file is not told (it re-reads on its own) */
  protected events = new EventEmitter();
  private pendingNotes: Array<[string, string]> = [];
  private readonly ops: KvOps = {
    get: async (k) => this.getSync(k),
    put: async (k, v) => this.putSync(k, v),
    insert: async (k, v) => this.insertSync(k, v),
    delete: async (k) => this.deleteSync(k),
    list: async (p) => this.listSync(p),
    lockList: async (p) => this.listSync(p),
    notify: async (c, p) => {
      this.pendingNotes.push([c, p]);
    },
  };

  protected abstract getSync(key: string): string | undefined;
  protected abstract putSync(key: string, value: string): void;
  protected abstract insertSync(key: string, value: string): boolean;
  protected abstract deleteSync(key: string): boolean;
  protected abstract listSync(prefix: string): Array<[string, string]>;
  protected abstract clearSync(): void;
  protected abstract begin(): void;
  protected abstract commit(): void;
  protected abstract rollback(): void;
  protected abstract closeSync(): void;

  get(key: string): Promise<string | undefined> {
    return this.queue.run(async () => this.getSync(key));
  }
  put(key: string, value: string): Promise<void> {
    return this.queue.run(async () => this.putSync(key, value));
  }
  insert(key: string, value: string): Promise<boolean> {
    return this.queue.run(async () => this.insertSync(key, value));
  }
  delete(key: string): Promise<boolean> {
    return this.queue.run(async () => this.deleteSync(key));
  }
  list(prefix: string): Promise<Array<[string, string]>> {
    return this.queue.run(async () => this.listSync(prefix));
  }
  lockList(prefix: string): Promise<Array<[string, string]>> {
    return this.list(prefix);
  }
  clear(): Promise<void> {
    return this.queue.run(async () => this.clearSync());
  }
  async notify(channel: string, payload: string): Promise<void> {
    queueMicrotask(() => this.events.emit(channel, payload));
  }
  async listen(channel: string, cb: (payload: string) => void): Promise<() => void> {
    this.events.on(channel, cb);
    return () => this.events.off(channel, cb);
  }
  transaction<T>(fn: (tx: KvOps) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      this.begin();
      this.pendingNotes = [];
      try {
        const result = await fn(this.ops);
        this.commit();
        const notes = this.pendingNotes;
        this.pendingNotes = [];
        for (const [c, p] of notes) void this.notify(c, p);
        return result;
      } catch (e) {
        this.pendingNotes = [];
        this.rollback();
        throw e;
      }
    });
  }
  close(): Promise<void> {
    return this.queue.run(async () => this.closeSync());
  }
}

const perFile = new Map<string, { queue: SerialQueue; events: EventEmitter }>();

export class SqliteBackend extends SyncBackend {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly stmts: {
    get: Database.Statement<[string], { value: string }>;
    put: Database.Statement<[string, string]>;
    insert: Database.Statement<[string, string]>;
    del: Database.Statement<[string]>;
    clear: Database.Statement<[]>;
    list: Database.Statement<[string, string], { key: string; value: string }>;
    begin: Database.Statement<[]>;
    commit: Database.Statement<[]>;
    rollback: Database.Statement<[]>;
  };

  constructor(
    readonly path: string,
    opts: { busyTimeoutMs?: number } = {},
  ) {
    super();
    // owner-only (issue 10.11): the file is created 0600 before SQLite opens it, so its WAL and SHM files follow
    ensurePrivateDir(dirname(path));
    ensurePrivateFile(path);
    for (const side of ['-wal', '-shm', '-journal']) tightenFile(`${path}${side}`);
    // two connections of ONE process to one file share a queue: a transaction waits across awaits for its
    // turn, whereas a second BEGIN IMMEDIATE would block the event loop the first one needs to finish (deadlock)
    const shared = perFile.get(resolve(path)) ?? { queue: new SerialQueue(), events: new EventEmitter().setMaxListeners(0) };
    perFile.set(resolve(path), shared);
    this.queue = shared.queue;
    this.events = shared.events;
    const Driver = sqliteDriver();
    this.db = new Driver(path, { timeout: opts.busyTimeoutMs ?? 10_000 });
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
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
    };
  }

  protected getSync(key: string): string | undefined {
    return this.stmts.get.get(key)?.value;
  }
  protected putSync(key: string, value: string): void {
    this.stmts.put.run(key, value);
  }
  protected insertSync(key: string, value: string): boolean {
    return this.stmts.insert.run(key, value).changes === 1;
  }
  protected deleteSync(key: string): boolean {
    return this.stmts.del.run(key).changes === 1;
  }
  protected clearSync(): void {
    this.stmts.clear.run();
  }
  protected listSync(prefix: string): Array<[string, string]> {
    // keys are ASCII; U+FFFF (EF BF BF in UTF-8) sorts after every ASCII continuation of the prefix
    return this.stmts.list.all(prefix, `${prefix}\uffff`).map((r) => [r.key, r.value]);
  }
  protected begin(): void {
    this.stmts.begin.run();
  }
  protected commit(): void {
    this.stmts.commit.run();
  }
  protected rollback(): void {
    if (this.db.inTransaction) this.stmts.rollback.run();
  }
  protected closeSync(): void {
    if (this.db.open) this.db.close();
  }
}

/** Unit tests: a Map. One process, one queue: atomic by construction (rolled back on throw). */
export class MemoryBackend extends SyncBackend {
  readonly kind = 'memory' as const;
  private map = new Map<string, string>();
  private before?: Map<string, string>;

  protected getSync(key: string): string | undefined {
    return this.map.get(key);
  }
  protected putSync(key: string, value: string): void {
    this.map.set(key, value);
  }
  protected insertSync(key: string, value: string): boolean {
    if (this.map.has(key)) return false;
    this.map.set(key, value);
    return true;
  }
  protected deleteSync(key: string): boolean {
    return this.map.delete(key);
  }
  protected clearSync(): void {
    this.map.clear();
  }
  protected listSync(prefix: string): Array<[string, string]> {
    return [...this.map.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  protected begin(): void {
    this.before = new Map(this.map);
  }
  protected commit(): void {
    this.before = undefined;
  }
  protected rollback(): void {
    if (this.before) this.map = this.before;
    this.before = undefined;
  }
  protected closeSync(): void {
    /* nothing to release */
  }
}
