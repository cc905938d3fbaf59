import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { z } from 'zod';
import { failureDecidedMessage } from '../../blocks/failure';
import { FORGET_REJOIN_INPUT } from '../../blocks/ids';
import { textReply } from '../../blocks/replies';
import { describeRefusal, INTERNAL_ERROR_TEXT } from '../../errors';
import { actorFor, auditRefusal, channelAllows, poolByName, SlackContext, tellUser, updateMessage } from '../../context';

/** The modal's private metadata: ids written by forgetRejoinClick; re-validated by Core. */
const metadataSchema = z
  .object({
    runId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,80}$/),
    stepId: z.string().min(1).max(200),
    channel: z.string().regex(/^[CGD][A-Z0-9]+$/),
    messageTs: z.string().regex(/^\d+\.\d+$/).optional(),
    threadTs: z.string().regex(/^\d+\.\d+$/).optional(),
  })
  .strict();

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const hostAddress = z
  .string()
  .trim()
  .refine((a) => IPV4.test(a) || (HOSTNAME.test(a) && !/^\d+(\.\d+)*$/.test(a)), 'Enter the IPv4 address (like 10.0.0.23) or the host name of the reinstalled host');

export function forgetRejoinSubmit(ctx: SlackContext) {
  return async ({ ack, body, view }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const userId = body.user.id;
    let meta: z.infer<typeof metadataSchema>;
    try {
      meta = metadataSchema.parse(JSON.parse(view.private_metadata));
    } catch {
      await ack({ response_action: 'errors', errors: { [FORGET_REJOIN_INPUT.block]: 'This form is no longer valid. Close it and use the button in the failure alert again.' } });
      await auditRefusal(ctx, { runId: 'unknown', actor: userId, message: 'forget-rejoin form with forged or corrupted metadata' });
      return;
    }
    const raw = view.state.values[FORGET_REJOIN_INPUT.block]?.[FORGET_REJOIN_INPUT.action]?.value ?? '';
    const address = hostAddress.safeParse(raw);
    if (!address.success) {
      await ack({ response_action: 'errors', errors: { [FORGET_REJOIN_INPUT.block]: address.error.issues[0].message } });
      return;
    }
    await ack();
    await ctx.track(
      (async () => {
        const run = await ctx.core.getRun(meta.runId);
        const pool = run ? poolByName(ctx, run.pool) : undefined;
        if (!run || !pool || !channelAllows(pool, { id: meta.channel })) {
          await auditRefusal(ctx, { runId: meta.runId, actor: userId, message: 'forget-rejoin for an unknown run or from another channel', detail: { channel: meta.channel } });
          tellUser(ctx, meta.channel, userId, textReply(`${meta.runId}: no such run in this channel. Nothing was done.`), 'forget-rejoin refused', meta.threadTs);
          return;
        }
        const actor = await actorFor(ctx, userId, meta.channel, pool);
        const result = await ctx.core.recover(run.id, { action: 'forget-rejoin', stepId: meta.stepId, address: address.data }, actor);
        if (!result.ok) {
          tellUser(ctx, meta.channel, userId, textReply(`${run.id}: ${describeRefusal(result.code, result.error)}`), 'forget-rejoin refused', meta.threadTs);
          return;
        }
        const step = run.steps.find((s) => s.id === meta.stepId);
        if (step && meta.messageTs) {
          const detail = `host.destroy on ${step.hostName ?? 'the old host'}, then pool.join from ${address.data}`;
          updateMessage(ctx, meta.channel, meta.messageTs, failureDecidedMessage(run, step, 'forget-rejoin', userId, ctx.clock.now(), pool, detail), `forget-rejoin chosen ${run.id}`);
        }
      })().catch((e: unknown) => {
        ctx.logger.error({ runId: meta.runId, err: (e as Error).message }, 'forget-rejoin submission failed');
        tellUser(ctx, meta.channel, userId, textReply(INTERNAL_ERROR_TEXT), 'forget-rejoin failed', meta.threadTs);
      }),
    );
  };
}
