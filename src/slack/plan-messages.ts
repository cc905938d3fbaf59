import type { KnownBlock } from '@slack/types';
import type { Run } from '../domain/types';
import type { SlackMessage } from './blocks/common';
import { clockTime, context, who } from './blocks/common';
import { ACTION } from './blocks/ids';

/**
 * The plan messages posted in each pool's channel, so that once a run starts every one of them loses its Start
 * button (issue 10.6): a plan starts one run, and only the latest plan of a pool can start anything (Core refuses a
 * click on any other, with the reason). Kept in memory: after a restart, older messages keep their buttons on screen
 * but Core still refuses them.
 */
export interface PostedPlan {
  channel: string;
  ts: string;
  planId: string;
  planAt: number;
  message: SlackMessage;
}

const KEEP_PER_POOL = 50;

export class PlanMessages {
  private readonly byPool = new Map<string, PostedPlan[]>();

  remember(pool: string, posted: PostedPlan): void {
    const list = (this.byPool.get(pool) ?? []).filter((p) => !(p.ts === posted.ts && p.channel === posted.channel));
    list.push(posted);
    this.byPool.set(pool, list.slice(-KEEP_PER_POOL));
  }

  knows(pool: string, channel: string, ts: string): boolean {
    return (this.byPool.get(pool) ?? []).some((p) => p.ts === ts && p.channel === channel);
  }

  /** The messages of the run's pool that still show a Start button, each with its replacement; forgotten afterwards. */
  retire(run: Run, at: number, timezone: string | undefined): Array<{ channel: string; ts: string; message: SlackMessage }> {
    const list = this.byPool.get(run.pool) ?? [];
    this.byPool.delete(run.pool);
    return list.map((p) => ({ channel: p.channel, ts: p.ts, message: withoutStart(p, run, at, timezone) }));
  }
}

/** The plan message with its Start button replaced by what happened; Re-plan stays. */
export function withoutStart(p: PostedPlan, run: Run, at: number, timezone: string | undefined): SlackMessage {
  const blocks: KnownBlock[] = [];
  for (const b of (p.message.blocks ?? []) as KnownBlock[]) {
    if (b.type !== 'actions') {
      blocks.push(b);
      continue;
    }
    const elements = b.elements.filter((e) => !('action_id' in e && e.action_id === ACTION.planStart));
    if (elements.length) blocks.push({ ...b, elements });
  }
  const mine = run.planHash === p.planId && run.plan.createdAt === p.planAt;
  const line = mine
    ? `▶️ Started as run \`${run.id}\` by ${who(run.requestedBy)} at ${clockTime(at, timezone)}`
    : `⏹ Start withdrawn: run \`${run.id}\` started at ${clockTime(at, timezone)} (by ${who(run.requestedBy)}). A plan starts one run; make a new plan for another.`;
  blocks.push(context(line));
  return { text: mine ? `${run.pool}: plan started as run ${run.id}` : `${run.pool}: plan superseded by run ${run.id}`, blocks };
}
