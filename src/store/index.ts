import Keyv from 'keyv';
import type { AuditEvent, Plan, Run } from '../domain/types';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../log';
import { MemoryBackend, SqliteBackend, type KvBackend } from './backend';
import { KeyvBackendAdapter } from './keyv-adapter';
import { formatRunId } from './run-id';
import { decode, encode, validate } from './schemas';
import {
  ConflictError,
  NotFoundError,
  StoreCorruptError,
  type AcquireLeaseResult,
  type Lease,
  type OutboxRecord,
  type OutboxStore,
  type RunFilter,
  type Schedule,
  type Store,
} from './types';

export * from './types';
export { formatRunId };

/**
 * The state store: keyv 5.6 over one better-sqlite3 table (or a Map in unit tests).
 *
 * Why keyv's get/set alone is not enough: `await keyv.get(k)` then `await keyv.set(k, v')` are two statements with an
 * event-loop turn between them; another process (a restarted runner, a CLI command, a second bot) can write in between
 * and one update is silently lost, and keyv has no compare-and-set or transaction API. Everything that must be atomic
 * across processes (run updates, run creation, counters, leases, audit appends) therefore runs as ONE synchronous
 * better-sqlite3 transaction opened with BEGIN IMMEDIATE on the same table keyv uses: the write lock is taken before
 * the read, so a concurrent writer waits (busy_timeout) and then sees the committed result. Plain reads and
 * unconditional writes (plans) go through keyv.
 */

export const DEFAULT_STATE_PATH = './data/state.sqlite';

/** XSUPGRADE_STATE or ./data/state.sqlite */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.XSUPGRADE_STATE && env.XSUPGRADE_STATE.trim() !== '' ? env.XSUPGRADE_STATE : DEFAULT_STATE_PATH;
}

const key = {
  run: (id: string) => `run:${id}`,
  runs: 'run:',
  runSeq: (pool: string, day: string) => `runseq:${pool}:${day}`,
  audit: (runId: string, seq: number) => `audit:${runId}:${String(seq).padStart(10, '0')}`,
  audits: (runId: string) => `audit:${runId}:`,
  auditSeq: (runId: string) => `auditseq:${runId}`,
  plan: (pool: string) => `plan:${pool}`,
  lease: (pool: string) => `lease:${pool}`,
  schedule: (id: string) => `schedule:${id}`,
  schedules: 'schedule:',
  scheduleSeq: (pool: string) => `scheduleseq:${pool}`,
  outbox: (id: string) => `outbox:${id}`,
  outboxes: 'outbox:',
  outboxSeq: 'outboxseq',
};

/** 12 digits: ids (and so keys) sort in creation order */
const formatOutboxId = (seq: number) => String(seq).padStart(12, '0');

/** yyyymmdd of an epoch ms, in UTC */
function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
}

function checkSynchronous(result: unknown, what: string): void {
  if (result && typeof (result as { then?: unknown }).then === 'function') {
    throw new TypeError(`${what}: the mutate function must be synchronous (it runs inside a database transaction)`);
  }
}

class KvStore implements Store {
  private closed = false;

  readonly outbox: OutboxStore = {
    add: async (entry) => {
      validate.outbox(key.outboxes, { ...entry, id: '0' });
      return this.tx(() => {
        for (;;) {
          const id = formatOutboxId(this.bump(key.outboxSeq));
          if (this.backend.insert(key.outbox(id), encode({ ...entry, id } satisfies OutboxRecord))) return id;
        }
      });
    },
    replace: async (entry) => {
      const k = key.outbox(entry.id);
      validate.outbox(k, entry);
      return this.tx(() => {
        if (this.backend.get(k) === undefined) return false;
        this.backend.put(k, encode(entry));
        return true;
      });
    },
    delete: async (id) => this.tx(() => this.backend.delete(key.outbox(id))),
    list: async () => {
      this.assertOpen();
      return this.backend.list(key.outboxes).map(([k, raw]) => validate.outbox(k, decode(k, raw)));
    },
  };

  constructor(
    private readonly backend: KvBackend,
    private readonly keyv: Keyv,
    private readonly clock: Clock,
  ) {}

  // -- helpers ---------------------------------------------------------------------------------

  private async read<T>(k: string, check: (k: string, v: unknown) => T): Promise<T | undefined> {
    this.assertOpen();
    let v: unknown;
    try {
      v = await this.keyv.get(k);
    } catch (e) {
      throw new StoreCorruptError(k, (e as Error).message);
    }
    return v === undefined ? undefined : check(k, v);
  }

  /** inside a transaction only */
  private readSync<T>(k: string, check: (k: string, v: unknown) => T): T | undefined {
    const raw = this.backend.get(k);
    return raw === undefined ? undefined : check(k, decode(k, raw));
  }

  private tx<T>(fn: () => T): T {
    this.assertOpen();
    return this.backend.transaction(fn);
  }

  private bump(counterKey: string): number {
    const n = (this.readSync(counterKey, validate.counter) ?? 0) + 1;
    this.backend.put(counterKey, encode(n));
    return n;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('state store is closed');
  }

  // -- runs ------------------------------------------------------------------------------------

  async nextRunId(pool: string, now: number): Promise<string> {
    const day = utcDay(now);
    return this.tx(() => {
      // skip ids taken by runs created without the counter (imports, older data)
      for (;;) {
        const id = formatRunId(pool, now, this.bump(key.runSeq(pool, day)));
        if (this.backend.get(key.run(id)) === undefined) return id;
      }
    });
  }

  async createRun(run: Run): Promise<void> {
    validate.run(key.run(run.id), run);
    this.tx(() => {
      if (!this.backend.insert(key.run(run.id), encode(run))) throw new ConflictError(`run ${run.id} already exists`);
    });
  }

  async getRun(id: string): Promise<Run | undefined> {
    return this.read(key.run(id), validate.run);
  }

  async updateRun(id: string, mutate: (run: Run) => void, opts: { expectedRevision?: number } = {}): Promise<Run> {
    const k = key.run(id);
    return this.tx(() => {
      const current = this.readSync(k, validate.run);
      if (!current) throw new NotFoundError(`run ${id} not found`);
      if (opts.expectedRevision !== undefined && current.revision !== opts.expectedRevision) {
        throw new ConflictError(`run ${id} changed since it was read (revision ${opts.expectedRevision}, now ${current.revision})`);
      }
      const next = structuredClone(current);
      checkSynchronous(mutate(next), `updateRun(${id})`);
      if (next.id !== id) throw new Error(`updateRun(${id}): the run id cannot change`);
      next.revision = current.revision + 1;
      next.updatedAt = this.clock.now();
      validate.run(k, next);
      this.backend.put(k, encode(next));
      return next;
    });
  }

  async listRuns(filter: RunFilter = {}): Promise<Run[]> {
    this.assertOpen();
    const runs = this.backend
      .list(key.runs)
      .map(([k, raw]) => validate.run(k, decode(k, raw)))
      .filter((r) => (filter.pool === undefined || r.pool === filter.pool) && (!filter.states || filter.states.includes(r.state)));
    return runs.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  // -- audit -----------------------------------------------------------------------------------

  private appendAuditSync(e: AuditEvent): void {
    const seq = this.bump(key.auditSeq(e.runId));
    // insert-only: an existing event is never overwritten
    if (!this.backend.insert(key.audit(e.runId, seq), encode(e))) {
      throw new ConflictError(`audit event ${seq} of run ${e.runId} already exists`);
    }
  }

  async appendAudit(e: AuditEvent): Promise<void> {
    validate.audit(key.audits(e.runId), e);
    this.tx(() => this.appendAuditSync(e));
  }

  async listAudit(runId: string): Promise<AuditEvent[]> {
    this.assertOpen();
    return this.backend.list(key.audits(runId)).map(([k, raw]) => validate.audit(k, decode(k, raw)));
  }

  // -- plans -----------------------------------------------------------------------------------

  async savePlan(pool: string, plan: Plan): Promise<void> {
    validate.plan(key.plan(pool), plan);
    this.assertOpen();
    await this.keyv.set(key.plan(pool), plan);
  }

  async getLatestPlan(pool: string): Promise<Plan | undefined> {
    return this.read(key.plan(pool), validate.plan);
  }

  // -- leases ----------------------------------------------------------------------------------

  async acquireLease(pool: string, owner: string, runId: string, ttlMs: number, now: number): Promise<AcquireLeaseResult> {
    if (!(ttlMs > 0)) throw new RangeError(`acquireLease: ttlMs must be > 0, got ${ttlMs}`);
    const k = key.lease(pool);
    return this.tx((): AcquireLeaseResult => {
      const held = this.readSync(k, validate.lease);
      const live = held !== undefined && now < held.expiresAt;
      if (live && !(held.owner === owner && held.runId === runId)) {
        return { ok: false, holder: held.owner, runId: held.runId, expiresAt: held.expiresAt };
      }
      this.backend.put(k, encode({ owner, runId, expiresAt: now + ttlMs } satisfies Lease));
      if (held && !live && held.owner !== owner) {
        this.appendAuditSync({
          at: now,
          runId,
          kind: 'lease',
          actor: owner,
          message: `took over the lease of pool ${pool} from ${held.owner} (run ${held.runId}), expired at ${new Date(held.expiresAt).toISOString()}`,
          detail: { pool, previousOwner: held.owner, previousRunId: held.runId, expiredAt: held.expiresAt },
        });
        return { ok: true, tookOverFrom: held.owner };
      }
      return { ok: true };
    });
  }

  async renewLease(pool: string, owner: string, ttlMs: number, now: number): Promise<boolean> {
    const k = key.lease(pool);
    return this.tx(() => {
      const held = this.readSync(k, validate.lease);
      // an expired lease nobody took over is still ours to renew
      if (!held || held.owner !== owner) return false;
      this.backend.put(k, encode({ ...held, expiresAt: now + ttlMs } satisfies Lease));
      return true;
    });
  }

  async releaseLease(pool: string, owner: string): Promise<void> {
    const k = key.lease(pool);
    this.tx(() => {
      const held = this.readSync(k, validate.lease);
      if (held && held.owner === owner) this.backend.delete(k);
    });
  }

  async getLease(pool: string): Promise<Lease | undefined> {
    return this.read(key.lease(pool), validate.lease);
  }

  // -- schedules -------------------------------------------------------------------------------

  async nextScheduleId(pool: string): Promise<string> {
    return this.tx(() => {
      for (;;) {
        const id = `${pool}-w${this.bump(key.scheduleSeq(pool))}`;
        if (this.backend.get(key.schedule(id)) === undefined) return id;
      }
    });
  }

  async saveSchedule(s: Schedule): Promise<void> {
    validate.schedule(key.schedule(s.id), s);
    this.assertOpen();
    await this.keyv.set(key.schedule(s.id), s);
  }

  async getSchedule(id: string): Promise<Schedule | undefined> {
    return this.read(key.schedule(id), validate.schedule);
  }

  async updateSchedule(id: string, mutate: (s: Schedule) => void): Promise<Schedule> {
    const k = key.schedule(id);
    return this.tx(() => {
      const current = this.readSync(k, validate.schedule);
      if (!current) throw new NotFoundError(`schedule ${id} not found`);
      const next = structuredClone(current);
      checkSynchronous(mutate(next), `updateSchedule(${id})`);
      if (next.id !== id) throw new Error(`updateSchedule(${id}): the id cannot change`);
      next.updatedAt = this.clock.now();
      validate.schedule(k, next);
      this.backend.put(k, encode(next));
      return next;
    });
  }

  async listSchedules(filter: { pool?: string } = {}): Promise<Schedule[]> {
    this.assertOpen();
    return this.backend
      .list(key.schedules)
      .map(([k, raw]) => validate.schedule(k, decode(k, raw)))
      .filter((s) => filter.pool === undefined || s.pool === filter.pool);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    this.assertOpen();
    return this.keyv.delete(key.schedule(id));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.backend.close();
  }
}

export interface OpenStoreOptions {
  /** a SQLite file (its directory is created), or ':memory:' for a Map (unit tests) */
  path: string | ':memory:';
  clock?: Clock;
  logger?: Logger;
  /** how long a writer waits for another process's transaction (default 10 s) */
  busyTimeoutMs?: number;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const logger = opts.logger ?? silentLogger;
  const backend: KvBackend = opts.path === ':memory:' ? new MemoryBackend() : new SqliteBackend(opts.path, { busyTimeoutMs: opts.busyTimeoutMs });
  const keyv = new Keyv({
    store: new KeyvBackendAdapter(backend),
    namespace: undefined,
    useKeyPrefix: false,
    // plain JSON so the atomic paths (schemas.encode/decode) read and write the very same format
    serialize: (d: unknown) => JSON.stringify(d),
    deserialize: (s: string) => JSON.parse(s),
    throwOnErrors: true,
  });
  // keyv is an event emitter: an 'error' event without a listener would throw from inside keyv
  keyv.on('error', (err: unknown) => logger.error({ err }, 'state store (keyv) error'));
  return new KvStore(backend, keyv, opts.clock ?? systemClock);
}
