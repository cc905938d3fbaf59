import type { KnownBlock, ModalView } from '@slack/types';
import type { NewHostProbe } from '../../domain/ports';
import type { Run, StepRecord } from '../../domain/types';
import { esc, truncate } from './common';
import { FORGET_REJOIN_CONFIRM_INPUT, FORGET_REJOIN_INPUT, VIEW } from './ids';

/** What the modal carries back on submit: ids only, re-validated by Core. */
export interface ForgetRejoinMetadata {
  runId: string;
  stepId: string;
  /** the failure alert's attempt (RecoveryRequest.attempt) */
  attempt?: number;
  channel: string;
  /** the failure alert's ts, to replace its buttons after the decision */
  messageTs?: string;
  /** the thread the alert is in: a refusal of the submission is told there */
  threadTs?: string;
}

/** The confirmation step also carries what the bot saw at the address: the pin for every later connection there. */
export interface ForgetRejoinConfirmMetadata extends ForgetRejoinMetadata {
  address: string;
  /** absent over plain http (the pool's tls is insecure-http) */
  fingerprint256?: string;
}

/** How many hex digits of the fingerprint the approver types at least (64 bits: no certificate is made to match by chance). */
export const MIN_CONFIRM_HEX = 16;

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } };
}

function header(run: Run, step: Pick<StepRecord, 'hostName'>): string {
  return `*${esc(run.pool)}* · run \`${esc(run.id)}\` · host \`${esc(step.hostName ?? 'the host')}\` (R4.2)`;
}

/**
 * R4.2 forget & rejoin, step 1: the reinstalled host's address. Nothing is done on submit but a look at that address
 * (its certificate); an error from that look comes back here with the address to correct.
 */
export function forgetRejoinModal(run: Run, step: Pick<StepRecord, 'hostName'>, meta: ForgetRejoinMetadata, opts: { address?: string; error?: string } = {}): ModalView {
  const host = step.hostName ?? 'the host';
  const blocks: KnownBlock[] = [
    section(
      `${header(run, step)}\n` +
        `Reinstall XenServer ${esc(run.plan.target.product)} on ${esc(host)} first. Then give its management address: the bot connects there and shows ` +
        `the certificate it presents, *before* anything is forgotten and before any password is sent. Once you have confirmed that certificate, the bot will:\n` +
        `1. log in to the new host (pinned to that certificate) and check it is a fresh stand-alone install of ${esc(run.plan.target.label)}\n` +
        `2. \`host.destroy\` ${esc(host)}'s old record (the pool forgets it)\n` +
        `3. \`pool.join\` from the new host into ${esc(run.pool)}`,
    ),
  ];
  if (opts.error) blocks.push(section(`:warning: ${esc(opts.error)}`));
  blocks.push({
    type: 'input',
    block_id: FORGET_REJOIN_INPUT.block,
    label: { type: 'plain_text', text: "Reinstalled host's management address" },
    hint: { type: 'plain_text', text: 'IPv4 address or host name, e.g. 10.0.0.23' },
    element: {
      type: 'plain_text_input',
      action_id: FORGET_REJOIN_INPUT.action,
      placeholder: { type: 'plain_text', text: '10.0.0.23' },
      max_length: 253,
      ...(opts.address ? { initial_value: opts.address } : {}),
    },
  });
  return {
    type: 'modal',
    callback_id: VIEW.forgetRejoin,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'Forget & rejoin host' },
    submit: { type: 'plain_text', text: 'Check the host' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}

/** While the bot looks at the address (the answer replaces this view). */
export function forgetRejoinCheckingModal(address: string): ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Forget & rejoin host' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [section(`:hourglass_flowing_sand: Connecting to \`${esc(address)}\` to read its certificate… nothing is changed meanwhile.`)],
  };
}

/** Spaced pairs on two lines, easy to compare with a console. */
function fingerprintText(fp: string): string {
  const pairs = fp.split(':');
  return `\`${pairs.slice(0, 16).join(':')}\`\n\`${pairs.slice(16).join(':')}\``;
}

/**
 * Step 2: what the bot saw at the address, the VMs lost with the old host's local storage, and the fingerprint to
 * confirm against the host's console. Submitting it is the decision.
 */
export function forgetRejoinConfirmModal(run: Run, step: StepRecord, meta: ForgetRejoinConfirmMetadata, probe: NewHostProbe): ModalView {
  const host = step.hostName ?? 'the host';
  const c = probe.certificate;
  const blocks: KnownBlock[] = [section(header(run, step))];
  if (c) {
    blocks.push(
      section(
        `The host at \`${esc(probe.address)}\` presents this certificate (read without logging in):\n` +
          `*SHA-256 fingerprint*\n${fingerprintText(c.fingerprint256)}\n` +
          `Subject \`${esc(c.subject || '?')}\`${c.selfSigned ? ' (self-signed, as a fresh install makes it)' : `, issued by \`${esc(c.issuer)}\``} · valid from ${esc(c.validFrom)}`,
      ),
      section(
        `*Compare it with the reinstalled ${esc(host)} itself* before you confirm: on its console run ` +
          '`openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem`' +
          '. If it differs, the address is wrong or someone else answers there: close this dialog and start again with the right address.',
      ),
    );
  } else {
    blocks.push(
      section(
        `:warning: This pool is reached over plain HTTP (\`tls: insecure-http\`): the bot cannot verify that \`${esc(probe.address)}\` is the reinstalled ${esc(host)}, ` +
          'and the pool password would travel in clear. Confirm only on a network you trust.',
      ),
    );
  }
  blocks.push(
    section(
      probe.lostVms.length
        ? `*Lost with ${esc(host)}'s local storage* (their disks were there; a reinstall erases them — restore them from backup, they will not run again): ${probe.lostVms.map((v) => `\`${esc(v)}\``).join(', ')}`
        : `No VM has a disk on ${esc(host)}'s local storage: no VM is lost with it.`,
    ),
    section(
      `On confirm: log in to \`${esc(probe.address)}\`${c ? ' (only if it still presents this certificate)' : ''}, check it is a fresh stand-alone ${esc(run.plan.target.label)}, ` +
        `then \`host.destroy\` ${esc(host)}'s old record and \`pool.join\` into ${esc(run.pool)}. If the check fails, nothing is forgotten.`,
    ),
  );
  if (c) {
    blocks.push({
      type: 'input',
      block_id: FORGET_REJOIN_CONFIRM_INPUT.block,
      label: { type: 'plain_text', text: "Fingerprint as shown on the host's console" },
      hint: { type: 'plain_text', text: `The whole fingerprint, or at least its last ${MIN_CONFIRM_HEX} hex digits (colons optional)` },
      element: { type: 'plain_text_input', action_id: FORGET_REJOIN_CONFIRM_INPUT.action, max_length: 120 },
    });
  }
  return {
    type: 'modal',
    callback_id: VIEW.forgetRejoinConfirm,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: 'Confirm the new host' },
    submit: { type: 'plain_text', text: 'Forget & rejoin' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}
