/**
 * A decode thread of decode-pool.ts (issue 13): decodes the large XenAPI replies the event loop hands over, with
 * the same decoders and the same record schemas as the event loop would, so a 64-host read uses every core and
 * the event loop only moves bytes. One thread holds several replies at once: the XML decoder takes each chunk as
 * it arrives; a JSON reply is parsed once complete: a get_all_records reply in pieces, its records validated as
 * they are parsed (json-records.ts), any other whole (decodeJsonWhole: no event loop waits here).
 *
 * Nothing here logs or keeps anything after a job: errors go back as their kind and message, and the thread that
 * started the job turns them into the client's errors (and removes secrets from them, wire.ts).
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { serialize } from 'node:v8';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { StringDecoder } from 'node:string_decoder';
import { JsonDecodeError, decodeJsonWhole } from './json-decode';
import { decodeJsonRecordsReply } from './json-records';
import { setOwn } from './own-property';
import { ReplyBuffers } from './reply-buffers';
import { RecordParseError, parseAllRecords, parseRecord, recordFieldsOf } from './records';
import { XmlRpcDecodeError, XmlRpcDecoder, type XmlRpcDocument } from './xml-decode';
import { RECORDS_BATCH, type DecodeError, type FromWorker, type RecordsBatch, type StartJob, type ToWorker } from './decode-protocol';

interface XmlJob {
  start: StartJob;
  text: StringDecoder;
  decoder: XmlRpcDecoder;
  /** the records of a get_all_records reply, validated and sent as the decoder reads them */
  batches: RecordsSender | undefined;
}
interface JsonJob {
  start: StartJob;
  /** the reply's bytes so far: the first `size` bytes of a buffer from jsonBuffers */
  bytes: Buffer;
  size: number;
}

/**
 * XML text is made from the bytes in pieces of this size. A string above V8's regular object size (~128 KB) is
 * allocated in its large-object space, with memory fresh from the OS each time: decoding a 21 MB reply in 256 KB
 * pieces took ~75 ms here against ~3 ms in 64 KB pieces, most of it page faults.
 */
const TEXT_PIECE_BYTES = 64 * 1024;

/** The first buffer of a JSON reply that declared no length (or a smaller one): grown as the bytes come. */
const MIN_JSON_BUFFER_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** Buffers kept for the next JSON replies: a 64-host read holds up to ~8 MB per reply, a few replies at a time. */
const KEEP_BUFFER_BYTES = 48 * 1024 * 1024;
/** A thread that decoded no JSON reply for this long gives its kept buffers back. */
const KEEP_BUFFERS_IDLE_MS = 60_000;

/** Buffers that earlier JSON replies used (reply-buffers.ts), dropped when the thread has been idle for a while. */
const jsonBuffers = new ReplyBuffers(KEEP_BUFFER_BYTES);
let idle: NodeJS.Timeout | undefined;

const port = parentPort;
if (!port) throw new Error('decode-worker.ts runs only as a worker thread (decode-pool.ts starts it)');
lowerPriority();
/** where validated records go, batch by batch (the pool reads them one at a time, in its loop's slices) */
const recordsPort = (workerData as { records: MessagePort }).records;

/** jobs in progress; a failed job is dropped at once, so its later chunks and its end are ignored */
const jobs = new Map<number, XmlJob | JsonJob>();

const post = (m: FromWorker): void => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  try {
    handle(m);
  } catch (e) {
    fail(m.id, e);
  }
});

function handle(m: ToWorker): void {
  switch (m.type) {
    case 'start': {
      if (m.format === 'json') {
        jobs.set(m.id, { start: m, bytes: jsonBuffers.take(Math.max(MIN_JSON_BUFFER_BYTES, m.declaredBytes ?? 0)), size: 0 });
        return;
      }
      const cls = m.records;
      const batches = cls ? new RecordsSender(m.id) : undefined;
      const fields = cls ? recordFieldsOf(cls) : m.recordFields ? new Set(m.recordFields) : undefined;
      // a get_all_records reply's records are validated and sent on as they are read, not held until its end
      const onRecord = cls && batches ? (ref: string, record: unknown) => batches.addOne(ref, parseRecord(cls, ref, record)) : undefined;
      jobs.set(m.id, { start: m, text: new StringDecoder('utf8'), decoder: new XmlRpcDecoder(m.maxDepth, { recordFields: fields, onRecord }), batches });
      return;
    }
    case 'chunk': {
      const job = jobs.get(m.id);
      if (!job) return;
      const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      if ('decoder' in job) {
        for (let at = 0; at < bytes.length; at += TEXT_PIECE_BYTES) job.decoder.write(job.text.write(bytes.subarray(at, at + TEXT_PIECE_BYTES)));
      } else {
        if (job.size + bytes.length > job.bytes.length) job.bytes = jsonBuffers.grow(job.bytes, job.size, job.size + bytes.length);
        bytes.copy(job.bytes, job.size);
        job.size += bytes.length;
      }
      return;
    }
    case 'end': {
      const job = jobs.get(m.id);
      jobs.delete(m.id);
      if (!job) return;
      finish(job)
        .catch((e: unknown) => fail(m.id, e))
        .finally(() => release(job));
      return;
    }
    case 'cancel':
      drop(m.id);
      return;
  }
}

async function finish(job: XmlJob | JsonJob): Promise<void> {
  if ('decoder' in job) finishXml(job);
  else finishJson(job);
}

function finishJson(job: JsonJob): void {
  const { id, records } = job.start;
  const bytes = job.bytes.subarray(0, job.size);
  if (!records) {
    post({ type: 'done', id, reply: { kind: 'json', value: decodeJsonWhole(bytes.toString('utf8'), job.start.maxDepth) }, batches: 0 });
    return;
  }
  // a get_all_records reply: parsed and validated in pieces (json-records.ts); its records are sent apart, batch by
  // batch as the pieces are read, so the event loop reads them meanwhile and none of them is kept here
  const batches = new RecordsSender(id);
  const reply = decodeJsonRecordsReply(bytes, job.start.maxDepth, records, (piece) => batches.add(piece));
  batches.flush();
  const value = reply.envelope as { result?: unknown };
  // no records (an empty class, or not a success): the reply goes back as it is
  if (reply.emitted) value.result = null;
  post({ type: 'done', id, reply: { kind: 'json', value }, batches: batches.sent });
}

function finishXml(job: XmlJob): void {
  const { id, records } = job.start;
  job.decoder.write(job.text.end());
  const doc = job.decoder.end();
  const { batches } = job;
  if (!records || !batches) {
    post({ type: 'done', id, reply: { kind: 'xml', doc }, batches: 0 });
    return;
  }
  // records the decoder kept (a Value written before its Status; none when each was sent as it was read) are
  // validated here (the schemas are the event loop's), and sent apart like the others
  const found = successValue(doc);
  if (found) batches.add(Object.entries(parseAllRecords(records, found.value)));
  batches.flush();
  // the records go back in the reply's Value (decode-pool.ts), which the client then judges as a whole: even one
  // that said Status: Success before its records and Failure after them. No records (an empty class): the reply
  // goes back as it is, its empty struct in place.
  if (found && batches.sent > 0) found.clear();
  post({ type: 'done', id, reply: { kind: 'xml', doc }, batches: batches.sent });
}

/**
 * Sends validated records to the pool in batches of RECORDS_BATCH, each announced by a 'batch' message. A batch is
 * one object (ref → record), assigned in order here and serialized (v8.serialize, transferred, not copied): the event
 * loop keeps the bytes off its heap and deserializes one batch when it needs it (record-batches.ts).
 */
class RecordsSender {
  sent = 0;
  private held: Record<string, unknown> = {};
  private count = 0;
  constructor(private readonly id: number) {}

  add(entries: Array<[string, unknown]>): void {
    for (const [ref, rec] of entries) this.addOne(ref, rec);
  }

  addOne(ref: string, rec: unknown): void {
    setOwn(this.held, ref, rec);
    if (++this.count === RECORDS_BATCH) this.flush();
  }

  flush(): void {
    if (this.count === 0) return;
    const bytes = ownBuffer(serialize(this.held));
    recordsPort.postMessage({ id: this.id, bytes } satisfies RecordsBatch, [bytes.buffer as ArrayBuffer]);
    post({ type: 'batch', id: this.id });
    this.held = {};
    this.count = 0;
    this.sent++;
  }
}

/** A Uint8Array that owns its whole ArrayBuffer, so transferring it detaches nothing else. */
function ownBuffer(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

/**
 * The Value of a successful XML-RPC reply ({Status: Success, Value}) when it is a struct, and how to take it out
 * of the reply (the records are sent apart and put back by the pool). Any other reply (a Failure, an unexpected
 * shape) goes back whole, for the client to judge as it judges every reply.
 */
function successValue(doc: XmlRpcDocument): { value: object; clear: () => void } | undefined {
  const isStruct = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
  if (doc.kind !== 'response') return undefined;
  const env = doc.value;
  if (!isStruct(env) || env.Status !== 'Success' || !isStruct(env.Value)) return undefined;
  return { value: env.Value, clear: () => (env.Value = null) };
}

function fail(id: number, e: unknown): void {
  drop(id);
  post({ type: 'error', id, error: describe(e) });
}

/** Forgets job `id` (failed or cancelled), its buffer given back. */
function drop(id: number): void {
  const job = jobs.get(id);
  jobs.delete(id);
  if (job) release(job);
}

/** A JSON job's buffer goes back for the next reply (its text has been copied out: strings own their memory). */
function release(job: XmlJob | JsonJob): void {
  if ('decoder' in job) return;
  jsonBuffers.give(job.bytes);
  job.bytes = EMPTY;
  clearTimeout(idle);
  idle = setTimeout(() => jsonBuffers.clear(), KEEP_BUFFERS_IDLE_MS).unref();
}

function describe(e: unknown): DecodeError {
  if (e instanceof RecordParseError) return { kind: 'record', message: e.message, cls: e.cls, ref: e.ref, field: e.field, detail: e.detail };
  if (e instanceof XmlRpcDecodeError) return { kind: 'xml', message: e.message };
  if (e instanceof JsonDecodeError) return { kind: 'json', message: e.message };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Decoding yields the CPU to the event loop. On Linux (where a thread is a task with an id of its own,
 * /proc/thread-self) this thread runs at nice 10 and, where util-linux's `chrt` may set it, under SCHED_IDLE: a
 * waking event loop then preempts it at once, where a nice-10 thread keeps the CPU for the rest of its slice. Measured
 * on two cores over fifteen 64-host reads per transport, three rounds (docs/benchmarks.md §7): the loop waited for a
 * CPU 637–751 ms instead of 898–923 ms, with the same read times. Without nice, the loop was descheduled for up to
 * 70 ms at a time during a 64-host read. Elsewhere, or where refused: left as is (SCHED_IDLE is only ever lowered to).
 * A seccomp filter that refuses setpriority by killing the process would kill the bot here: the systemd unit allows
 * it, and sched_setscheduler for chrt (deploy/xsupgrade.service, test/deploy/systemd-unit.test.ts).
 */
function lowerPriority(): void {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return; // not Linux
  }
  if (!Number.isInteger(tid) || tid <= 0) return;
  try {
    setPriority(tid, 10);
  } catch {
    // not allowed: the thread keeps the process's priority
  }
  try {
    execFileSync('chrt', ['--idle', '--pid', '0', String(tid)], { stdio: 'ignore', timeout: 5_000 });
  } catch {
    // no chrt, or refused: nice 10 alone
  }
}
