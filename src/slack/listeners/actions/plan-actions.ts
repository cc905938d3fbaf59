import type { KnownBlock } from '@slack/types';
import { clockTime, context, who } from '../../blocks/common';
import { ACTION, decodeButtonValue, planButtonValue } from '../../blocks/ids';
import { textReply } from '../../blocks/replies';
import { describeRefusal, INVALID_BUTTON_TEXT } from '../../errors';
import { actorFor, auditRefusal, channelAllows, channelMention, poolByName, postWithThread, SlackContext, updateMessage } from '../../context';
import { tellClicker, type Click } from './click';

/** Plan message buttons: Start (re-validated by Core against the plan hash shown) and Re-plan. */

async function resolvePlanClick(ctx: SlackContext, click: Click) {
  const value = decodeButtonValue(planButtonValue, click.value);
  const pool = value ? poolByName(ctx, value.pool) : undefined;
  if (!value || !pool || (click.actionId === ACTION.planStart && !value.planHash)) {
    await auditRefusal(ctx, { runId: value ? `pool:${value.pool}` : 'unknown', actor: click.userId, message: `forged or corrupted plan button on ${click.actionId}`, detail: { action: click.actionId } });
    tellClicker(ctx, click, textReply(INVALID_BUTTON_TEXT.replace(/^:no_entry: /, '')), 'invalid button');
    return undefined;
  }
  if (!channelAllows(pool, { id: click.channelId })) {
    await auditRefusal(ctx, { runId: `pool:${pool.name}`, actor: click.userId, message: `${click.actionId} from a channel that does not operate ${pool.name}`, detail: { channel: click.channelId } });
    tellClicker(ctx, click, textReply(`${pool.name} is operated from ${channelMention(pool)} only. Nothing was done.`), 'wrong channel');
    return undefined;
  }
  return { value, pool, actor: await actorFor(ctx, click.userId, click.channelId, pool) };
}

export async function planStartClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolvePlanClick(ctx, click);
  if (!c) return;
  const result = await ctx.core.start(c.pool.name, { planHash: c.value.planHash }, c.actor);
  if (!result.ok) {
    tellClicker(ctx, click, textReply(`Start ${c.pool.name}: ${describeRefusal(result.code, result.error)}`), 'start refused');
    return;
  }
  // the plan message keeps its content; its buttons give way to who started which run
  if (click.messageTs && click.messageBlocks) {
    const kept = click.messageBlocks.filter((b) => b.type !== 'actions');
    const line = context(`▶️ Started as run \`${result.value.id}\` by ${who(click.userId)} at ${clockTime(ctx.clock.now(), c.pool.timezone)}`);
    const blocks: KnownBlock[] = [...kept, line];
    updateMessage(ctx, click.channelId, click.messageTs, { text: `${c.pool.name}: plan started as run ${result.value.id}`, blocks }, `plan started ${result.value.id}`);
  }
}

export async function planReplanClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolvePlanClick(ctx, click);
  if (!c) return;
  const result = await ctx.core.plan(c.pool.name, {}, c.actor);
  if (!result.ok) {
    tellClicker(ctx, click, textReply(`Plan for ${c.pool.name}: ${describeRefusal(result.code, result.error)}`), 'replan refused');
    return;
  }
  postWithThread(ctx, click.channelId, ctx.planBlocks(result.value, { requestedBy: click.userId }), `plan ${c.pool.name}`);
}
