import { Clock, systemClock } from '../clock';
import type { PoolSnapshot } from '../domain/types';
import { RECORD_CLASSES, RecordParseError, type RecordClass, type RecordOf } from '../xenapi/records';
import { RecordBatches } from '../xenapi/record-batches';
import { snapshotFromReads, type PoolReads } from './convert';
import { InventoryError } from './errors';

export { toSnapshot, toSnapshotSliced } from './convert';
export type { PoolReads, PoolRecordBatches, PoolRecords } from './convert';
export { InventoryError } from './errors';
export { readAppliedUpdates, testRepository } from './repository';
export type { PluginCaller, RepositoryTestResults } from './repository';

/**
 * What readSnapshot needs from the XenAPI client: its parsed get_all_records (src/xenapi XenApiClient satisfies it),
 * and, where it has them, the records as the batches they came in (record-batches.ts), which the conversion folds one
 * at a time instead of keeping every record until the snapshot is made.
 */
export interface RecordSource {
  getAllRecords<C extends RecordClass>(cls: C): Promise<Record<string, RecordOf<C>>>;
  getAllRecordBatches?<C extends RecordClass>(cls: C): Promise<RecordBatches<C>>;
}

/**
 * One snapshot of the pool: exactly one `<class>.get_all_records` call per class (RECORD_CLASSES, 14 calls: network, PIF and VIF included), whatever
 * the pool's size. The calls run concurrently; the snapshot time is taken before the first call. The client parses
 * each record once (src/xenapi/records.ts); a record it refuses becomes an InventoryError naming class, ref and field.
 * Each class is converted as soon as its reply is in (convert.ts snapshotFromReads), in the loop's time slices: a
 * 64-host pool's snapshot must not hold the event loop (Slack acks, other pools).
 */
export async function readSnapshot(client: RecordSource, clock: Clock = systemClock): Promise<PoolSnapshot> {
  const takenAt = clock.now();
  const read = async <C extends RecordClass>(cls: C): Promise<RecordBatches<C>> =>
    client.getAllRecordBatches ? client.getAllRecordBatches(cls) : RecordBatches.of(cls, await client.getAllRecords(cls));
  const reads = Object.fromEntries(RECORD_CLASSES.map((cls) => [cls, read(cls)])) as PoolReads;
  const snapshot = snapshotFromReads(reads, takenAt);
  // its error, if it fails before a read does, is thrown below once the reads are in: a read's error comes first
  snapshot.catch(() => undefined);
  try {
    // a read's error is the error, whatever the conversion of the other classes made of it
    await Promise.all(Object.values(reads));
  } catch (e) {
    if (e instanceof RecordParseError) {
      throw new InventoryError(`${e.cls} ${e.ref}: field ${e.field || '(record)'}: ${e.detail}`, { cause: e });
    }
    throw e;
  }
  return snapshot;
}
