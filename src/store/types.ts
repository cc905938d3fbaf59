import type { AuditEvent, Plan, Run, RunState } from '../domain/types';

/** a run's own fields: its state, requester, times, approvals, Slack references (no plan, baseline or steps) */
export type RunHead = Omit<Run, 'plan' | 'baseline' | 'steps'>;

/** CAS lost: the run changed since it was read (or a createRun found the id taken). */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export interface UpdateRunOptions {
  expectedRevision?: number;
  fence?: Fence;
  /** the audit event of this change, made from the changed run (e.g. "the run stays paused"); same transaction */
  audit?: (run: Run) => AuditEvent;
}

/** A key that should exist does not (updateRun / updateSchedule on an unknown id). */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** A stored value that does not read back as what was written: names the key and the field. */
export class StoreCorruptError extends Error {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`state store: value under key "${key}" is corrupt: ${detail}`);
    this.name = 'StoreCorruptError';
  }
}

/**
 * A write made by a lease holder that was taken over since it acquired the lease (its token is no longer the
 * pool's): nothing was written. The runner stops without any further side effect (issue 16, fencing).
 */
export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

export interface Lease {
  owner: string;
  runId: string;
  /** epoch ms; the lease is stale from this instant on */
  expiresAt: number;
  /** fencing token: grows each time the lease changes hands (0 for a lease stored before tokens existed) */
  token: number;
}

/** What a lease holder passes with its writes: they succeed only while this is still the pool's lease. */
export interface Fence {
  pool: string;
  owner: string;
  token: number;
}

export interface StoreInfo {
  backend: 'sqlite' | 'postgres' | 'memory';
  /** the file, or the URL without its password */
  location: string;
}

export type AcquireLeaseResult =
  | { ok: true; token: number; tookOverFrom?: string }
  | { ok: false; holder: string; runId: string; expiresAt: number };

// ---------------------------------------------------------------------------------------------
// Schedules (issue 6): maintenance windows, persisted so they survive restarts.
// ---------------------------------------------------------------------------------------------

/** When a window opens (and closes). Times are epoch ms; wall-clock fields are in Schedule.timezone. */
export type WindowSpec =
  | { kind: 'once'; startAt: number; endAt?: number }
  | {
      kind: 'cron';
      /** node-cron syntax (5 or 6 fields), evaluated in Schedule.timezone */
      cron: string;
      /** the window closes this long after it opened … */
      durationMs?: number;
      /** … or at the next wall-clock HH:MM after it opened */
      endTime?: { hour: number; minute: number };
    };

/**
 * scheduled: waiting for nextStartAt; active: window open (current set);
 * done: the upgrade finished or a one-off window closed; blocked: the re-plan differed from the approved plan
 * (one-off window); missed: a one-off window passed while the bot was down; failed: the start was refused.
 */
export type ScheduleState = 'scheduled' | 'active' | 'done' | 'blocked' | 'missed' | 'failed';

export interface Schedule {
  /** short and typeable: pool-a-w1 */
  id: string;
  pool: string;
  /** as typed by the operator */
  whenText: string;
  untilText?: string;
  /** IANA zone the wall-clock fields are read in */
  timezone: string;
  window: WindowSpec;
  /** the plan that was current (and approved by scheduling it) when the window was scheduled */
  approvedPlan: Plan;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  state: ScheduleState;
  /** next window start not handled yet (absent when nothing is left to run) */
  nextStartAt?: number;
  /** the window that is open now */
  current?: { startAt: number; endAt?: number; runId?: string };
  /** the run this schedule started (resumed by later windows of a recurring schedule) */
  runId?: string;
  /** last outcome in words ("window at … missed while the bot was down") */
  note?: string;
}

// ---------------------------------------------------------------------------------------------
// Slack outbox (issue 5): messages not yet accepted by Slack, persisted so a restart delivers them.
// ---------------------------------------------------------------------------------------------

/** A run's Slack message, named so that an entry can refer to a ts learnt after it was stored. */
export interface OutboxRef {
  runId: string;
  /** absent: the run header; else the key of SlackRefs.messages (an approval step id, "failure:<step>") */
  key?: string;
}

/** One pending Slack call. Never holds a token: the web client adds it at send time. */
export interface OutboxRecord {
  /** assigned by `add`: a zero-padded sequence number, so ids sort in creation order (also across processes) */
  id: string;
  /** delivery order is kept per queue (a channel) */
  queue: string;
  /** for logs, never message text */
  describe: string;
  coalesceKey?: string;
  request: {
    method: string;
    args: Record<string, unknown>;
    /** args filled in at send time from a ref (thread_ts of a header, ts of a message to update) */
    refArgs?: Record<string, OutboxRef>;
  };
  /** the ts of this message, once posted, is this ref */
  provides?: OutboxRef;
  /** Slack may refuse the blocks: send the text alone */
  degradable?: boolean;
  createdAt: number;
  /** sending priority within the queue (src/slack/outbox-order.ts PRIORITY; absent = chatter) */
  priority?: number;
  /** entries of one group (a run id) keep their order whatever their priority */
  group?: string;
  /** the Slack user told when Slack refuses this message for good */
  requester?: string;
  /** the replica that sends it (several replicas, issue 16); absent: whichever process starts next */
  owner?: string;
  /** a run header refresh: the run revision its blocks show (an older one is not sent over a newer header) */
  revision?: number;
}

export interface OutboxStore {
  /** stores a new entry atomically (sequence + insert) and returns its id */
  add(entry: Omit<OutboxRecord, 'id'>): Promise<string>;
  /** replaces an existing entry (a coalesced header refresh); false (nothing written) when it is gone */
  replace(entry: OutboxRecord): Promise<boolean>;
  /** true when it existed */
  delete(id: string): Promise<boolean>;
  /** oldest first */
  list(): Promise<OutboxRecord[]>;
  /**
   * Several replicas (issue 16): the entries `owner` may send, oldest first — its own, unowned ones, and those of
   * replicas whose heartbeat expired, which become its own in the same transaction (rows claimed with
   * FOR UPDATE SKIP LOCKED on PostgreSQL: two replicas claiming at once take disjoint entries).
   */
  claim(owner: string, now: number): Promise<OutboxRecord[]>;
}

export interface RunFilter {
  pool?: string;
  states?: RunState[];
}

export interface Store {
  /** pool-a-20261125-1: pool, UTC date of `now`, per-day counter; atomic across processes */
  nextRunId(pool: string, now: number): Promise<string>;
  /** throws ConflictError if the id exists */
  /** with `audit`: appended in the same transaction (who started the run is never lost) */
  /** with `fence`: written only while that lease is still the pool's (the start of a run, under its lease) */
  createRun(run: Run, opts?: { audit?: AuditEvent; fence?: Fence }): Promise<void>;
  getRun(id: string): Promise<Run | undefined>;
  /**
   * Atomic read-modify-write across processes: `mutate` (synchronous) edits a fresh copy; revision++ and updatedAt
   * (clock) are set by the store. `mutate` may throw (e.g. ConflictError when the state is not what the caller
   * expected): nothing is written. With `expectedRevision`, a run whose revision moved on throws ConflictError.
   * Unknown id: NotFoundError. With `fence`, the write happens only while the fence is the pool's lease
   * (checked in the same transaction), else FencedError. With `audit`, the event it makes of the changed run is
   * appended in the same transaction: a decision and its audit are written together or not at all.
   */
  updateRun(id: string, mutate: (run: Run) => void, opts?: UpdateRunOptions): Promise<Run>;
  /** newest first (createdAt, then id) */
  listRuns(filter?: RunFilter): Promise<Run[]>;
  /**
   * As listRuns, without each run's plan, baseline and steps (src/store/run-parts.ts): one query and small records,
   * for what counts many runs (/metrics) instead of reading every run's plan
   */
  listRunHeads(filter?: RunFilter): Promise<RunHead[]>;

  /** every committed change of a run, from any process sharing the database (PostgreSQL), or this one (SQLite) */
  onRunChanged(cb: (runId: string) => void): Promise<() => void>;

  /** append-only; events are never rewritten; with `fence`, as updateRun */
  appendAudit(e: AuditEvent, opts?: { fence?: Fence }): Promise<void>;
  /** in append order */
  listAudit(runId: string): Promise<AuditEvent[]>;

  savePlan(pool: string, plan: Plan): Promise<void>;
  getLatestPlan(pool: string): Promise<Plan | undefined>;

  /**
   * One active run per pool. Granted when the pool has no lease, the lease is the caller's own for the same run,
   * or the lease expired (now >= expiresAt): then `tookOverFrom` names the previous owner and an audit event
   * (kind 'lease') is appended to `runId` in the same transaction. Otherwise refused with the holder.
   * The same owner asking for a different run while its lease is live is refused too.
   * `token` is the fencing token: the same while the same owner renews or re-acquires for the same run, larger
   * after any change of holder.
   */
  acquireLease(pool: string, owner: string, runId: string, ttlMs: number, now: number): Promise<AcquireLeaseResult>;
  /** false when the lease is gone or belongs to someone else (it was taken over); with `token`, also when it changed */
  renewLease(pool: string, owner: string, ttlMs: number, now: number, token?: number): Promise<boolean>;
  /** no-op unless `owner` holds it (with `token`: that very lease) */
  releaseLease(pool: string, owner: string, token?: number): Promise<void>;
  /** as stored, even when expired (compare expiresAt with your clock) */
  getLease(pool: string): Promise<Lease | undefined>;
  /** every pool's lease as stored (/metrics: which replica drives which pool) */
  listLeases(): Promise<Array<Lease & { pool: string }>>;

  /** a replica is alive until `now + ttlMs` (its outbox entries are not claimed by others meanwhile) */
  heartbeat(owner: string, ttlMs: number, now: number): Promise<void>;
  /** every replica's last heartbeat (/metrics) */
  listReplicas(): Promise<Array<{ owner: string; expiresAt: number }>>;

  /** when each named notice (a scheduler reminder) was last sent, by any replica */
  listNotices(): Promise<Record<string, number>>;
  /** compare-and-set: records `at` only if the notice was last sent at `expected` (undefined: never); true = send it */
  claimNotice(name: string, expected: number | undefined, at: number): Promise<boolean>;

  /** pool-a-w1: per-pool counter, atomic across processes */
  nextScheduleId(pool: string): Promise<string>;
  /**
   * Saves a new window unless its pool already has one that `live` says is live, in one transaction (two processes
   * scheduling one pool at once leave one window): that other window is returned instead, and nothing is written.
   */
  addSchedule(s: Schedule, live: (other: Schedule) => boolean): Promise<Schedule | undefined>;
  getSchedule(id: string): Promise<Schedule | undefined>;
  /** atomic read-modify-write; NotFoundError when unknown (e.g. unscheduled meanwhile) */
  updateSchedule(id: string, mutate: (s: Schedule) => void): Promise<Schedule>;
  /** ordered by id */
  listSchedules(filter?: { pool?: string }): Promise<Schedule[]>;
  /** true when it existed */
  deleteSchedule(id: string): Promise<boolean>;

  /** the Slack outbox's pending messages (issue 5) */
  readonly outbox: OutboxStore;

  /** which backend, where (never a password) */
  describe(): StoreInfo;
  /** one round trip to the database: /readyz */
  ping(): Promise<void>;
  close(): Promise<void>;
}
