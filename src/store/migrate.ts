import { existsSync, statSync } from 'node:fs';
import { SqliteBackend, type KvBackend } from './backend';
import { isPostgresUrl, PostgresBackend, redactUrl } from './postgres';
import { decode, validate } from './schemas';
import { StoreCorruptError } from './types';

/**
 * `xsupgrade state migrate <sqlite-path> <postgres-url>` (issue 16): copies a single instance's state file into an
 * empty PostgreSQL database, so that several replicas can share it. Every value is validated on the way (a corrupt
 * one stops the migration, naming its key), the copy is ONE transaction (all or nothing), and an already used
 * database is refused: nothing is merged or overwritten. The source file is only read.
 */

export class MigrateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrateError';
  }
}

export interface MigrateSummary {
  keys: number;
  runs: number;
  auditEvents: number;
  plans: number;
  schedules: number;
  outbox: number;
  leases: number;
  from: string;
  to: string;
}

/** the check for a stored value, by the key's prefix (counters and notices are numbers) */
function checkValue(key: string, raw: string): void {
  const value = decode(key, raw);
  const prefix = key.slice(0, key.indexOf(':') + 1);
  switch (prefix) {
    case 'run:':
      validate.runHead(key, value);
      return;
    case 'audit:':
      validate.audit(key, value);
      return;
    case 'plan:':
    case 'runplan:':
      validate.plan(key, value);
      return;
    case 'runbaseline:':
      validate.baseline(key, value);
      return;
    case 'runstep:':
      validate.step(key, value);
      return;
    case 'lease:':
      validate.lease(key, value);
      return;
    case 'schedule:':
      validate.schedule(key, value);
      return;
    case 'outbox:':
      validate.outbox(key, value);
      return;
    case 'runseq:':
    case 'auditseq:':
    case 'scheduleseq:':
    case 'leasetoken:':
    case 'notice:':
    case 'replica:':
      validate.counter(key, value);
      return;
    default:
      if (key === 'outboxseq') validate.counter(key, value);
      else throw new StoreCorruptError(key, 'unknown key (not written by xsupgrade)');
  }
}

export async function migrateState(fromPath: string, toUrl: string): Promise<MigrateSummary> {
  if (!isPostgresUrl(toUrl)) throw new MigrateError(`target: expected a postgres:// URL, got "${toUrl.replace(/:[^:@/]*@/, ':***@')}"`);
  if (isPostgresUrl(fromPath)) throw new MigrateError('source: expected the path of a SQLite state file (XSUPGRADE_STATE of the single instance), got a URL');
  if (!existsSync(fromPath) || !statSync(fromPath).isFile()) throw new MigrateError(`source: no SQLite state file at ${fromPath}`);
  let source: KvBackend | undefined;
  let target: PostgresBackend | undefined;
  try {
    source = new SqliteBackend(fromPath);
    // one read transaction: a consistent snapshot even if something still writes (stop the bot first, docs/ha.md)
    const rows = await source.transaction((tx) => tx.list(''));
    for (const [key, raw] of rows) checkValue(key, raw);
    target = await PostgresBackend.open({ url: toUrl });
    await target.transaction(async (tx) => {
      const existing = await tx.list('');
      if (existing.length > 0) {
        throw new MigrateError(`target ${redactUrl(toUrl)} already holds ${existing.length} keys: migrate into an empty database (nothing was changed)`);
      }
      for (const [key, raw] of rows) await tx.insert(key, raw);
    });
    // read back: the copy is what the file holds, byte for byte
    const copied = await target.list('');
    const same = copied.length === rows.length && copied.every(([k, v], i) => k === rows[i][0] && v === rows[i][1]);
    if (!same) throw new MigrateError(`the copy in ${redactUrl(toUrl)} differs from ${fromPath} after the migration: do not start the replicas; check the database`);
    const count = (p: string) => rows.filter(([k]) => k.startsWith(p)).length;
    return {
      keys: rows.length,
      runs: count('run:'),
      auditEvents: count('audit:'),
      plans: count('plan:'),
      schedules: count('schedule:'),
      outbox: count('outbox:'),
      leases: count('lease:'),
      from: fromPath,
      to: redactUrl(toUrl),
    };
  } finally {
    await source?.close();
    await target?.close();
  }
}
