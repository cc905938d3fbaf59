/**
 * The buffers a decode thread reuses for JSON replies (src/xenapi/reply-buffers.ts, issue 13): a reply gets a buffer
 * large enough, grown with its bytes kept, and what is kept for reuse stays within its bound.
 */
import { ReplyBuffers } from '../../src/xenapi/reply-buffers';

test('a buffer given back is taken again for a reply it fits, the smallest that fits first', () => {
  const buffers = new ReplyBuffers(1024);
  const big = buffers.take(400);
  const small = buffers.take(100);
  expect(big.length).toBeGreaterThanOrEqual(400);
  expect(small).not.toBe(big);
  buffers.give(big);
  buffers.give(small);
  expect(buffers.keptBytes).toBe(big.length + small.length);
  expect(buffers.take(50)).toBe(small);
  expect(buffers.take(50)).toBe(big);
  // none kept fits: a new one
  expect(buffers.take(2000).length).toBeGreaterThanOrEqual(2000);
  expect(buffers.keptBytes).toBe(0);
});

test('growing keeps the bytes used so far and gives the old buffer back', () => {
  const buffers = new ReplyBuffers(1 << 20);
  const first = buffers.take(8);
  first.write('abcdefgh');
  const grown = buffers.grow(first, 5, 9);
  expect(grown.length).toBeGreaterThanOrEqual(16); // at least doubled: a reply that outgrows its buffer does not regrow per chunk
  expect(grown.subarray(0, 5).toString()).toBe('abcde');
  expect(buffers.take(8)).toBe(first);
});

test('what is kept stays within the bound (the largest kept), is given back once, and all of it goes on clear', () => {
  const buffers = new ReplyBuffers(1000);
  const a = Buffer.alloc(600);
  const b = Buffer.alloc(300);
  const c = Buffer.alloc(200);
  buffers.give(c);
  buffers.give(a);
  buffers.give(a); // twice: kept once
  expect(buffers.keptBytes).toBe(800);
  buffers.give(b); // 1,100 > 1,000: the smallest goes
  expect(buffers.keptBytes).toBe(900);
  expect(buffers.take(150)).toBe(b);
  buffers.clear();
  expect(buffers.keptBytes).toBe(0);
  expect(buffers.take(500)).not.toBe(a);
});
