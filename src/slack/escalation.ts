import type { OutboxJob, RefusedMessage } from './outbox';
import { PRIORITY } from './outbox-order';

/**
 * Where a permanent Slack refusal is told (issue 14): the operator channel when one is configured
 * (XSUPGRADE_OPERATOR_CHANNEL) and it is not the refusing channel itself, else a direct message to the run's
 * requester. A token-level refusal cannot be told through Slack at all: the error-level log and the
 * xsupgrade_slack_permanent_refusals_total metric are then the only signals (alert on the metric).
 * Undefined: nothing can be posted.
 */
export function escalationJob(r: RefusedMessage, operatorChannel: string | undefined): OutboxJob | undefined {
  if (r.tokenLevel) return undefined;
  const where = r.queue.startsWith('ephemeral:') ? `a private reply in <#${r.queue.slice('ephemeral:'.length)}>` : `<#${r.queue}>`;
  const text =
    `:rotating_light: Slack refused a message for ${where} (\`${r.reason}\`): ${r.hint}. ` +
    `The message (${r.describe}) was not delivered and is not retried; later messages there are refused the same way until this is fixed. ` +
    'Runs are not affected: approvals and status stay available with `/xsupgrade status` in another channel or `xsupgrade status` on the bot host.';
  const target = operatorChannel && operatorChannel !== r.queue ? operatorChannel : r.requester;
  if (!target || target === r.queue) return undefined;
  return {
    queue: target,
    describe: `escalation ${r.reason} ${r.queue}`,
    priority: PRIORITY.alert,
    escalation: true,
    build: () => ({ method: 'chat.postMessage', args: { channel: target, text } }),
  };
}
