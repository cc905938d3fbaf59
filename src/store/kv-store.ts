import type Keyv from 'keyv';
import type { AuditEvent, Plan, Run } from '../domain/types';
import type { Clock } from '../clock';
import type { KvBackend, KvOps } from './backend';
import { formatRunId } from './run-id';
import { bareHead, deepFreeze, headOf, isInlineHead, joinRun, PartsCache, shallowChanged, type CachedStep, type StoredRunHead, type StoredStep } from './run-parts';
import { decode, encode, validate } from './schemas';
import {
  ConflictError,
  FencedError,
  NotFoundError,
  StoreCorruptError,
  type AcquireLeaseResult,
  type Fence,
  type Lease,
  type OutboxRecord,
  type OutboxStore,
  type RunFilter,
  type RunHead,
  type Schedule,
  type Store,
  type StoreInfo,
  type UpdateRunOptions,
} from './types';

/**
 * The state store: keyv 5.6 over one key/value table, in SQLite (default, one instance), PostgreSQL (several
 * replicas, ./postgres.ts) or a Map (unit tests). One implementation of the logic below serves all three.
 *
 * Why keyv's get/set alone is not enough: `await keyv.get(k)` then `await keyv.set(k, v')` are two statements with an
 * event-loop turn between them; another process (a restarted runner, a CLI command, a second bot) can write in between
 * and one update is silently lost, and keyv has no compare-and-set or transaction API. Everything that must be atomic
 * across processes (run updates, run creation, counters, leases, audit appends) therefore runs as ONE transaction
 * on the same table keyv uses (SQLite: BEGIN IMMEDIATE, the write lock taken before the read; PostgreSQL:
 * SERIALIZABLE, re-run on a serialization failure), so a concurrent writer sees the committed result.
 * Plain reads and unconditional writes (plans) go through keyv.
 *
 * Fencing (issue 16): a pool's lease carries a token that grows at every change of holder. The runner passes its
 * { pool, owner, token } with every write it makes; the write checks it in the same transaction and throws
 * FencedError when another replica took the lease over, so a stalled replica that wakes up persists nothing.
 */

/** PostgreSQL channel: a run's id, at each committed change (wakes the replica that drives it) */
export const RUN_CHANGED_CHANNEL = 'xsupgrade_runs';

const key = {
  run: (id: string) => `run:${id}`,
  runPlan: (id: string) => `runplan:${id}`,
  runBaseline: (id: string) => `runbaseline:${id}`,
  runStep: (id: string, index: number) => `runstep:${id}:${String(index).padStart(5, '0')}`,
  runSteps: (id: string) => `runstep:${id}:`,
  runs: 'run:',
  runSeq: (pool: string, day: string) => `runseq:${pool}:${day}`,
  audit: (runId: string, seq: number) => `audit:${runId}:${String(seq).padStart(10, '0')}`,
  audits: (runId: string) => `audit:${runId}:`,
  auditSeq: (runId: string) => `auditseq:${runId}`,
  plan: (pool: string) => `plan:${pool}`,
  lease: (pool: string) => `lease:${pool}`,
  leases: 'lease:',
  leaseToken: (pool: string) => `leasetoken:${pool}`,
  notice: (k: string) => `notice:${k}`,
  replica: (owner: string) => `replica:${owner}`,
  replicas: 'replica:',
  schedule: (id: string) => `schedule:${id}`,
  schedules: 'schedule:',
  scheduleSeq: (pool: string) => `scheduleseq:${pool}`,
  outbox: (id: string) => `outbox:${id}`,
  outboxes: 'outbox:',
  outboxSeq: 'outboxseq',
};

/** a replica's heartbeat record is deleted this long after it expired */
const REPLICA_FORGOTTEN_AFTER_MS = 24 * 3600_000;

/** 12 digits: ids (and so keys) sort in creation order */
const formatOutboxId = (seq: number) => String(seq).padStart(12, '0');

/** yyyymmdd of an epoch ms, in UTC */
function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10).replace(/-/g, '');
}

/** leases written before fencing have no token: they count as token 0 */
function withToken(l: Lease): Lease {
  return { ...l, token: l.token ?? 0 };
}

function checkSynchronous(result: unknown, what: string): void {
  if (result && typeof (result as { then?: unknown }).then === 'function') {
    throw new TypeError(`${what}: the mutate function must be synchronous (it runs inside a database transaction)`);
  }
}

export class KvStore implements Store {
  private closed = false;
  /** decoded plans and baselines of recent runs: immutable, so never stale (./run-parts.ts) */
  private readonly parts = new PartsCache();

  readonly outbox: OutboxStore = {
    add: async (entry) => {
      validate.outbox(key.outboxes, { ...entry, id: '0' });
      return this.tx(async (tx) => {
        for (;;) {
          const id = formatOutboxId(await this.bump(tx, key.outboxSeq));
          if (await tx.insert(key.outbox(id), encode({ ...entry, id } satisfies OutboxRecord))) return id;
        }
      });
    },
    replace: async (entry) => {
      const k = key.outbox(entry.id);
      validate.outbox(k, entry);
      return this.tx(async (tx) => {
        if ((await tx.get(k)) === undefined) return false;
        await tx.put(k, encode(entry));
        return true;
      });
    },
    delete: async (id) => this.tx((tx) => tx.delete(key.outbox(id))),
    list: async () => {
      this.assertOpen();
      return (await this.backend.list(key.outboxes)).map(([k, raw]) => validate.outbox(k, decode(k, raw)));
    },
    claim: async (owner, now) =>
      this.tx(async (tx) => {
        const alive = new Set(
          (await tx.list(key.replicas))
            .filter(([k, raw]) => validate.counter(k, decode(k, raw)) > now)
            .map(([k]) => k.slice(key.replicas.length)),
        );
        const mine: OutboxRecord[] = [];
        for (const [k, raw] of await tx.lockList(key.outboxes)) {
          const entry = validate.outbox(k, decode(k, raw));
          if (entry.owner === owner) mine.push(entry);
          else if (entry.owner === undefined || !alive.has(entry.owner)) {
            const claimed = { ...entry, owner };
            await tx.put(k, encode(claimed));
            mine.push(claimed);
          }
        }
        return mine;
      }),
  };

  constructor(
    private readonly backend: KvBackend,
    private readonly keyv: Keyv,
    private readonly clock: Clock,
    private readonly location: string,
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
  private async readTx<T>(tx: KvOps, k: string, check: (k: string, v: unknown) => T): Promise<T | undefined> {
    const raw = await tx.get(k);
    return raw === undefined ? undefined : check(k, decode(k, raw));
  }

  private tx<T>(fn: (tx: KvOps) => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.backend.transaction(fn);
  }

  private async bump(tx: KvOps, counterKey: string): Promise<number> {
    const n = ((await this.readTx(tx, counterKey, validate.counter)) ?? 0) + 1;
    await tx.put(counterKey, encode(n));
    return n;
  }

  /** The write goes ahead only while `fence` is still the pool's lease (same owner, same token). */
  private async checkFence(tx: KvOps, fence: Fence | undefined): Promise<void> {
    if (!fence) return;
    const raw = await this.readTx(tx, key.lease(fence.pool), validate.lease);
    const held = raw && withToken(raw);
    if (!held || held.owner !== fence.owner || held.token !== fence.token) {
      const now = held ? `${held.owner} holds it with token ${held.token}` : 'nobody holds it';
      throw new FencedError(`pool ${fence.pool}: the lease ${fence.owner} wrote with (token ${fence.token}) was taken over (${now}); nothing was written`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('state store is closed');
  }

  // -- runs ------------------------------------------------------------------------------------

  async nextRunId(pool: string, now: number): Promise<string> {
    const day = utcDay(now);
    return this.tx(async (tx) => {
      // skip ids taken by runs created without the counter (imports, older data)
      for (;;) {
        const id = formatRunId(pool, now, await this.bump(tx, key.runSeq(pool, day)));
        if ((await tx.get(key.run(id))) === undefined) return id;
      }
    });
  }

  async createRun(run: Run, opts: { audit?: AuditEvent; fence?: Fence } = {}): Promise<void> {
    validate.run(key.run(run.id), run);
    if (run.baseline) validate.baseline(key.runBaseline(run.id), run.baseline);
    if (opts.audit) checkRunAudit(`createRun(${run.id})`, run.id, opts.audit);
    const revs = run.steps.map(() => run.revision);
    await this.tx(async (tx) => {
      await this.checkFence(tx, opts.fence);
      if (!(await tx.insert(key.run(run.id), encode(headOf(run, revs))))) throw new ConflictError(`run ${run.id} already exists`);
      await tx.put(key.runPlan(run.id), encode(run.plan));
      if (run.baseline) await tx.put(key.runBaseline(run.id), encode(run.baseline));
      for (const [i, step] of run.steps.entries()) await tx.put(key.runStep(run.id, i), encode({ rev: run.revision, step } satisfies StoredStep));
      if (opts.audit) await this.appendAuditTx(tx, opts.audit);
      await tx.notify(RUN_CHANGED_CHANNEL, run.id);
    });
  }

  async getRun(id: string): Promise<Run | undefined> {
    this.assertOpen();
    const k = key.run(id);
    // the head and the step records are read one after the other: a writer committing in between shows as a step
    // record newer than the head, and the read is made again (at last in one transaction)
    for (let attempt = 0; attempt < 3; attempt++) {
      const raw = await this.backend.get(k);
      if (raw === undefined) return undefined;
      const run = await this.withParts(validate.runHead(k, decode(k, raw)), this.backend);
      if (run) return run.run;
    }
    return this.tx(async (tx) => {
      const head = await this.readTx(tx, k, validate.runHead);
      return head && (await this.withParts(head, tx))!.run;
    });
  }

  async updateRun(id: string, mutate: (run: Run) => void, opts: UpdateRunOptions = {}): Promise<Run> {
    const k = key.run(id);
    const { next, written } = await this.tx(async (tx) => {
      await this.checkFence(tx, opts.fence);
      const head = await this.readTx(tx, k, validate.runHead);
      if (!head) throw new NotFoundError(`run ${id} not found`);
      if (opts.expectedRevision !== undefined && head.revision !== opts.expectedRevision) {
        throw new ConflictError(`run ${id} changed since it was read (revision ${opts.expectedRevision}, now ${head.revision})`);
      }
      // the run is assembled fresh for this update (its steps are shallow copies of the decoded ones), so it is
      // mutated in place: a copy of a 64-host run cost as much as reading it, at every write of progress (issue 13)
      const { run: current, stored } = (await this.withParts(head, tx))!;
      const { plan, baseline, revision } = current;
      const given = current.steps.slice();
      checkSynchronous(mutate(current), `updateRun(${id})`);
      const next = current;
      if (next.id !== id) throw new Error(`updateRun(${id}): the run id cannot change`);
      if (next.plan !== plan) throw new Error(`updateRun(${id}): a run's plan cannot change (it is what was approved)`);
      if (baseline && next.baseline !== baseline) throw new Error(`updateRun(${id}): a run's baseline cannot change once recorded`);
      next.revision = revision + 1;
      next.updatedAt = this.clock.now();
      // a step is rewritten when the mutate function replaced it or changed one of its fields (nested values are
      // frozen: they can only be replaced)
      const changed = next.steps.flatMap((step, i) => {
        const before = stored?.[i];
        return !before || step !== given[i] || shallowChanged(step, before.step) ? [i] : [];
      });
      const revs = next.steps.map((_, i) => stored?.[i]?.rev ?? next.revision);
      const written: Array<[number, string]> = [];
      for (const i of changed) {
        const sk = key.runStep(id, i);
        const text = encode({ rev: next.revision, step: validate.step(sk, { rev: next.revision, step: next.steps[i] }).step } satisfies StoredStep);
        revs[i] = next.revision;
        written.push([i, text]);
      }
      const nextHead = headOf(next, revs);
      validate.runHead(k, nextHead);
      const event = opts.audit?.(next);
      if (event) await this.appendAuditTx(tx, checkRunAudit(`updateRun(${id})`, id, event));
      if (!stored) await tx.put(key.runPlan(id), encode(plan));
      if (next.baseline && (!stored || !baseline)) {
        validate.baseline(key.runBaseline(id), next.baseline);
        await tx.put(key.runBaseline(id), encode(next.baseline));
      }
      for (const [i, text] of written) await tx.put(key.runStep(id, i), text);
      for (let i = next.steps.length; i < (head.stepRevs ?? head.steps ?? []).length; i++) await tx.delete(key.runStep(id, i));
      await tx.put(k, encode(nextHead));
      await tx.notify(RUN_CHANGED_CHANNEL, id);
      return { next, written };
    });
    // committed: the steps just written join the cache under their revision
    const parts = this.parts.get(id);
    if (parts) {
      parts.steps.length = next.steps.length;
      for (const [i, text] of written) parts.steps[i] = deepFreeze(decode(key.runStep(id, i), text) as StoredStep);
    }
    return next;
  }

  async listRuns(filter: RunFilter = {}): Promise<Run[]> {
    const runs: Run[] = [];
    for (const head of await this.storedHeads(filter)) {
      const run = (await this.withParts(head, this.backend))?.run ?? (await this.getRun(head.id));
      if (run) runs.push(run);
    }
    return runs;
  }

  async listRunHeads(filter: RunFilter = {}): Promise<RunHead[]> {
    return (await this.storedHeads(filter)).map(bareHead);
  }

  /** the stored heads of the runs `filter` selects, newest first (createdAt, then id) */
  private async storedHeads(filter: RunFilter): Promise<StoredRunHead[]> {
    this.assertOpen();
    return (await this.backend.list(key.runs))
      .map(([k, raw]) => validate.runHead(k, decode(k, raw)))
      .filter((r) => (filter.pool === undefined || r.pool === filter.pool) && (!filter.states || filter.states.includes(r.state)))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /**
   * The run of a head (./run-parts.ts): plan, baseline and the steps whose revision this process decoded before
   * come from the cache, the others are read through `from`. Undefined when a step record is newer than the head
   * (read outside a transaction while a writer committed). `stored` is undefined for a head written before the
   * split (everything inline), which is returned as it is.
   */
  private async withParts(head: StoredRunHead, from: Pick<KvOps, 'get' | 'list'>): Promise<{ run: Run; stored?: CachedStep[] } | undefined> {
    if (isInlineHead(head)) return { run: joinRun(head, head.plan, head.baseline, head.steps) };
    const id = head.id;
    const revs = head.stepRevs!;
    const part = async <T>(k: string, check: (k: string, v: unknown) => T): Promise<T> => {
      const raw = await from.get(k);
      if (raw === undefined) throw new StoreCorruptError(k, `missing: run ${id} refers to it`);
      return deepFreeze(check(k, decode(k, raw)));
    };
    const cached = this.parts.get(id);
    const plan = cached?.plan ?? (await part(key.runPlan(id), validate.plan));
    const baseline = head.hasBaseline ? (cached?.baseline ?? (await part(key.runBaseline(id), validate.baseline))) : undefined;
    const steps = revs.map((rev, i) => (cached?.steps[i]?.rev === rev ? cached.steps[i] : undefined));
    const missing = steps.flatMap((s, i) => (s ? [] : [i]));
    if (missing.length > 0) {
      // a cold read takes all the run's step records in one query; a warm one, the few that changed
      const listed = missing.length > 8 ? new Map(await from.list(key.runSteps(id))) : undefined;
      for (const i of missing) {
        const sk = key.runStep(id, i);
        const raw = listed ? listed.get(sk) : await from.get(sk);
        if (raw === undefined) throw new StoreCorruptError(sk, `missing: run ${id} refers to it`);
        const record = validate.step(sk, decode(sk, raw));
        if (record.rev > revs[i]!) return undefined;
        if (record.rev !== revs[i]) throw new StoreCorruptError(sk, `revision ${record.rev}, but the run's head says ${revs[i]}`);
        steps[i] = deepFreeze(record);
      }
    }
    const stored = steps as CachedStep[];
    this.parts.set(id, { plan, ...(baseline ? { baseline } : {}), steps: stored.slice() });
    return { run: joinRun(head, plan, baseline, stored.map((s) => ({ ...s.step }))), stored };
  }

  async onRunChanged(cb: (runId: string) => void): Promise<() => void> {
    this.assertOpen();
    return this.backend.listen(RUN_CHANGED_CHANNEL, cb);
  }

  // -- audit -----------------------------------------------------------------------------------

  private async appendAuditTx(tx: KvOps, e: AuditEvent): Promise<void> {
    const seq = await this.bump(tx, key.auditSeq(e.runId));
    // insert-only: an existing event is never overwritten
    if (!(await tx.insert(key.audit(e.runId, seq), encode(e)))) {
      throw new ConflictError(`audit event ${seq} of run ${e.runId} already exists`);
    }
  }

  async appendAudit(e: AuditEvent, opts: { fence?: Fence } = {}): Promise<void> {
    validate.audit(key.audits(e.runId), e);
    await this.tx(async (tx) => {
      await this.checkFence(tx, opts.fence);
      await this.appendAuditTx(tx, e);
    });
  }

  async listAudit(runId: string): Promise<AuditEvent[]> {
    this.assertOpen();
    return (await this.backend.list(key.audits(runId))).map(([k, raw]) => validate.audit(k, decode(k, raw)));
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
    return this.tx(async (tx): Promise<AcquireLeaseResult> => {
      const raw = await this.readTx(tx, k, validate.lease);
      const held = raw && withToken(raw);
      const live = held !== undefined && now < held.expiresAt;
      const mine = held !== undefined && held.owner === owner && held.runId === runId;
      if (live && !mine) {
        return { ok: false, holder: held.owner, runId: held.runId, expiresAt: held.expiresAt };
      }
      // a new holder (or the same one after a release) gets a new token; renewing one's own keeps it
      const token = mine ? held.token : Math.max(await this.bump(tx, key.leaseToken(pool)), (held?.token ?? 0) + 1);
      if (!mine) await tx.put(key.leaseToken(pool), encode(token));
      await tx.put(k, encode({ owner, runId, expiresAt: now + ttlMs, token } satisfies Lease));
      if (held && !live && held.owner !== owner) {
        await this.appendAuditTx(tx, {
          at: now,
          runId,
          kind: 'lease',
          actor: owner,
          message: `took over the lease of pool ${pool} from ${held.owner} (run ${held.runId}), expired at ${new Date(held.expiresAt).toISOString()}`,
          detail: { pool, previousOwner: held.owner, previousRunId: held.runId, expiredAt: held.expiresAt, token },
        });
        return { ok: true, token, tookOverFrom: held.owner };
      }
      return { ok: true, token };
    });
  }

  async renewLease(pool: string, owner: string, ttlMs: number, now: number, token?: number): Promise<boolean> {
    const k = key.lease(pool);
    return this.tx(async (tx) => {
      const raw = await this.readTx(tx, k, validate.lease);
      const held = raw && withToken(raw);
      // an expired lease nobody took over is still ours to renew
      if (!held || held.owner !== owner || (token !== undefined && held.token !== token)) return false;
      await tx.put(k, encode({ ...held, expiresAt: now + ttlMs } satisfies Lease));
      return true;
    });
  }

  async releaseLease(pool: string, owner: string, token?: number): Promise<void> {
    const k = key.lease(pool);
    await this.tx(async (tx) => {
      const raw = await this.readTx(tx, k, validate.lease);
      if (raw && raw.owner === owner && (token === undefined || withToken(raw).token === token)) await tx.delete(k);
    });
  }

  async getLease(pool: string): Promise<Lease | undefined> {
    const l = await this.read(key.lease(pool), validate.lease);
    return l && withToken(l);
  }

  async listLeases(): Promise<Array<Lease & { pool: string }>> {
    this.assertOpen();
    return (await this.backend.list(key.leases)).map(([k, raw]) => ({ pool: k.slice(key.leases.length), ...withToken(validate.lease(k, decode(k, raw))) }));
  }

  // -- replicas ----------------------------------------------------------------------------------

  async heartbeat(owner: string, ttlMs: number, now: number): Promise<void> {
    await this.tx(async (tx) => {
      await tx.put(key.replica(owner), encode(now + ttlMs));
      // every process start is a new replica name: forget those silent for a day (their entries stay claimable)
      for (const [k, raw] of await tx.list(key.replicas)) {
        if (validate.counter(k, decode(k, raw)) < now - REPLICA_FORGOTTEN_AFTER_MS) await tx.delete(k);
      }
    });
  }

  async listReplicas(): Promise<Array<{ owner: string; expiresAt: number }>> {
    this.assertOpen();
    return (await this.backend.list(key.replicas)).map(([k, raw]) => ({ owner: k.slice(key.replicas.length), expiresAt: validate.counter(k, decode(k, raw)) }));
  }

  // -- notices (scheduler reminders: once across replicas) ----------------------------------------

  async listNotices(): Promise<Record<string, number>> {
    this.assertOpen();
    const prefix = key.notice('');
    return Object.fromEntries((await this.backend.list(prefix)).map(([k, raw]) => [k.slice(prefix.length), validate.counter(k, decode(k, raw))]));
  }

  async claimNotice(name: string, expected: number | undefined, at: number): Promise<boolean> {
    const k = key.notice(name);
    return this.tx(async (tx) => {
      const current = await this.readTx(tx, k, validate.counter);
      if (current !== expected) return false;
      await tx.put(k, encode(at));
      return true;
    });
  }

  // -- schedules -------------------------------------------------------------------------------

  async nextScheduleId(pool: string): Promise<string> {
    return this.tx(async (tx) => {
      for (;;) {
        const id = `${pool}-w${await this.bump(tx, key.scheduleSeq(pool))}`;
        if ((await tx.get(key.schedule(id))) === undefined) return id;
      }
    });
  }

  async addSchedule(s: Schedule, live: (other: Schedule) => boolean): Promise<Schedule | undefined> {
    validate.schedule(key.schedule(s.id), s);
    return this.tx(async (tx) => {
      for (const [k, raw] of await tx.list(key.schedules)) {
        const other = validate.schedule(k, decode(k, raw));
        if (other.pool === s.pool && other.id !== s.id && live(other)) return other;
      }
      await tx.put(key.schedule(s.id), encode(s));
      return undefined;
    });
  }

  async getSchedule(id: string): Promise<Schedule | undefined> {
    return this.read(key.schedule(id), validate.schedule);
  }

  async updateSchedule(id: string, mutate: (s: Schedule) => void): Promise<Schedule> {
    const k = key.schedule(id);
    return this.tx(async (tx) => {
      const current = await this.readTx(tx, k, validate.schedule);
      if (!current) throw new NotFoundError(`schedule ${id} not found`);
      const next = structuredClone(current);
      checkSynchronous(mutate(next), `updateSchedule(${id})`);
      if (next.id !== id) throw new Error(`updateSchedule(${id}): the id cannot change`);
      next.updatedAt = this.clock.now();
      validate.schedule(k, next);
      await tx.put(k, encode(next));
      return next;
    });
  }

  async listSchedules(filter: { pool?: string } = {}): Promise<Schedule[]> {
    this.assertOpen();
    return (await this.backend.list(key.schedules))
      .map(([k, raw]) => validate.schedule(k, decode(k, raw)))
      .filter((s) => filter.pool === undefined || s.pool === filter.pool);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    this.assertOpen();
    return this.keyv.delete(key.schedule(id));
  }

  // -- operations ------------------------------------------------------------------------------

  describe(): StoreInfo {
    return { backend: this.backend.kind, location: this.location };
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.backend.get('ping:');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
  }
}


/** The audit event written with a change of run `runId` (createRun / updateRun `audit`): of that run, and valid. */
function checkRunAudit(where: string, runId: string, e: AuditEvent): AuditEvent {
  if (e.runId !== runId) throw new Error(`${where}: its audit event is for run ${e.runId}`);
  validate.audit(key.audits(runId), e);
  return e;
}
