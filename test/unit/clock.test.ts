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
