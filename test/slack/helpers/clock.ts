import type { Clock } from '../../../src/clock';

/**
 * A clock whose sleeps resolve at once (on the next macrotask) and are recorded, so tests count
 * and inspect waits (Retry-After, backoff, per-channel spacing) instead of timing them.
 */
export class InstantClock implements Clock {
  readonly scale = 1;
  readonly sleeps: number[] = [];
  constructor(private t = Date.UTC(2026, 10, 25, 3, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      setImmediate(resolve);
    });
  }
}
