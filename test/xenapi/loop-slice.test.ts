/**
 * The shared time slice (src/loop-slice.ts, issue 13): concurrent decoders that yield between units of work share
 * one budget per event-loop turn, instead of each taking a full slice in turn after every yield.
 */
import { SLICE_MS, nextSlice, sliceDue } from '../../src/loop-slice';

test('four concurrent workers do one slice of work (the unit that spends it included) per event-loop turn between them', async () => {
  // a mocked clock: each unit of work takes 3 ms
  let t = 1_000_000;
  const now = jest.spyOn(performance, 'now').mockImplementation(() => t);
  const UNIT = 3;
  let sinceTurn = 0;
  const perTurn: number[] = [];
  let running = 4;
  const worker = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) {
      if (sliceDue()) await nextSlice();
      t += UNIT;
      sinceTurn += UNIT;
    }
    running--;
  };
  // stands in for a timer or a socket: it runs once per turn of the loop and notes the work done since the last
  const turns = async (): Promise<void> => {
    while (running > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      perTurn.push(sinceTurn);
      sinceTurn = 0;
    }
  };
  try {
    await Promise.all([worker(), worker(), worker(), worker(), turns()]);
  } finally {
    now.mockRestore();
  }
  expect(perTurn.reduce((a, b) => a + b, 0) + sinceTurn).toBe(4 * 20 * UNIT); // all the work was done
  expect(Math.max(...perTurn)).toBeLessThanOrEqual(SLICE_MS + UNIT);
  expect(perTurn.length).toBeGreaterThan((4 * 20 * UNIT) / (SLICE_MS + UNIT) - 1);
});
