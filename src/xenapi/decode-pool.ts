/**
 * Decode threads for large XenAPI replies (issue 13). A 64-host read is 14 replies and ~60 MB of XML; decoding it
 * on the event loop took one core for ~1.8 s (in 8 ms slices, so the bot stayed responsive, but no faster). Here
 * the event loop only moves the reply's bytes to a thread as they arrive; the thread decodes them with the same
 * decoders, validates the records with the same schemas (records.ts), and sends the records back in batches, so
 * each message is a short read for the loop. Each reply goes to the thread with the fewest bytes in flight.
 *
 * Only large get_all_records replies go to a thread (wants). Other replies (event.from, a task, one field) are
 * decoded on the loop, in its slices. Without threads (XSUPGRADE_XENAPI_DECODE_THREADS=0, or no compiled thread
 * script, as under ts-jest), every reply is decoded on the loop.
 *
 * A thread that dies fails the replies it held with an error that says so (the caller's read fails like a lost
 * connection would, and is read again by whoever retries it); the next reply starts a new thread.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { nextSlice, sliceDue } from '../loop-slice';
import { parseEnvVariables, wholeNumberVariable } from '../env-variables';
import { threadDecodes } from '../observe/metrics';
import { z } from 'zod';
import type { DecodeError, DecodedReply, FromWorker, RecordsBatch, StartJob, ToWorker } from './decode-protocol';
import { JsonDecodeError } from './json-decode';
import { RecordBatches } from './record-batches';
import { RecordParseError, type RecordClass } from './records';
import { XmlRpcDecodeError } from './xml-decode';

export type { DecodedReply } from './decode-protocol';

/** The bot's own decode thread failed (not the host's reply): the call's reply is lost, the pool is unchanged by it. */
export class DecodeThreadError extends Error {}

export interface DecodeJob {
  format: 'xml' | 'json';
  maxDepth: number;
  maxBytes: number;
  /** a get_all_records reply of this class (its records come back validated) */
  records?: RecordClass;
  recordFields?: ReadonlySet<string>;
}

export interface DecodePoolOptions {
  /** decode threads; 0: every reply is decoded on the event loop */
  threads: number;
  /** get_all_records replies declared (Content-Length) at least this large go to a thread (default 64 KiB; see wants) */
  minBytes?: number;
  /** tests: every reply goes to a thread, whatever its kind and size */
  everyReply?: boolean;
  /** the compiled decode-worker.js (default: beside this module; none under ts-jest, see defaultWorkerFile) */
  workerFile?: string;
}

/** Bytes handed to a thread per message: fewer, larger messages (a 19 MB reply arrives in ~1,200 socket reads). */
const POST_BYTES = 256 * 1024;

interface Pending {
  resolve: (r: DecodedReply) => void;
  reject: (e: Error) => void;
  bytes: number;
  cls?: RecordClass;
  /** the batches of records received so far, as the thread serialized them (record-batches.ts) */
  parts: Uint8Array[];
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
  /** reply bytes declared by the jobs in flight: where the next reply goes */
  load: number;
  /**
   * The thread's validated records, batch by batch, read here one message at a time (receiveMessageOnPort) in the
   * loop's time slices, as each is announced. Read as they arrive, the batches queued while the loop was busy were
   * all delivered in one turn: 60–70 ms blocks in a 64-host read. Each message is a batch's bytes (transferred),
   * kept as they are until the caller reads the records.
   */
  records: MessagePort;
  /** the batches are read, and the replies made whole, in the order the thread sent them */
  reading: Promise<void>;
  dead: boolean;
}

export class DecodePool {
  readonly threads: number;
  readonly minBytes: number;
  private readonly everyReply: boolean;
  private readonly workerFile: string | undefined;
  private readonly running: Thread[] = [];
  private nextId = 1;
  /** replies handed to a thread since the pool was made */
  handedOver = 0;

  constructor(opts: DecodePoolOptions) {
    const file = opts.workerFile ?? defaultWorkerFile();
    this.workerFile = file && existsSync(file) ? file : undefined;
    this.threads = this.workerFile ? Math.max(0, Math.floor(opts.threads)) : 0;
    // 64 KiB: over JSON-RPC a 64-host pool's VIF, host, SR and network replies (150–900 KB) decoded on the loop
    // cost it ~15 ms per read (~25 ms over XML-RPC) against 1 MiB; below, a thread's round trip is not worth it
    this.minBytes = opts.minBytes ?? 64 * 1024;
    this.everyReply = opts.everyReply ?? false;
  }

  /**
   * Does a reply go to a thread? A get_all_records reply (`records`) whose Content-Length (`declaredBytes`, NaN
   * when not given: then it may be large) is at least minBytes. Other replies (event.from, tasks, single fields)
   * are decoded on the loop, in its time slices: a thread would send them back as one message, one block.
   */
  wants(declaredBytes: number, records: boolean): boolean {
    if (this.threads === 0) return false;
    if (this.everyReply) return true;
    return records && !(declaredBytes < this.minBytes);
  }

  /**
   * Decodes `body` (the reply's chunks, in order) on a thread: refuses more than job.maxBytes with `tooLarge()`,
   * and throws the decoders' own errors (XmlRpcDecodeError, JsonDecodeError, RecordParseError) as they would on the
   * loop. `declaredBytes` balances the threads. When `signal` aborts (the call's timeout) before the thread has
   * answered, the reply is abandoned with the signal's reason.
   */
  async decode(body: AsyncIterable<Buffer>, job: DecodeJob, declaredBytes: number, tooLarge: () => Error, signal?: AbortSignal): Promise<DecodedReply> {
    const declared = Number.isFinite(declaredBytes) && declaredBytes >= 0 ? declaredBytes : undefined;
    // what this reply weighs on its thread: an undeclared length counts as the smallest reply a thread takes
    const load = declared ?? this.minBytes;
    const thread = this.pick();
    const id = this.nextId++;
    this.handedOver++;
    const done = new Promise<DecodedReply>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject, bytes: load, cls: job.records, parts: [] });
    });
    // a rejection before the body is read to its end (the thread died) is taken up below
    done.then(
      () => threadDecodes.inc({ outcome: 'ok' }),
      (e: unknown) => threadDecodes.inc({ outcome: outcomeOf(e) }),
    );
    const abandon = (): void => {
      this.settle(thread, id)?.reject(signal?.reason instanceof Error ? signal.reason : new DecodeThreadError('the reply was abandoned'));
      thread.worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
    };
    signal?.addEventListener('abort', abandon, { once: true });
    done.finally(() => signal?.removeEventListener('abort', abandon)).catch(() => undefined);
    thread.load += load;
    if (thread.pending.size === 1) thread.worker.ref();
    const start: StartJob = {
      type: 'start',
      id,
      format: job.format,
      maxDepth: job.maxDepth,
      declaredBytes: declared,
      records: job.records,
      recordFields: job.records || !job.recordFields ? undefined : [...job.recordFields],
    };
    thread.worker.postMessage(start satisfies ToWorker);
    let held: Buffer[] = [];
    let heldBytes = 0;
    let size = 0;
    const flush = (): void => {
      if (heldBytes === 0) return;
      const bytes = toTransferable(held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes));
      thread.worker.postMessage({ type: 'chunk', id, bytes } satisfies ToWorker, [bytes.buffer as ArrayBuffer]);
      held = [];
      heldBytes = 0;
    };
    try {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > job.maxBytes) throw tooLarge();
        held.push(chunk);
        heldBytes += chunk.length;
        if (heldBytes >= POST_BYTES) flush();
        if (!thread.pending.has(id)) break; // failed already: its error is what the caller gets
        // The shared slice (loop-slice.ts), as every reader on the loop takes it. Without it, the chunks of the 14
        // replies of a read were handed over in microtasks, and libuv went on reading each socket (up to 32 reads of
        // 64 KiB per socket per turn) with no timer run in between: 30–40 ms blocks with no collection in them.
        if (sliceDue()) await nextSlice();
      }
      flush();
    } catch (e) {
      this.settle(thread, id)?.reject(e as Error);
      thread.worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
      throw e;
    }
    thread.worker.postMessage({ type: 'end', id } satisfies ToWorker);
    return done;
  }

  /** Stops every thread (replies in flight fail). */
  async close(): Promise<void> {
    const threads = this.running.splice(0);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  private pick(): Thread {
    if (this.running.length < this.threads) {
      const t = this.start();
      this.running.push(t);
      return t;
    }
    return this.running.reduce((a, b) => (b.load < a.load ? b : a));
  }

  private start(): Thread {
    const channel = new MessageChannel();
    const worker = new Worker(this.workerFile!, { workerData: { records: channel.port2 }, transferList: [channel.port2] });
    worker.unref();
    channel.port1.unref();
    const thread: Thread = { worker, pending: new Map(), load: 0, records: channel.port1, reading: Promise.resolve(), dead: false };
    worker.on('message', (m: FromWorker) => this.receive(thread, m));
    const lost = (why: string): void => {
      thread.dead = true;
      channel.port1.close();
      const i = this.running.indexOf(thread);
      if (i >= 0) this.running.splice(i, 1);
      for (const id of [...thread.pending.keys()]) this.settle(thread, id)?.reject(new DecodeThreadError(`the decode thread stopped (${why}) before the reply was decoded`));
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return thread;
  }

  private receive(thread: Thread, m: FromWorker): void {
    if (m.type === 'batch') {
      // read in turn, even if this job was cancelled or refused meanwhile: the batches after it are the next ones
      thread.reading = thread.reading.then(() => this.readBatch(thread, m.id)).catch((e: unknown) => {
        // never a broken chain: the replies after this one are read all the same
        this.settle(thread, m.id)?.reject(new DecodeThreadError(`the records from the decode thread could not be read: ${(e as Error).message}`));
      });
      return;
    }
    if (m.type === 'done' && m.batches > 0) {
      // complete once the batches announced before it are read
      thread.reading = thread.reading.then(() => this.complete(thread, m));
      return;
    }
    const p = this.settle(thread, m.id);
    if (!p) return; // cancelled
    if (m.type === 'error') return p.reject(toError(m.error));
    p.resolve(m.reply);
  }

  /** One announced batch of records, taken in the loop's next slice and added to its reply's batches. */
  private async readBatch(thread: Thread, id: number): Promise<void> {
    if (sliceDue()) await nextSlice();
    if (thread.dead) return; // lost() failed the reply
    const batch = receiveMessageOnPort(thread.records)?.message as RecordsBatch | undefined;
    if (!batch || batch.id !== id) {
      this.settle(thread, id)?.reject(new DecodeThreadError(`the decode thread announced records of reply ${id} and sent ${batch ? `those of reply ${batch.id}` : 'none'}`));
      return;
    }
    const p = thread.pending.get(id);
    if (!p) return; // settled meanwhile (refused, abandoned): dropped
    p.parts.push(batch.bytes);
  }

  /** A reply whose batches were all taken: the batches put in the place of its records, the reply settled. */
  private complete(thread: Thread, done: Extract<FromWorker, { type: 'done' }>): void {
    const p = this.settle(thread, done.id);
    if (!p) return;
    if (p.parts.length !== done.batches) {
      p.reject(new DecodeThreadError(`the decode thread sent ${done.batches} batches of records for reply ${done.id}; ${p.parts.length} were read`));
      return;
    }
    const records = new RecordBatches(p.cls!, p.parts);
    const reply = done.reply;
    if (reply.kind === 'json') (reply.value as { result: unknown }).result = records;
    else if (reply.doc.kind === 'response') (reply.doc.value as { Value: unknown }).Value = records;
    p.resolve(reply);
  }

  /** Forgets job `id` (settled or abandoned); the thread no longer keeps the process alive once it holds none. */
  private settle(thread: Thread, id: number): Pending | undefined {
    const p = thread.pending.get(id);
    if (!p) return undefined;
    thread.pending.delete(id);
    thread.load -= p.bytes;
    if (thread.pending.size === 0) thread.worker.unref();
    return p;
  }
}

/** A Uint8Array that owns its whole ArrayBuffer, so transferring it detaches nothing else (Node pools small buffers). */
function toTransferable(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b);
}

/** The /metrics outcome of a reply that failed on its way through a thread. */
function outcomeOf(e: unknown): 'unreadable' | 'thread-failed' | 'abandoned' {
  if (e instanceof XmlRpcDecodeError || e instanceof JsonDecodeError || e instanceof RecordParseError) return 'unreadable';
  return e instanceof DecodeThreadError ? 'thread-failed' : 'abandoned';
}

function toError(e: DecodeError): Error {
  switch (e.kind) {
    case 'xml':
      return new XmlRpcDecodeError(e.message);
    case 'json':
      return new JsonDecodeError(e.message);
    case 'record':
      return new RecordParseError(e.cls, e.ref, e.field, e.detail);
    default:
      return new DecodeThreadError(`the decode thread failed: ${e.message}`);
  }
}

/**
 * The compiled thread script beside this module. Under ts-jest there is none by default: objects a thread sends
 * are made in Node's own realm, not in a test's sandbox (a Date from a thread is not the test's Date), so tests
 * choose the threads they test and pass the built script (test/helpers/decode-threads.ts).
 */
function defaultWorkerFile(): string | undefined {
  return __filename.endsWith('.js') ? join(__dirname, 'decode-worker.js') : undefined;
}

export const decodeThreadsEnvSchema = z.object({
  XSUPGRADE_XENAPI_DECODE_THREADS: wholeNumberVariable('decode threads; 0: every XenAPI reply is decoded on the event loop', 0, 16).optional(),
});

/** Threads by default: one per core, at most 4 (a 64-host read is 14 replies, a few of them large). */
export function decodeThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return parseEnvVariables(decodeThreadsEnvSchema, env).XSUPGRADE_XENAPI_DECODE_THREADS ?? Math.min(4, availableParallelism());
}

let shared: DecodePool | undefined;

/** The process's decode pool (XSUPGRADE_XENAPI_DECODE_THREADS), made at its first use. */
export function sharedDecodePool(): DecodePool {
  return (shared ??= new DecodePool({ threads: decodeThreadsFromEnv() }));
}
