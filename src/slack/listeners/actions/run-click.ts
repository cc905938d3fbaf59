import type { PoolConfig } from '../../../config/pools';
import type { CoreResult } from '../../../domain/ports';
import type { Actor, Run } from '../../../domain/types';
import { decodeButtonValue, runButtonValue } from '../../blocks/ids';
import { textReply } from '../../blocks/replies';
import { describeRefusal, INVALID_BUTTON_TEXT } from '../../errors';
import { actorFor, auditRefusal, channelAllows, channelMention, poolByName, SlackContext } from '../../context';
import { tellClicker, type Click } from './click';

/** A click on a run button, checked against the stored run before anything is asked of Core. */
export interface RunClick {
  run: Run;
  stepId?: string;
  /** a failure alert's: the step's attempt it reports */
  attempt?: number;
  pool: PoolConfig;
  actor: Actor;
}

/**
 * Decodes and checks a run button: a value this bot did not produce, an unknown run, or a click from
 * another channel is refused here (told to the user, audited); the rest is Core's to authorise.
 */
export async function resolveRunClick(ctx: SlackContext, click: Click, needsStep: boolean): Promise<RunClick | undefined> {
  const value = decodeButtonValue(runButtonValue, click.value);
  if (!value || (needsStep && !value.stepId)) {
    await auditRefusal(ctx, { runId: 'unknown', actor: click.userId, message: `forged or corrupted button value on ${click.actionId}`, detail: { action: click.actionId, channel: click.channelId } });
    tellClicker(ctx, click, textReply(INVALID_BUTTON_TEXT.replace(/^:no_entry: /, '')), 'invalid button');
    return undefined;
  }
  const run = await ctx.core.getRun(value.runId);
  if (!run) {
    await auditRefusal(ctx, { runId: value.runId, actor: click.userId, message: `click on ${click.actionId} for an unknown run`, detail: { action: click.actionId } });
    tellClicker(ctx, click, textReply(`There is no run ${value.runId}. Nothing was done.`), 'unknown run');
    return undefined;
  }
  const pool = poolByName(ctx, run.pool);
  if (!pool || !channelAllows(pool, { id: click.channelId })) {
    await auditRefusal(ctx, { runId: run.id, actor: click.userId, message: `click on ${click.actionId} from a channel that does not operate ${run.pool}`, detail: { action: click.actionId, channel: click.channelId } });
    tellClicker(ctx, click, textReply(`${run.pool} is operated from ${pool ? channelMention(pool) : 'its own channel'} only. Nothing was done.`), 'wrong channel');
    return undefined;
  }
  return { run, stepId: value.stepId, attempt: value.attempt, pool, actor: await actorFor(ctx, click.userId, click.channelId, pool) };
}

/** Core's refusal (already audited by Core) as an ephemeral message to the clicking user. */
export function surfaceRefusal(ctx: SlackContext, click: Click, runId: string, result: CoreResult<unknown>): result is { ok: false; error: string; code: never } {
  if (result.ok) return false;
  ctx.logger.info({ runId, action: click.actionId, user: click.userId, code: result.code }, 'Core refused a click');
  tellClicker(ctx, click, textReply(`${runId}: ${describeRefusal(result.code, result.error)}`), `refusal ${runId}`);
  return true;
}
