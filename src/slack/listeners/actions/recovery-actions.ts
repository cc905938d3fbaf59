import type { RecoveryAction } from '../../../domain/types';
import { failureDecidedMessage, RECOVERY_BY_ACTION_ID } from '../../blocks/failure';
import { forgetRejoinModal } from '../../blocks/forget-rejoin-modal';
import { textReply } from '../../blocks/replies';
import { auditRefusal, SlackContext, updateMessage } from '../../context';
import { tellClicker, type Click } from './click';
import { resolveRunClick, surfaceRefusal } from './run-click';

/**
 * Failure-alert buttons (R4.1 roll back master, R4.2 forget & rejoin, R4.3 retry, skip, abort).
 * Core checks that the action is valid for the failed step and that the user may take it; once
 * accepted, the alert's buttons are replaced by who chose what and when.
 */
export async function recoveryClick(ctx: SlackContext, click: Click): Promise<void> {
  const action: RecoveryAction | undefined = RECOVERY_BY_ACTION_ID[click.actionId];
  const c = await resolveRunClick(ctx, click, true);
  if (!c || !action) return;
  // Abort too goes with the alert's step: Core refuses it, like the other buttons, once that failure was handled
  const result = await ctx.core.recover(c.run.id, { action, stepId: c.stepId!, ...(c.attempt !== undefined ? { attempt: c.attempt } : {}) }, c.actor);
  if (surfaceRefusal(ctx, click, c.run.id, result)) return;
  const step = c.run.steps.find((s) => s.id === c.stepId);
  if (step && click.messageTs) {
    updateMessage(ctx, click.channelId, click.messageTs, failureDecidedMessage(c.run, step, action, click.userId, ctx.clock.now(), c.pool), `recovery chosen ${c.run.id}`);
  }
}

/**
 * "Forget host & rejoin…" opens the modal right away (the trigger lives ~3 s). The stored run is
 * checked first so a stale alert does not open a form that can only be refused; Core re-checks on submit.
 */
export async function forgetRejoinClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolveRunClick(ctx, click, true);
  if (!c) return;
  const step = c.run.steps.find((s) => s.id === c.stepId);
  if (!step || step.state !== 'failed' || c.run.state !== 'failed' || (c.attempt !== undefined && c.attempt !== step.attempts)) {
    const now = step && step.state === 'failed' && c.run.state === 'failed' ? `it has failed again since: attempt ${step.attempts}, see the newer alert` : `step ${c.stepId} is ${step?.state ?? 'unknown'}, run ${c.run.state}`;
    await auditRefusal(ctx, { runId: c.run.id, actor: click.userId, message: `stale forget-rejoin click: ${now}`, detail: { action: click.actionId } });
    tellClicker(ctx, click, textReply(`${c.run.id}: this alert is out of date (${now}). Nothing was done.`), 'stale alert');
    return;
  }
  const view = forgetRejoinModal(c.run, step, { runId: c.run.id, stepId: step.id, ...(c.attempt !== undefined ? { attempt: c.attempt } : {}), channel: click.channelId, messageTs: click.messageTs, ...(click.threadTs ? { threadTs: click.threadTs } : {}) });
  try {
    await ctx.outbox.callNow('views.open', { trigger_id: click.triggerId, view });
  } catch (e) {
    ctx.logger.warn({ runId: c.run.id, err: (e as { data?: { error?: string } }).data?.error ?? (e as Error).message }, 'could not open the forget & rejoin form');
    tellClicker(ctx, click, textReply(`${c.run.id}: the form could not be opened in time. Click "Forget host & rejoin…" again.`), 'modal failed');
  }
}
