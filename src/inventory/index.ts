import { Clock, systemClock } from '../clock';
import type { PoolSnapshot } from '../domain/types';
import { toSnapshot } from './convert';
import { InventoryClass, RECORD_CLASSES, RawRecords } from './wire';

export { toSnapshot, SAN_BOOT_KEY } from './convert';
export { InventoryError, RECORD_CLASSES } from './wire';
export type { RawRecords, InventoryClass } from './wire';
export { testRepository } from './repository';
export type { PluginCaller, RepositoryTestResults } from './repository';

/** What readSnapshot needs from the XenAPI client (src/xenapi XenApiClient satisfies it). */
export interface RecordSource {
  getAllRecords(cls: InventoryClass): Promise<Record<string, unknown>>;
}

/**
 * One snapshot of the pool: exactly one `<class>.get_all_records` call per class (11 calls), whatever the
 * pool's size. The calls run concurrently; the snapshot time is taken before the first call.
 */
export async function readSnapshot(client: RecordSource, clock: Clock = systemClock): Promise<PoolSnapshot> {
  const takenAt = clock.now();
  const results = await Promise.all(RECORD_CLASSES.map((cls) => client.getAllRecords(cls)));
  const raw = Object.fromEntries(RECORD_CLASSES.map((cls, i) => [cls, results[i]])) as RawRecords;
  return toSnapshot(raw, takenAt);
}
