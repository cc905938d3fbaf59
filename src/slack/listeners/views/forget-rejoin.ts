/**
 * The forget & rejoin dialog (R4.2, issue 10): step 1 takes the reinstalled host's address and only looks there
 * (Core.probeNewHost: its certificate, no login); step 2 shows the certificate's SHA-256 fingerprint and the VMs lost
 * with the old host's local storage, and the approver confirms by typing the fingerprint read on the host's console.
 * Only that confirmation reaches Core.recover, with the fingerprint the bot will pin for every connection there.
 */
import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { z } from 'zod';
import type { PoolConfig } from '../../../config/pools';
import type { Run } from '../../../domain/types';
import { failureDecidedMessage } from '../../blocks/failure';
import { forgetRejoinCheckingModal, forgetRejoinConfirmModal, forgetRejoinModal, MIN_CONFIRM_HEX } from '../../blocks/forget-rejoin-modal';
import { FORGET_REJOIN_CONFIRM_INPUT, FORGET_REJOIN_INPUT } from '../../blocks/ids';
import { textReply } from '../../blocks/replies';
import { describeRefusal, INTERNAL_ERROR_TEXT } from '../../errors';
import { actorFor, auditRefusal, channelAllows, poolByName, SlackContext, tellUser, updateMessage } from '../../context';

/** The modal's private metadata: ids written by forgetRejoinClick; re-validated by Core. */
const metadataSchema = z
  .object({
    runId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,80}$/),
    stepId: z.string().min(1).max(200),
    attempt: z.number().int().nonnegative().optional(),
    channel: z.string().regex(/^[CGD][A-Z0-9]+$/),
    messageTs: z.string().regex(/^\d+\.\d+$/).optional(),
    threadTs: z.string().regex(/^\d+\.\d+$/).optional(),
  })
  .strict();

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const hostAddress = z
  .string()
  .trim()
  .refine((a) => IPV4.test(a) || (HOSTNAME.test(a) && !/^\d+(\.\d+)*$/.test(a)), 'Enter the IPv4 address (like 10.0.0.23) or the host name of the reinstalled host');

/** The confirmation step's metadata: the ids, the address looked at and the certificate seen there. */
const confirmMetadataSchema = metadataSchema.extend({ address: hostAddress, fingerprint256: z.string().regex(FINGERPRINT).optional() }).strict();

type Meta = z.infer<typeof metadataSchema>;
type Loaded = { run: Run; pool: PoolConfig };

/** The run of the metadata, in the channel it was opened from; a refusal (audited, told to the user) otherwise. */
async function loadRun(ctx: SlackContext, meta: Meta, userId: string): Promise<Loaded | undefined> {
  const run = await ctx.core.getRun(meta.runId);
  const pool = run ? poolByName(ctx, run.pool) : undefined;
  if (!run || !pool || !channelAllows(pool, { id: meta.channel })) {
    await auditRefusal(ctx, { runId: meta.runId, actor: userId, message: 'forget-rejoin for an unknown run or from another channel', detail: { channel: meta.channel } });
    tellUser(ctx, meta.channel, userId, textReply(`${meta.runId}: no such run in this channel. Nothing was done.`), 'forget-rejoin refused', meta.threadTs);
    return undefined;
  }
  return { run, pool };
}

async function forgedMetadata(ctx: SlackContext, ack: SlackViewMiddlewareArgs<ViewSubmitAction>['ack'], block: string, userId: string): Promise<void> {
  await ack({ response_action: 'errors', errors: { [block]: 'This form is no longer valid. Close it and use the button in the failure alert again.' } });
  await auditRefusal(ctx, { runId: 'unknown', actor: userId, message: 'forget-rejoin form with forged or corrupted metadata' });
}

/** Step 1 submitted: look at the address (nothing else), then show what is there, or the address again with the reason. */
export function forgetRejoinSubmit(ctx: SlackContext) {
  return async ({ ack, body, view }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const userId = body.user.id;
    let meta: Meta;
    try {
      meta = metadataSchema.parse(JSON.parse(view.private_metadata));
    } catch {
      return forgedMetadata(ctx, ack, FORGET_REJOIN_INPUT.block, userId);
    }
    const raw = view.state.values[FORGET_REJOIN_INPUT.block]?.[FORGET_REJOIN_INPUT.action]?.value ?? '';
    const address = hostAddress.safeParse(raw);
    if (!address.success) {
      await ack({ response_action: 'errors', errors: { [FORGET_REJOIN_INPUT.block]: address.error.issues[0].message } });
      return;
    }
    // the look may take longer than Slack's 3 s: answer with a "checking" view, then replace it (views.update)
    await ack({ response_action: 'update', view: forgetRejoinCheckingModal(address.data) });
    await ctx.track(
      (async () => {
        const loaded = await loadRun(ctx, meta, userId);
        if (!loaded) return;
        const { run, pool } = loaded;
        const step = run.steps.find((s) => s.id === meta.stepId);
        const actor = await actorFor(ctx, userId, meta.channel, pool);
        const probe = await ctx.core.probeNewHost(run.id, meta.stepId, address.data, actor);
        const next =
          !step || !probe.ok
            ? forgetRejoinModal(run, step ?? {}, meta, {
                address: address.data,
                error: probe.ok ? `run ${run.id} has no step ${meta.stepId}` : describeRefusal(probe.code, probe.error),
              })
            : forgetRejoinConfirmModal(run, step, { ...meta, address: address.data, ...(probe.value.certificate ? { fingerprint256: probe.value.certificate.fingerprint256 } : {}) }, probe.value);
        await ctx.outbox.callNow('views.update', { view_id: body.view.id, view: next });
      })().catch((e: unknown) => {
        ctx.logger.error({ runId: meta.runId, err: (e as Error).message }, 'forget-rejoin check failed');
        tellUser(ctx, meta.channel, userId, textReply(INTERNAL_ERROR_TEXT), undefined, meta.threadTs);
      }),
    );
  };
}

/** Step 2 submitted: the typed fingerprint must match the certificate seen; only then Core.recover(forget-rejoin). */
export function forgetRejoinConfirmSubmit(ctx: SlackContext) {
  return async ({ ack, body, view }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const userId = body.user.id;
    let meta: z.infer<typeof confirmMetadataSchema>;
    try {
      meta = confirmMetadataSchema.parse(JSON.parse(view.private_metadata));
    } catch {
      return forgedMetadata(ctx, ack, FORGET_REJOIN_CONFIRM_INPUT.block, userId);
    }
    if (meta.fingerprint256) {
      const typed = (view.state.values[FORGET_REJOIN_CONFIRM_INPUT.block]?.[FORGET_REJOIN_CONFIRM_INPUT.action]?.value ?? '').replace(/[^0-9a-fA-F]/g, '').toUpperCase();
      const seen = meta.fingerprint256.replace(/:/g, '');
      const error =
        typed.length < MIN_CONFIRM_HEX
          ? `Type the fingerprint shown on the host's console: at least its last ${MIN_CONFIRM_HEX} hex digits`
          : !seen.endsWith(typed)
            ? `This does not match the certificate the bot saw at ${meta.address}. Nothing was done. If the console shows this fingerprint, the address is wrong: cancel and start again with the right one`
            : undefined;
      if (error) {
        await ack({ response_action: 'errors', errors: { [FORGET_REJOIN_CONFIRM_INPUT.block]: error } });
        await auditRefusal(ctx, { runId: meta.runId, actor: userId, message: `forget-rejoin: the fingerprint typed for ${meta.address} does not match the certificate seen there`, detail: { step: meta.stepId } });
        return;
      }
    }
    await ack();
    await ctx.track(
      (async () => {
        const loaded = await loadRun(ctx, meta, userId);
        if (!loaded) return;
        const { run, pool } = loaded;
        const actor = await actorFor(ctx, userId, meta.channel, pool);
        const req = { action: 'forget-rejoin' as const, stepId: meta.stepId, ...(meta.attempt !== undefined ? { attempt: meta.attempt } : {}), address: meta.address, ...(meta.fingerprint256 ? { fingerprint256: meta.fingerprint256 } : {}) };
        const result = await ctx.core.recover(run.id, req, actor);
        if (!result.ok) {
          tellUser(ctx, meta.channel, userId, textReply(`${run.id}: ${describeRefusal(result.code, result.error)}`), 'forget-rejoin refused', meta.threadTs);
          return;
        }
        const step = run.steps.find((s) => s.id === meta.stepId);
        if (step && meta.messageTs) {
          const detail = `${meta.address}${meta.fingerprint256 ? ` (certificate sha256 ${meta.fingerprint256})` : ''} verified first, then host.destroy on ${step.hostName ?? 'the old host'} and pool.join`;
          updateMessage(ctx, meta.channel, meta.messageTs, failureDecidedMessage(run, step, 'forget-rejoin', userId, ctx.clock.now(), pool, detail), `forget-rejoin chosen ${run.id}`);
        }
      })().catch((e: unknown) => {
        ctx.logger.error({ runId: meta.runId, err: (e as Error).message }, 'forget-rejoin submission failed');
        tellUser(ctx, meta.channel, userId, textReply(INTERNAL_ERROR_TEXT), 'forget-rejoin failed', meta.threadTs);
      }),
    );
  };
}
