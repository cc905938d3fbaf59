/**
 * What the runner needs from the parts it drives, as narrow interfaces. The real XenApiClient (src/xenapi) and
 * Store (src/store) satisfy them structurally; unit tests hand in small fakes.
 */
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Notifier } from '../domain/ports';
import type { AuditEvent, Plan, Run, RunState } from '../domain/types';
import type { RecordSource } from '../inventory';
import type { TaskWaitOptions } from '../xenapi/types';

/** The subset of XenApiClient (contracts §1) the runner calls; getAllRecords feeds src/inventory readSnapshot. */
export interface PoolClient extends RecordSource {
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  callAsync<T = string>(method: string, params?: unknown[], opts?: TaskWaitOptions): Promise<T>;
  /** follow a task returned by an `Async.*` call (long-call.ts); XenApiTaskLostError when it vanished */
  waitForTask?<T = string>(task: string, opts?: TaskWaitOptions): Promise<T>;
  reconnect(opts: { deadlineMs: number }): Promise<void>;
  dumpDatabase(file: string): Promise<{ path: string; bytes: number; sha256: string }>;
  /** PUT /import_raw_vdi into `vdi` (R3.10 update upload); `source` opens the bytes (again after a re-login) */
  importRawVdi?(vdi: string, source: () => Promise<{ size: number; stream: import('node:stream').Readable }>, onProgress?: (sent: number) => void): Promise<void>;
  readonly masterAddress: string;
  /** this client works on the pool `uuid` (a run's): a master of another pool is refused (XenApiClient.expectPool) */
  expectPool?(uuid: string): void;
  /** event.from (timeout in clock seconds); when present, waits follow pool events (with their snapshots) instead of polling */
  eventFrom?(
    classes: string[],
    token: string,
    timeoutSeconds: number,
    opts?: { signal?: AbortSignal },
  ): Promise<{ token: string; events: Array<{ class: string; operation: string; ref: string; snapshot?: Record<string, unknown> }> }>;
}

export type LeaseResult =
  | { ok: true; tookOverFrom?: string; token?: number }
  | { ok: false; holder: string; runId: string; expiresAt: number };

/** A lease holder's identity, passed with its writes (issue 16: fencing). */
export interface Fence {
  pool: string;
  owner: string;
  token: number;
}

/** The subset of Store (contracts §3) the runner and core use. */
export interface RunStore {
  nextRunId(pool: string, now: number): Promise<string>;
  /** with `audit`: appended in the same transaction */
  /** with `fence`: written only while that lease is still the pool's (the start of a run, under its lease) */
  createRun(run: Run, opts?: { audit?: AuditEvent; fence?: Fence }): Promise<void>;
  getRun(id: string): Promise<Run | undefined>;
  /**
   * with `fence`: written only while the fence is still the pool's lease (FencedError otherwise); with `audit`: the
   * event made of the changed run is appended in the same transaction
   */
  updateRun(id: string, mutate: (run: Run) => void, opts?: { fence?: Fence; audit?: (run: Run) => AuditEvent }): Promise<Run>;
  listRuns(filter?: { pool?: string; states?: RunState[] }): Promise<Run[]>;
  appendAudit(e: AuditEvent, opts?: { fence?: Fence }): Promise<void>;
  listAudit(runId: string): Promise<AuditEvent[]>;
  savePlan(pool: string, plan: Plan): Promise<void>;
  getLatestPlan(pool: string): Promise<Plan | undefined>;
  acquireLease(pool: string, owner: string, runId: string, ttlMs: number, now: number): Promise<LeaseResult>;
  renewLease(pool: string, owner: string, ttlMs: number, now: number, token?: number): Promise<boolean>;
  releaseLease(pool: string, owner: string, token?: number): Promise<void>;
  getLease(pool: string): Promise<{ owner: string; runId: string; expiresAt: number } | undefined>;
}

/** Per-pool settings the steps read (resolved from the pool config by the core). */
export interface RunnerConfig {
  pool: string;
  /** XSUPGRADE_BACKUPS, default ./data/backups (R2.1) */
  backupsDir: string;
  /** automatic mode: repository URL including credentials when configured (never logged) */
  repositoryUrl?: string;
  /** update mode: the update's uuid or name_label as introduced in the pool */
  update?: string;
  /**
   * Multi-hop (R1.4): the media of intermediate targets, by the target's product version ("7.1.1"); a run whose
   * plan targets one of them uses these instead of repositoryUrl/update (runner/steps/upgrade.ts mediaFor)
   */
  hopMedia?: Record<string, { repositoryUrl?: string; update?: string }>;
  /** pool credentials for pool.join during forget-rejoin (R4.2); the password never leaves the call */
  poolCredentials: { username: string; password: string; masterAddress: string };
  /** how long a host may take to come back, per mode (clock ms) */
  hostTimeoutMs: Record<'automatic' | 'manual' | 'update', number>;
  /** how long to wait for the master after a reboot before it counts as lost (part of hostTimeoutMs) */
  pollMs: number;
  /** live migrations in flight at once during an evacuation */
  migrationConcurrency: number;
  /** retries of host.enable while xapi starts (HOST_STILL_BOOTING) */
  enableRetries: number;
  /** clock ms a slow call's task is followed (plugin main, HA, update apply) before the step fails; default 2 h */
  slowCallMs?: number;
  /**
   * This process ticks the R5.1 Tools follow-up (`xsupgrade serve`, the sandbox), so the run's end may say the
   * checklist follows in its thread. Absent (a terminal `xsupgrade run`/`resume`, a rehearsal): it says who keeps it.
   */
  toolsFollowUp?: boolean;
}

export interface StepDeps {
  client: PoolClient;
  store: RunStore;
  clock: Clock;
  notifier: Notifier;
  logger: Logger;
  config: RunnerConfig;
}
