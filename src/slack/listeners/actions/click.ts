import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import { INTERNAL_ERROR_TEXT } from '../../errors';
import type { SlackMessage } from '../../blocks/common';
import { SlackContext, tellUser } from '../../context';

/** A button click, reduced to what handlers need. Everything in it came from the client: untrusted. */
export interface Click {
  actionId: string;
  value: unknown;
  userId: string;
  channelId: string;
  /** the message the button was on */
  messageTs?: string;
  /** the thread that message is a reply in (undefined for a message in the channel itself) */
  threadTs?: string;
  messageBlocks?: KnownBlock[];
  triggerId: string;
}

export type ClickHandler = (ctx: SlackContext, click: Click) => Promise<void>;

/** A reply in a thread carries its parent's ts as thread_ts; a parent carries its own ts, and stays in the channel. */
function threadOf(body: BlockAction): string | undefined {
  const message = body.message as { ts?: string; thread_ts?: string } | undefined;
  const container = body.container as { message_ts?: string; thread_ts?: string } | undefined;
  const thread = message?.thread_ts ?? container?.thread_ts;
  const ts = message?.ts ?? container?.message_ts;
  return typeof thread === 'string' && thread !== ts ? thread : undefined;
}

/** An ephemeral answer to the user who clicked, where they clicked: in the thread when the button was in one. */
export function tellClicker(ctx: SlackContext, click: Click, msg: SlackMessage, describe?: string): void {
  if (click.channelId) tellUser(ctx, click.channelId, click.userId, msg, describe, click.threadTs);
}

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
      threadTs: threadOf(body),
      messageBlocks: body.message?.blocks as KnownBlock[] | undefined,
      triggerId: body.trigger_id,
    };
    const log = ctx.logger.child({ action: click.actionId, user: click.userId, channel: click.channelId });
    await ctx.track(
      handler(ctx, click).catch((e: unknown) => {
        log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'button handler failed');
        tellClicker(ctx, click, { text: INTERNAL_ERROR_TEXT, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: INTERNAL_ERROR_TEXT } }] });
      }),
    );
  };
}
