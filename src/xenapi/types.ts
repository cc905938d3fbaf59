/** Types shared by the client and the event watcher (their own module: events.ts needs them, client.ts needs events.ts). */

export interface CallOptions {
  signal?: AbortSignal;
  /** real ms for this call instead of requestTimeoutMs */
  timeoutMs?: number;
  /** a get_all_records call: only these fields of each record are wanted (see XmlRpcDecoder's recordFields) */
  recordFields?: ReadonlySet<string>;
}

export interface EventFromResult {
  events: Array<{ id?: string; class: string; operation: string; ref: string; snapshot?: Record<string, unknown> }>;
  token: string;
  valid_ref_counts?: Record<string, unknown>;
}
