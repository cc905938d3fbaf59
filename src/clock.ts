/**
 * One injectable source of time for everything that waits (simulator, runner, scheduler).
 * A ScaledClock runs `scale` times faster than the wall clock, so a 40-minute simulated
 * install passes in 2.4 s at scale 1000 — in tests and in the demo alike.
 */
export interface Clock {
  /** Current time in epoch milliseconds, in this clock's (possibly scaled) time. */
  now(): number;
  /** Resolve after `ms` milliseconds of this clock's time; rejects with the signal's reason if aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Real milliseconds per clock millisecond is 1/scale. */
  readonly scale: number;
}

export class ScaledClock implements Clock {
  private readonly realOrigin = Date.now();

  constructor(
    readonly scale = 1,
    private readonly origin = Date.now(),
  ) {
    if (!(scale > 0)) throw new Error(`clock scale must be > 0, got ${scale}`);
  }

  now(): number {
    return Math.round(this.origin + (Date.now() - this.realOrigin) * this.scale);
  }

  /**
   * Resolves once the clock has reached now + ms. Node's timers keep their own millisecond clock, so a timer may
   * fire when Date.now() has moved a millisecond less (at ×10,000, ten clock seconds short): the sleep then waits
   * for the rest.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const until = this.now() + ms;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let timer: NodeJS.Timeout;
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const wake = () => {
        const left = until - this.now();
        if (left > 0) {
          timer = setTimeout(wake, Math.max(1, left / this.scale));
          return;
        }
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      timer = setTimeout(wake, Math.max(0, ms / this.scale));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export const systemClock: Clock = new ScaledClock(1);
