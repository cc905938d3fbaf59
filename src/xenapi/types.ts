/** Types shared by the client and the event watcher (their own module: events.ts needs them, client.ts needs events.ts). */
import type { RecordClass } from './records';

export interface CallOptions {
  signal?: AbortSignal;
  /** real ms for this call instead of requestTimeoutMs */
  timeoutMs?: number;
  /** a get_all_records call: only these fields of each record are wanted (see XmlRpcDecoder's recordFields) */
  recordFields?: ReadonlySet<string>;
  /** a get_all_records call of this class (wire.ts RpcRequest.records) */
  records?: RecordClass;
}

/** Following a task (waitForTask, callAsync). */
export interface TaskWaitOptions {
  /** absolute clock ms; default now + taskDeadlineMs */
  deadlineMs?: number;
  /**
   * Runs before the ended task is destroyed (the one call a wait sends that changes the pool) and throws when this
   * process must no longer touch the pool: a replica whose lease was taken over while it stalled, a run aborted
   * elsewhere (issue 16). Its error is passed on; the task is left to whoever drives the pool now.
   */
  beforeDestroy?: () => Promise<void>;
  /**
   * The ended task is left for xapi to collect instead of destroyed (db_gc's timeout_tasks destroys completed tasks
   * after 65 minutes, Xapi_globs.completed_task_timeout): one this client cannot show it created, found in an
   * object's current_operations after a lost answer. Another client following it would find it gone.
   */
  keep?: boolean;
  /**
   * Stops following the task (an aborted run, a lease lost): the wait rejects with the signal's reason at once, the
   * event.from long-poll in flight included, and sends nothing more. The task itself is the pool's: never cancelled,
   * never destroyed, only no longer followed. In callAsync it applies to the following only, not to the Async call.
   */
  signal?: AbortSignal;
}

export interface EventFromResult {
  events: Array<{ id?: string; class: string; operation: string; ref: string; snapshot?: Record<string, unknown> }>;
  token: string;
  valid_ref_counts?: Record<string, unknown>;
}
