/**
 * One time budget for all the work that yields to the event loop as it goes (issue 13). A pool read decodes its 14
 * replies concurrently; with a budget of its own, each decoder resumed after a yield and took a full slice in turn,
 * so 14 × 8 ms ran with no timer or socket served in between. Work calls `sliceDue()` between units of work and
 * `await nextSlice()` when it is due: that waits for a turn of the loop (setImmediate: timers and I/O run first)
 * and takes the fresh slice of that turn; one slice per turn, whoever waits.
 */
export const SLICE_MS = 8;

let sliceStart = performance.now();
/** the next turn of the loop, and whether a waiter already took its slice */
let turn: { reached: Promise<void>; taken: boolean } | undefined;

/** Has the current slice run out (SLICE_MS since the loop's last turn taken here)? */
export function sliceDue(): boolean {
  const spent = performance.now() - sliceStart;
  // performance.now() never goes back, except under a test's mocked clock: then a fresh slice starts
  return spent >= SLICE_MS || spent < 0;
}

/**
 * Waits for a turn of the event loop whose slice no one else took. Of the work waiting for the same turn, the
 * first takes its slice and the others wait for the next turn (had each of them taken a slice of its own, the
 * loop would again be held for one slice per waiter).
 */
export async function nextSlice(): Promise<void> {
  if (!sliceDue()) return;
  for (;;) {
    const t = (turn ??= newTurn());
    await t.reached;
    if (!t.taken) {
      t.taken = true;
      return;
    }
  }
}

function newTurn(): { reached: Promise<void>; taken: boolean } {
  const t = { reached: Promise.resolve(), taken: false };
  t.reached = new Promise<void>((resolve) =>
    setImmediate(() => {
      if (turn === t) turn = undefined;
      sliceStart = performance.now();
      resolve();
    }),
  );
  return t;
}

/** Runs work written as steps (a generator that yields between units of work), taking the shared slice between them. */
export async function runSliced<T>(steps: Generator<void, T, void>): Promise<T> {
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
    if (sliceDue()) await nextSlice();
  }
}
