/**
 * A reply handed to a decode thread is read off its socket in the loop's shared time slices (issue 13,
 * src/loop-slice.ts): the loop reading a large reply's chunks must still run its timers and other sockets between
 * slices, as every decoder on the loop does. A body whose chunks are always ready (as a fast host's are) was read
 * to its end in microtasks, with no turn of the loop in between.
 */
import { SLICE_MS } from '../../src/loop-slice';
import { decodeThreads } from '../helpers/decode-threads';

test('a large reply going to a thread lets the event loop turn between slices of its chunks', async () => {
  const pool = decodeThreads(1);
  // a mocked clock: handing each chunk over takes 3 ms
  let t = 2_000_000;
  const now = jest.spyOn(performance, 'now').mockImplementation(() => t);
  const UNIT = 3;
  const CHUNKS = 40;
  const text = '{"result":' + JSON.stringify(Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`r${i}`, { uuid: `u${i}` }]))) + '}';
  const bytes = Buffer.from(text);
  const size = Math.ceil(bytes.length / CHUNKS);
  let sinceTurn = 0;
  let reading = true;
  const perTurn: number[] = [];
  async function* body(): AsyncGenerator<Buffer> {
    for (let i = 0; i < CHUNKS; i++) {
      t += UNIT;
      sinceTurn += UNIT;
      yield bytes.subarray(i * size, (i + 1) * size);
    }
    reading = false;
  }
  // stands in for a timer or another socket: runs once per turn of the loop
  const turns = async (): Promise<void> => {
    while (reading) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      perTurn.push(sinceTurn);
      sinceTurn = 0;
    }
  };
  try {
    const [reply] = await Promise.all([pool.decode(body(), { format: 'json', maxDepth: 32, maxBytes: 1e8 }, bytes.length, () => new Error('too large')), turns()]);
    expect(reply.kind).toBe('json');
    expect(Object.keys((reply as { value: { result: object } }).value.result)).toHaveLength(4000);
  } finally {
    now.mockRestore();
    await pool.close();
  }
  expect(perTurn.reduce((a, b) => a + b, 0) + sinceTurn).toBe(CHUNKS * UNIT); // every chunk was read
  // the reading was spread over turns of the loop, none holding it for much more than a slice
  expect(perTurn.filter((w) => w > 0).length).toBeGreaterThanOrEqual(Math.floor((CHUNKS * UNIT) / (SLICE_MS + UNIT)));
  expect(Math.max(...perTurn)).toBeLessThanOrEqual(SLICE_MS + UNIT);
});
