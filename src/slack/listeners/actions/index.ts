import type { App } from '@slack/bolt';
import { ACTION } from '../../blocks/ids';
import type { SlackContext } from '../../context';
import { ClickHandler, onClick } from './click';
import { planReplanClick, planStartClick } from './plan-actions';
import { forgetRejoinClick, recoveryClick } from './recovery-actions';
import { abortClick, approveClick, holdClick, restoreClick, resumeClick } from './run-actions';
import { toolsDismissClick } from './tools-actions';

/** Action id → handler. The ids are the constants blocks/ renders into buttons. */
export const ACTION_HANDLERS: Record<string, ClickHandler> = {
  [ACTION.planStart]: planStartClick,
  [ACTION.planReplan]: planReplanClick,
  [ACTION.runHold]: holdClick,
  [ACTION.runResume]: resumeClick,
  [ACTION.runAbort]: abortClick,
  [ACTION.runRestore]: restoreClick,
  [ACTION.approve]: approveClick,
  [ACTION.approvalHold]: holdClick,
  [ACTION.approvalAbort]: abortClick,
  [ACTION.recoverRetry]: recoveryClick,
  [ACTION.recoverRollbackMaster]: recoveryClick,
  [ACTION.recoverSkipHost]: recoveryClick,
  [ACTION.recoverAbort]: recoveryClick,
  [ACTION.recoverForgetRejoin]: forgetRejoinClick,
  [ACTION.toolsDismiss]: toolsDismissClick,
};

export function register(app: App, ctx: SlackContext): void {
  for (const [actionId, handler] of Object.entries(ACTION_HANDLERS)) app.action(actionId, onClick(ctx, handler));
}
