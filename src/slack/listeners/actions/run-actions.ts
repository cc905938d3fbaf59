import { ACTION } from '../../blocks/ids';
import type { SlackContext } from '../../context';
import type { Click } from './click';
import { resolveRunClick, surfaceRefusal } from './run-click';

/**
 * Header and approval buttons. Core re-validates every click against the stored run (stale,
 * duplicate, forged, unauthorised, self-approval); on success the Notifier updates the messages.
 */
export async function approveClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolveRunClick(ctx, click, true);
  if (!c) return;
  surfaceRefusal(ctx, click, c.run.id, await ctx.core.approve(c.run.id, c.stepId!, c.actor));
}

export async function holdClick(ctx: SlackContext, click: Click): Promise<void> {
  // from an approval message: hold that gate; from the header: pause the run before the next host
  const c = await resolveRunClick(ctx, click, click.actionId === ACTION.approvalHold);
  if (!c) return;
  const stepId = click.actionId === ACTION.approvalHold ? c.stepId : undefined;
  surfaceRefusal(ctx, click, c.run.id, await ctx.core.hold(c.run.id, stepId, c.actor));
}

export async function resumeClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolveRunClick(ctx, click, false);
  if (!c) return;
  surfaceRefusal(ctx, click, c.run.id, await ctx.core.resume(c.run.id, c.actor));
}

export async function abortClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolveRunClick(ctx, click, false);
  if (!c) return;
  surfaceRefusal(ctx, click, c.run.id, await ctx.core.abort(c.run.id, c.actor));
}

/** Restore after an abort (issue 10.7): Core authorises it like a recovery action and re-validates it on the pool. */
export async function restoreClick(ctx: SlackContext, click: Click): Promise<void> {
  const c = await resolveRunClick(ctx, click, false);
  if (!c) return;
  surfaceRefusal(ctx, click, c.run.id, await ctx.core.restore(c.run.id, c.actor));
}
