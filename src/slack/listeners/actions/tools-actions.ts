import { toolsVersionOf } from '../../blocks/tools';
import { textReply } from '../../blocks/replies';
import type { SlackContext } from '../../context';
import { auditRefusal } from '../../context';
import { tellClicker, type Click } from './click';
import { resolveRunClick, surfaceRefusal } from './run-click';

/**
 * Dismiss on a run's Tools checklist (R5.1): approvers only, from the pool's channel (resolveRunClick), and only on
 * the message's current version — the follow-up re-validates against the stored checklist (stale or duplicate
 * clicks are refused and audited there).
 */
export async function toolsDismissClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolveRunClick(ctx, click, true);
  if (!c) return;
  const version = toolsVersionOf(c.stepId);
  if (version === undefined) {
    await auditRefusal(ctx, { runId: c.run.id, actor: click.userId, message: `forged Tools checklist button (${c.stepId ?? 'no version'})`, detail: { action: click.actionId } });
    tellClicker(ctx, click, textReply('This button was not made by this bot. Nothing was done.'), 'invalid tools button');
    return;
  }
  if (!ctx.tools) {
    tellClicker(ctx, click, textReply('The Tools follow-up is not enabled in this bot. Nothing was done.'), 'tools disabled');
    return;
  }
  const result = await ctx.tools.dismiss(c.run.id, version, c.actor);
  if (surfaceRefusal(ctx, click, c.run.id, result)) return;
  ctx.logger.info({ runId: c.run.id, user: click.userId }, 'Tools checklist dismissed');
}
