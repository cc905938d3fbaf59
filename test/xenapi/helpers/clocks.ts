import type { Clock } from '../../../src/clock';

/**
 * A deterministic clock for tests: time moves only when the code sleeps (by the slept amount) or, with
 * `nowStep`, by a fixed amount on every now() — so deadlines are reached after a countable number of loops.
 */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  onSleep?: (ms: number, index: number) => void | Promise<void>;

  constructor(
    private t = 1_700_000_000_000,
    private readonly nowStep = 0,
    readonly scale = 1000,
  ) {}

  now(): number {
    const v = this.t;
    this.t += this.nowStep;
    return v;
  }

  advance(ms: number): void {
    this.t += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.t += ms;
    await this.onSleep?.(ms, this.sleeps.length - 1);
    await new Promise((r) => setImmediate(r));
  }
}
