/**
 * Decode threads for tests (src/xenapi/decode-pool.ts): the compiled thread script, which the tests' global setup
 * builds into dist/. Under ts-jest a pool has no threads unless given it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DecodePool } from '../../src/xenapi/decode-pool';

export const DECODE_WORKER = join(__dirname, '..', '..', 'dist', 'src', 'xenapi', 'decode-worker.js');

/** A pool of `threads` that takes every reply (everyReply); throws if the build is missing, rather than test nothing. */
export function decodeThreads(threads: number): DecodePool {
  if (!existsSync(DECODE_WORKER)) throw new Error(`${DECODE_WORKER} is missing: npm run build`);
  return new DecodePool({ threads, everyReply: true, workerFile: DECODE_WORKER });
}
