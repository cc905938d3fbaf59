/**
 * Which waiting Slack message of one queue (channel) goes next (issue 10 point 10). Pure: the outbox and any
 * store backend that claims entries (PostgreSQL's SKIP LOCKED, issue 16) order by the same two fields of an entry.
 *
 * - Higher `priority` first: approval requests, failure alerts and the run header before the rest of a run's
 *   thread, and a run's thread before plan replies and other chatter. A flood of commands therefore cannot hold
 *   back another run's approval request for more than one message interval.
 * - Within one `group` (a run) the order of enqueueing is kept: an urgent message of a run takes that run's
 *   earlier messages with it (its header first, so the approval lands in the thread, and the events before it),
 *   never overtakes them.
 * - Otherwise first in, first out. The queue is still sent one message at a time at Slack's per-channel pace.
 */
export const PRIORITY = {
  /** plan replies, command answers, notices */
  chatter: 0,
  /** a run's thread messages (events, summaries, decisions) */
  run: 1,
  /** approval requests, failure alerts, run header posts and updates */
  alert: 2,
} as const;

export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY];

export interface Orderable {
  priority?: number;
  group?: string;
}

/** Index (into `queue`, oldest first) of the entry to send next; -1 for an empty queue. */
export function nextIndex(queue: readonly Orderable[]): number {
  let best = -1;
  let bestPriority = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i].priority ?? PRIORITY.chatter;
    if (p > bestPriority) {
      best = i;
      bestPriority = p;
    }
  }
  if (best < 0) return -1;
  const group = queue[best].group;
  if (group === undefined) return best;
  return queue.findIndex((e) => e.group === group);
}

/** The whole queue in sending order (tests, the benchmark, and a store listing entries for a claim). */
export function sendingOrder<T extends Orderable>(queue: readonly T[]): T[] {
  const rest = [...queue];
  const out: T[] = [];
  while (rest.length > 0) out.push(...rest.splice(nextIndex(rest), 1));
  return out;
}
