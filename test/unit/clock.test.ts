import { ScaledClock } from '../../src/clock';

describe('ScaledClock', () => {
  it('sleeps clock time divided by the scale', async () => {
    const clock = new ScaledClock(10_000, 0);
    const realStart = Date.now();
    await clock.sleep(60_000); // one clock minute = 6 real ms
    expect(clock.now()).toBeGreaterThanOrEqual(60_000);
    // generous bound: this checks the scaling, not the machine's speed
    expect(Date.now() - realStart).toBeLessThan(5_000);
  });

  it('a sleep ends only once the clock has reached its end, even when its timer fires before Date.now() has moved as far', async () => {
    // Node's timers keep their own millisecond clock: a 6 ms timer sometimes fired when Date.now() had moved 5 ms,
    // and at ×10,000 the clock then read 50 s after a 60 s sleep (a CI failure). Here Date.now() lags 3 ms behind.
    const clock = new ScaledClock(10_000, 0);
    const realNow = Date.now.bind(Date);
    const before = clock.now();
    const sleeping = clock.sleep(60_000);
    // from here on, Date.now() has moved 3 ms less than the timers' clock
    const lagging = jest.spyOn(Date, 'now').mockImplementation(() => realNow() - 3);
    try {
      await sleeping;
      expect(clock.now() - before).toBeGreaterThanOrEqual(60_000);
    } finally {
      lagging.mockRestore();
    }
  });

  it('rejects a sleep when its signal aborts', async () => {
    const clock = new ScaledClock(1);
    const ac = new AbortController();
    const p = clock.sleep(60_000, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(p).rejects.toThrow('stopped');
  });

  it('refuses a non-positive scale', () => {
    expect(() => new ScaledClock(0)).toThrow(/scale/);
  });
});
