/** Types shared by the client and the event watcher (their own module: events.ts needs them, client.ts needs events.ts). */

export interface CallOptions {
  signal?: AbortSignal;
  /** real ms for this call instead of requestTimeoutMs */
  timeoutMs?: number;
}

export interface EventFromResult {
  events: Array<{ id?: string; class: string; operation: string; ref: string; snapshot?: Record<string, unknown> }>;
  token: string;
  valid_ref_counts?: Record<string, unknown>;
}
