/**
 * Test plumbing: records the way xapi sends them over XML-RPC go through the client's own parser
 * (src/xenapi/records.ts parseAllRecords), the same boundary XenApiClient.getAllRecords uses in the product.
 */
import type { PoolRecords, RecordSource } from '../../src/inventory';
import { RECORD_CLASSES, parseAllRecords, type RecordClass } from '../../src/xenapi/records';

/** get_all_records of every class as they come off the wire (int64 as decimal strings), keyed by ref. */
export type WireRecords = { [C in RecordClass]: Record<string, Record<string, unknown>> };

export function parseRecords(wire: WireRecords): PoolRecords {
  return Object.fromEntries(RECORD_CLASSES.map((cls) => [cls, parseAllRecords(cls, wire[cls] ?? {})])) as PoolRecords;
}

/** A client that answers get_all_records like XenApiClient does (parsed), counting its calls per class. */
export function recordSource(wire: WireRecords): RecordSource & { calls: RecordClass[] } {
  const calls: RecordClass[] = [];
  return {
    calls,
    getAllRecords: async (cls) => {
      calls.push(cls);
      return parseAllRecords(cls, wire[cls] ?? {});
    },
  };
}
