/** The messages between decode-pool.ts (the event loop) and its decode threads (decode-worker.ts). */
import type { RecordClass } from './records';
import type { XmlRpcDocument } from './xml-decode';

/** A decoded reply, before its envelope is unwrapped (wire.ts). */
export type DecodedReply = { kind: 'json'; value: unknown } | { kind: 'xml'; doc: XmlRpcDocument };

/** Records of a get_all_records reply sent per message (one batch: what the reader deserializes at a time). */
export const RECORDS_BATCH = 400;

export interface StartJob {
  type: 'start';
  id: number;
  format: 'xml' | 'json';
  maxDepth: number;
  /** the reply's Content-Length, when it gave one (a JSON reply's buffer is made that large at once) */
  declaredBytes?: number;
  /** a get_all_records reply of this class: decode only its schema's fields and validate each record */
  records?: RecordClass;
  /** otherwise, a ref → record reply of which only these fields are wanted */
  recordFields?: string[];
}

export type ToWorker =
  | StartJob
  /** the next bytes of the reply, in order (transferred, not copied) */
  | { type: 'chunk'; id: number; bytes: Uint8Array }
  | { type: 'end'; id: number }
  /** the reply is abandoned (limit, timeout, connection lost): drop the job */
  | { type: 'cancel'; id: number };

export type DecodeError =
  | { kind: 'xml' | 'json' | 'internal'; message: string }
  | { kind: 'record'; message: string; cls: string; ref: string; field: string; detail: string };

export type FromWorker =
  /** one more RecordsBatch of reply `id` is on the records port (posted there before this message) */
  | { type: 'batch'; id: number }
  /**
   * batches: the reply's success value was taken out, its records validated and sent on the records port in that
   * many RecordsBatch messages, each announced by a 'batch' message before this one
   */
  | { type: 'done'; id: number; reply: DecodedReply; batches: number }
  /** the reply is refused: the batches already sent for it (if any) are dropped */
  | { type: 'error'; id: number; error: DecodeError };

/**
 * On the records port (workerData.records): validated records of a get_all_records reply (ref → record), in the
 * order of the reply, serialized with v8.serialize and transferred: the event loop keeps them as bytes until they are
 * used (record-batches.ts). A ref may come again in a later batch (its last record counts, in its first place); null
 * holds the place of a refused record, which a later record of the same ref replaces, or the reply ends in an error
 * (json-records.ts EmitRecords).
 */
export interface RecordsBatch {
  id: number;
  bytes: Uint8Array;
}
