/**
 * Reusable buffers for the bytes of JSON replies on a decode thread (decode-worker.ts, issue 13).
 *
 * A JSON reply is parsed once all of it has arrived, so its chunks are put together first. Joined into fresh
 * memory each time (Buffer.concat), every page is faulted in again: on the 2-vCPU machine of docs/benchmarks.md
 * filling a fresh 6 MB buffer took 7.3 ms against 0.1 ms for one already used, and joining the replies of one
 * 64-host read cost the decode threads ~60 ms. Here a reply's bytes are copied into a buffer that earlier replies
 * used, as they arrive; the buffer is given back once the reply is decoded (its text is copied out by then).
 */
export class ReplyBuffers {
  private free: Buffer[] = [];
  private freeBytes = 0;

  /** keepBytes: at most this many bytes of buffers are kept for reuse; a buffer given back beyond it is dropped */
  constructor(private readonly keepBytes: number) {}

  /** A buffer of at least `bytes` (the smallest kept one that fits, else a new one). Its content is undefined. */
  take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.length >= bytes && (best < 0 || b.length < this.free[best]!.length)) best = i;
    }
    if (best < 0) return Buffer.allocUnsafeSlow(bytes);
    const [b] = this.free.splice(best, 1);
    this.freeBytes -= b!.length;
    return b!;
  }

  /** A buffer of at least `bytes` holding the first `used` bytes of `buf`, which is given back. */
  grow(buf: Buffer, used: number, bytes: number): Buffer {
    const bigger = this.take(Math.max(bytes, buf.length * 2));
    buf.copy(bigger, 0, 0, used);
    this.give(buf);
    return bigger;
  }

  /** `buf` is no longer used: kept for the next reply while the kept buffers stay within keepBytes. */
  give(buf: Buffer): void {
    if (this.free.includes(buf)) return;
    this.free.push(buf);
    this.freeBytes += buf.length;
    // over the bound: the smallest go first (a large reply needs a large buffer; small ones are cheap to make)
    this.free.sort((a, b) => b.length - a.length);
    while (this.freeBytes > this.keepBytes) this.freeBytes -= this.free.pop()!.length;
  }

  /** Drops every kept buffer (the thread has been idle: its memory goes back). */
  clear(): void {
    this.free = [];
    this.freeBytes = 0;
  }

  /** Bytes kept for reuse. */
  get keptBytes(): number {
    return this.freeBytes;
  }
}
