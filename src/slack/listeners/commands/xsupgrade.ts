import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { parseCommand } from '../../../interface/grammar';
import { errorReply, helpReply } from '../../blocks/replies';
import { INTERNAL_ERROR_TEXT } from '../../errors';
import { channelAllows, SlackContext, tellUser } from '../../context';
import { executeCommand } from './execute';

/**
 * `/xsupgrade …`: parse, ack at once (Slack allows 3 s), then do the work and answer ephemerally
 * (or post to the channel, for a plan). Help and input errors are answered in the ack itself.
 */
const ACK_TEXT: Partial<Record<string, (arg: string) => string>> = {
  plan: (pool) => `:hourglass_flowing_sand: Reading ${pool} and planning… the plan will be posted in this channel.`,
  start: (pool) => `:hourglass_flowing_sand: Starting ${pool} from its latest plan…`,
};

export function xsupgradeCommand(ctx: SlackContext) {
  return async ({ command, ack }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    const parsed = parseCommand(command.text ?? '');
    if (parsed.kind === 'help') {
      await ack({ response_type: 'ephemeral', ...helpReply(parsed.text, parsed.unknown) });
      return;
    }
    if (parsed.kind === 'error') {
      await ack({ response_type: 'ephemeral', ...errorReply(parsed.message, parsed.usage) });
      return;
    }
    const cmd = parsed.command;
    // "⏳ Reading…" only for a pool that exists and is operated from here: otherwise the refusal alone answers
    const pool = 'pool' in cmd ? ctx.pools.find((p) => p.name === cmd.pool) : undefined;
    const accepted = !!pool && channelAllows(pool, { id: command.channel_id, name: command.channel_name });
    const ackText = accepted ? ACK_TEXT[cmd.name]?.(pool.name) : undefined;
    await ack(ackText ? { response_type: 'ephemeral', text: ackText } : undefined);

    const origin = { userId: command.user_id, channelId: command.channel_id, channelName: command.channel_name };
    const log = ctx.logger.child({ command: cmd.name, user: origin.userId, channel: origin.channelId });
    await ctx.track(
      (async () => {
        try {
          const reply = await executeCommand(ctx, cmd, origin);
          if (reply) tellUser(ctx, origin.channelId, origin.userId, reply, `reply ${cmd.name}`);
        } catch (e) {
          log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'slash command failed');
          tellUser(ctx, origin.channelId, origin.userId, { text: INTERNAL_ERROR_TEXT, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: INTERNAL_ERROR_TEXT } }] });
        }
      })(),
    );
  };
}
