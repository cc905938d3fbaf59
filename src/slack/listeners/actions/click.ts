import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import { INTERNAL_ERROR_TEXT } from '../../errors';
import { SlackContext, tellUser } from '../../context';

/** A button click, reduced to what handlers need. Everything in it came from the client: untrusted. */
export interface Click {
  actionId: string;
  value: unknown;
  userId: string;
  channelId: string;
  /** the message the button was on */
  messageTs?: string;
  messageBlocks?: KnownBlock[];
  triggerId: string;
}

export type ClickHandler = (ctx: SlackContext, click: Click) => Promise<void>;

/** Acks at once, then runs the handler after the ack; failures are logged and the user told. */
export function onClick(ctx: SlackContext, handler: ClickHandler) {
  return async ({ ack, body, action }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const click: Click = {
      actionId: action.action_id,
      value: 'value' in action ? action.value : undefined,
      userId: body.user.id,
      channelId: body.channel?.id ?? body.container?.channel_id ?? '',
      messageTs: body.message?.ts ?? body.container?.message_ts,
      messageBlocks: body.message?.blocks as KnownBlock[] | undefined,
      triggerId: body.trigger_id,
    };
    const log = ctx.logger.child({ action: click.actionId, user: click.userId, channel: click.channelId });
    await ctx.track(
      handler(ctx, click).catch((e: unknown) => {
        log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'button handler failed');
        if (click.channelId) tellUser(ctx, click.channelId, click.userId, { text: INTERNAL_ERROR_TEXT, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: INTERNAL_ERROR_TEXT } }] });
      }),
    );
  };
}
