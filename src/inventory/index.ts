import { Clock, systemClock } from '../clock';
import type { PoolSnapshot } from '../domain/types';
import { RECORD_CLASSES, RecordParseError, type RecordClass, type RecordOf } from '../xenapi/records';
import { PoolRecords, toSnapshotSliced } from './convert';
import { InventoryError } from './errors';

export { toSnapshot, toSnapshotSliced } from './convert';
export type { PoolRecords } from './convert';
export { InventoryError } from './errors';
export { readAppliedUpdates, testRepository } from './repository';
export type { PluginCaller, RepositoryTestResults } from './repository';

/** What readSnapshot needs from the XenAPI client: its parsed get_all_records (src/xenapi XenApiClient satisfies it). */
export interface RecordSource {
  getAllRecords<C extends RecordClass>(cls: C): Promise<Record<string, RecordOf<C>>>;
}

/**
 * One snapshot of the pool: exactly one `<class>.get_all_records` call per class (RECORD_CLASSES, 14 calls: network, PIF and VIF included), whatever
 * the pool's size. The calls run concurrently; the snapshot time is taken before the first call. The client parses
 * each record once (src/xenapi/records.ts); a record it refuses becomes an InventoryError naming class, ref and field.
 */
export async function readSnapshot(client: RecordSource, clock: Clock = systemClock): Promise<PoolSnapshot> {
  const takenAt = clock.now();
  let results: Array<Record<string, unknown>>;
  try {
    results = await Promise.all(RECORD_CLASSES.map((cls) => client.getAllRecords(cls)));
  } catch (e) {
    if (e instanceof RecordParseError) {
      throw new InventoryError(`${e.cls} ${e.ref}: field ${e.field || '(record)'}: ${e.detail}`, { cause: e });
    }
    throw e;
  }
  // converted in time slices: a 64-host pool's snapshot must not hold the event loop (Slack acks, other pools)
  return toSnapshotSliced(Object.fromEntries(RECORD_CLASSES.map((cls, i) => [cls, results[i]])) as PoolRecords, takenAt);
}
