/**
 * The records of one get_all_records reply, as the batches they came in (issue 13).
 *
 * A decode thread (decode-pool.ts) sends a large reply's validated records in batches, each serialized
 * (v8.serialize): the event loop keeps them as bytes, off its heap, until they are used. Deserialized as they
 * arrived, a 64-host pool's records (~30 MB of objects) lived on the loop's heap until the snapshot was made, and
 * every young-generation collection during the read copied them: pauses of 25–80 ms. Read here one batch at a time,
 * each batch's objects die young once the caller has taken what it needs from them (inventory/convert.ts).
 *
 * A ref may come again in a later batch: its last record counts (in the place of its first); a null holds the place
 * of a record the thread refused, which a later record of the same ref replaces (decode-protocol.ts RecordsBatch).
 */
import { deserialize } from 'node:v8';
import { nextSlice, runSliced, sliceDue } from '../loop-slice';
import { assignOwn, setOwn } from './own-property';
import { RecordParseError, parseAllRecords, parseRecord, type RecordClass, type RecordOf } from './records';

/** One batch: ref → record, already validated against the class's schema. */
export type RecordsOf<C extends RecordClass> = Record<string, RecordOf<C>>;

export class RecordBatches<C extends RecordClass = RecordClass> {
  /**
   * `parts`: the batches in the order received, each a plain object or the bytes of one (v8.serialize). Only a
   * decode thread or the client makes one, from records validated against `cls`'s schema.
   */
  constructor(
    readonly cls: C,
    private readonly parts: ReadonlyArray<RecordsOf<C> | Uint8Array>,
  ) {}

  /** Records read whole (a reply decoded on the event loop, or a test's records) as one batch. */
  static of<C extends RecordClass>(cls: C, records: RecordsOf<C>): RecordBatches<C> {
    return new RecordBatches(cls, [records]);
  }

  /** How many batches: a caller that folds them can yield between two. */
  get count(): number {
    return this.parts.length;
  }

  /**
   * The batches in order, each deserialized when reached (again on every pass: nothing is kept here). A record is
   * null where a later batch replaces it.
   */
  *batches(): Generator<Record<string, RecordOf<C> | null>, void, void> {
    for (const p of this.parts) yield p instanceof Uint8Array ? (deserialize(p) as Record<string, RecordOf<C> | null>) : p;
  }

  /** Every record in one object (ref → record), put together in the loop's slices. */
  whole(): Promise<RecordsOf<C>> {
    return runSliced(this.assemble());
  }

  /** Every record in one object, put together batch by batch, with a step (yield) after each batch. */
  *assemble(): Generator<void, RecordsOf<C>, void> {
    if (this.parts.length === 1 && !(this.parts[0] instanceof Uint8Array)) return this.parts[0]!;
    const out: Record<string, unknown> = {};
    for (const batch of this.batches()) {
      assignOwn(out, batch);
      yield;
    }
    return out as RecordsOf<C>;
  }
}

/**
 * A get_all_records reply as its batches (record-batches.ts): a decode thread's, already validated there, as they
 * are; a reply decoded on the event loop, validated here in the shared slices of loop-slice.ts (about 8 ms) with a
 * yield between them (issue 13: validating 3,200 VM records takes several hundred ms), as one batch.
 */
export async function parseRecordBatches<C extends RecordClass>(cls: C, value: unknown): Promise<RecordBatches<C>> {
  if (value instanceof RecordBatches) {
    if (value.cls !== cls) throw new RecordParseError(cls, '(all)', '', `expected ${cls} records, got ${value.cls} records`);
    return value as RecordBatches<C>;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return RecordBatches.of(cls, parseAllRecords(cls, value));
  const out: Record<string, RecordOf<C>> = {};
  for (const [r, rec] of Object.entries(value as Record<string, unknown>)) {
    setOwn(out, r, parseRecord(cls, r, rec));
    if (sliceDue()) await nextSlice();
  }
  return RecordBatches.of(cls, out);
}
