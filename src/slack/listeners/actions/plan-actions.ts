import { ACTION, decodeButtonValue, planButtonValue } from '../../blocks/ids';
import { textReply } from '../../blocks/replies';
import { describeRefusal, INVALID_BUTTON_TEXT } from '../../errors';
import { actorFor, auditRefusal, channelAllows, channelMention, poolByName, postPlan, SlackContext } from '../../context';
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
  // a plan message posted before a restart is not known yet: once a run starts, its Start button goes too
  if (click.messageTs && click.messageBlocks && c.value.planHash && !ctx.notifier.planMessages.knows(c.pool.name, click.channelId, click.messageTs)) {
    ctx.notifier.planMessages.remember(c.pool.name, {
      channel: click.channelId,
      ts: click.messageTs,
      planId: c.value.planHash,
      planAt: c.value.planAt ?? -1,
      message: { text: `${c.pool.name}: plan`, blocks: click.messageBlocks },
    });
  }
  // Core starts only from the pool's latest plan, not started yet, still matching the live pool (issue 10.6);
  // on success the notifier replaces every plan message's Start button (this one: who started which run)
  const result = await ctx.core.start(c.pool.name, { planHash: c.value.planHash, planMadeAt: c.value.planAt }, c.actor);
  if (!result.ok) {
    tellClicker(ctx, click, textReply(`Start ${c.pool.name}: ${describeRefusal(result.code, result.error)}`), 'start refused');
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
  postPlan(ctx, click.channelId, result.value, click.userId);
}
