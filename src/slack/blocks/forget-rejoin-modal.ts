import type { ModalView } from '@slack/types';
import type { Run, StepRecord } from '../../domain/types';
import { esc, truncate } from './common';
import { FORGET_REJOIN_INPUT, VIEW } from './ids';

/** What the modal carries back on submit: ids only, re-validated by Core. */
export interface ForgetRejoinMetadata {
  runId: string;
  stepId: string;
  channel: string;
  /** the failure alert's ts, to replace its buttons after the decision */
  messageTs?: string;
  /** the thread the alert is in: a refusal of the submission is told there */
  threadTs?: string;
}

/** R4.2 forget & rejoin: asks for the reinstalled host's address and states what will be called. */
export function forgetRejoinModal(run: Run, step: StepRecord, meta: ForgetRejoinMetadata): ModalView {
  const host = step.hostName ?? 'the host';
  return {
    type: 'modal',
    callback_id: VIEW.forgetRejoin,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'Forget & rejoin host' },
    submit: { type: 'plain_text', text: 'Forget & rejoin' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `*${esc(run.pool)}* · run \`${esc(run.id)}\` · host \`${esc(host)}\` (R4.2)\n` +
              `Reinstall XenServer ${esc(run.plan.target.product)} on ${esc(host)} first. Then the bot will call:\n` +
              `1. \`host.destroy\` on ${esc(host)}'s old record (the pool forgets it)\n` +
              `2. \`pool.join\` from the reinstalled host at the address below, into ${esc(run.pool)}\n` +
              `Its VMs already run on other hosts; local storage on the old host is lost.`,
            3000,
          ),
        },
      },
      {
        type: 'input',
        block_id: FORGET_REJOIN_INPUT.block,
        label: { type: 'plain_text', text: "Reinstalled host's management address" },
        hint: { type: 'plain_text', text: 'IPv4 address or host name, e.g. 10.0.0.23' },
        element: {
          type: 'plain_text_input',
          action_id: FORGET_REJOIN_INPUT.action,
          placeholder: { type: 'plain_text', text: '10.0.0.23' },
          max_length: 253,
        },
      },
    ],
  };
}
