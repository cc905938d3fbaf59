import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { KvBackend, KvOps } from './backend';
import { TABLE } from './backend';

/**
 * The store on PostgreSQL, for several bot replicas sharing one database (docs/ha.md). The same key/value table as
 * SQLite, so the store's logic (src/store/index.ts) is one for both. Each atomic operation is a SERIALIZABLE
 * transaction: PostgreSQL aborts one of two that would interleave (SQLSTATE 40001), and it is re-run from the
 * start, which gives the same guarantee as SQLite's single writer (BEGIN IMMEDIATE) without a global lock.
 * Versioned migrations are applied on open, under an advisory lock so that two replicas starting together do not
 * both apply them. Committed run changes are announced with NOTIFY (xsupgrade_runs) to wake the lease holder.
 */

/** Ordered; a new version appends, never edits an applied one. */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'key/value table (byte-order keys, like SQLite)',
    sql: `CREATE TABLE IF NOT EXISTS ${TABLE} (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL)`,
  },
  {
    // no change to the table: runs are written as a head, a plan, a baseline and one record per step
    // (src/store/run-parts.ts). The version makes an older xsupgrade, which expects whole run records, refuse the
    // database at start instead of failing on every run it reads (runs written whole are still read and split).
    version: 2,
    name: 'runs stored as head, plan, baseline and step records (issue 13)',
    sql: 'SELECT 1',
  },
];

const MIGRATION_LOCK = 0x78737570; // "xsup": one advisory lock id for schema changes
const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock detected
const MAX_ATTEMPTS = 30;

export class StoreSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreSchemaError';
  }
}

export { isPostgresUrl, redactUrl } from './url';

/** the first key after every key that starts with `prefix` (undefined: no upper bound) */
function prefixEnd(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

function opsOn(q: pg.Pool | pg.PoolClient): KvOps {
  return {
    async get(key) {
      const r = await q.query<{ value: string }>(`SELECT value FROM ${TABLE} WHERE key = $1`, [key]);
      return r.rows[0]?.value;
    },
    async put(key, value) {
      await q.query(`INSERT INTO ${TABLE} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
    },
    async insert(key, value) {
      const r = await q.query(`INSERT INTO ${TABLE} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, [key, value]);
      return r.rowCount === 1;
    },
    async delete(key) {
      const r = await q.query(`DELETE FROM ${TABLE} WHERE key = $1`, [key]);
      return r.rowCount === 1;
    },
    async list(prefix) {
      const end = prefixEnd(prefix);
      const r = end === undefined
        ? await q.query<{ key: string; value: string }>(`SELECT key, value FROM ${TABLE} ORDER BY key`)
        : await q.query<{ key: string; value: string }>(`SELECT key, value FROM ${TABLE} WHERE key >= $1 AND key < $2 ORDER BY key`, [prefix, end]);
      return r.rows.map((row) => [row.key, row.value]);
    },
    async lockList(prefix) {
      const end = prefixEnd(prefix) ?? '\u{10FFFF}';
      const r = await q.query<{ key: string; value: string }>(
        `SELECT key, value FROM ${TABLE} WHERE key >= $1 AND key < $2 ORDER BY key FOR UPDATE SKIP LOCKED`,
        [prefix, end],
      );
      return r.rows.map((row) => [row.key, row.value]);
    },
    async notify(channel, payload) {
      // inside a transaction PostgreSQL delivers it at COMMIT, and not at all on ROLLBACK
      await q.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
  };
}

export interface PostgresBackendOptions {
  url: string;
  /** connections in the pool (default 5) */
  max?: number;
  /** per-statement timeout, ms (default 15 s): a stuck database fails the call instead of hanging the runner */
  statementTimeoutMs?: number;
}

export class PostgresBackend implements KvBackend {
  readonly kind = 'postgres' as const;
  private readonly ops: KvOps;
  private listener?: pg.Client;
  private readonly channels = new Set<string>();
  private readonly events = new EventEmitter();
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresBackendOptions,
  ) {
    this.ops = opsOn(pool);
    this.events.setMaxListeners(0);
  }

  /** Connects, applies pending migrations and returns the backend; a database newer than this version is refused. */
  static async open(opts: PostgresBackendOptions): Promise<PostgresBackend> {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 5,
      statement_timeout: opts.statementTimeoutMs ?? 15_000,
      connectionTimeoutMillis: 10_000,
      application_name: 'xsupgrade',
    });
    // an idle connection dropped by the server must not crash the process: the next query reconnects
    pool.on('error', () => undefined);
    const backend = new PostgresBackend(pool, opts);
    try {
      await backend.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return backend;
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS xsupgrade_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const applied = new Set((await c.query<{ version: number }>('SELECT version FROM xsupgrade_migrations')).rows.map((r) => r.version));
      const known = Math.max(...MIGRATIONS.map((m) => m.version));
      const newer = [...applied].filter((v) => v > known);
      if (newer.length > 0) {
        throw new StoreSchemaError(`the database has schema version ${Math.max(...newer)}, newer than this xsupgrade knows (${known}): upgrade xsupgrade instead of running an older one`);
      }
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO xsupgrade_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK');
          throw e;
        }
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      c.release();
    }
  }

  get = (key: string) => this.ops.get(key);
  put = (key: string, value: string) => this.ops.put(key, value);
  insert = (key: string, value: string) => this.ops.insert(key, value);
  delete = (key: string) => this.ops.delete(key);
  list = (prefix: string) => this.ops.list(prefix);
  lockList = (prefix: string) => this.ops.lockList(prefix);
  notify = (channel: string, payload: string) => this.ops.notify(channel, payload);

  async clear(): Promise<void> {
    await this.pool.query(`DELETE FROM ${TABLE}`);
  }

  async transaction<T>(fn: (tx: KvOps) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      let broken = false;
      try {
        await c.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        const result = await fn(opsOn(c));
        await c.query('COMMIT');
        return result;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        const code = (e as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          // jittered back-off: two replicas that collided do not collide again in lockstep
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
          continue;
        }
        throw e;
      } finally {
        c.release(broken);
      }
    }
  }

  /**
   * `cb` for each NOTIFY on `channel` (any replica's commit). One dedicated connection; when it drops, it is
   * re-opened (a missed wake-up is covered by the lease holders' periodic re-read).
   */
  async listen(channel: string, cb: (payload: string) => void): Promise<() => void> {
    this.events.on(channel, cb);
    const client = await this.ensureListener();
    if (!this.channels.has(channel)) {
      this.channels.add(channel);
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    }
    return () => this.events.off(channel, cb);
  }

  private async ensureListener(): Promise<pg.Client> {
    if (this.listener) return this.listener;
    const client = new pg.Client({ connectionString: this.opts.url, application_name: 'xsupgrade-listen' });
    client.on('notification', (n) => this.events.emit(n.channel, n.payload ?? ''));
    client.on('error', () => {
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.relisten().catch(() => undefined), 1000).unref();
    });
    await client.connect();
    this.listener = client;
    return client;
  }

  private async relisten(): Promise<void> {
    const client = await this.ensureListener();
    for (const channel of this.channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  }

  /** one round trip: the readiness check */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
