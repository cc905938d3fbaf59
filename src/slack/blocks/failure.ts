import type { Button, KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import { AFTER_UPGRADE_KINDS, type RecoveryAction, type Run, type StepRecord } from '../../domain/types';
import { describeStepError } from '../errors';
import { approversMention, button, clockTime, confirm, esc, notificationText, runContext, sections, SlackMessage, who } from './common';
import { ACTION, encodeButtonValue } from './ids';
import { skippedHostState, stepsNotDone } from '../../runner/skip-host';
import { activeWords, hostPosition, hostProgress, isOnTarget, planHostOf } from './progress';

/** The failure alert (thread reply) with only the recovery actions Core says are valid for the step. */

export const RECOVERY_ACTION_ID: Record<RecoveryAction, string> = {
  retry: ACTION.recoverRetry,
  'forget-rejoin': ACTION.recoverForgetRejoin,
  'rollback-master': ACTION.recoverRollbackMaster,
  'skip-host': ACTION.recoverSkipHost,
  'skip-update': ACTION.recoverSkipUpdate,
  abort: ACTION.recoverAbort,
};

export const RECOVERY_BY_ACTION_ID: Record<string, RecoveryAction> = Object.fromEntries(
  Object.entries(RECOVERY_ACTION_ID).map(([k, v]) => [v, k as RecoveryAction]),
);

export const RECOVERY_WORDS: Record<RecoveryAction, string> = {
  retry: 'Retry',
  'forget-rejoin': 'Forget host & rejoin',
  'rollback-master': 'Roll back master',
  'skip-host': 'Skip host',
  'skip-update': 'Skip update',
  abort: 'Abort run',
};

function recoveryButton(action: RecoveryAction, run: Run, step: StepRecord, tz: string | undefined): Button {
  // the attempt: a click on this alert must not act on a later failure of the same step, which it does not show
  const value = encodeButtonValue({ runId: run.id, stepId: step.id, attempt: step.attempts });
  // titles and button texts are plain_text (shown as is); a confirm's text is mrkdwn: the pool's words escaped
  const host = step.hostName ?? 'the host';
  const hostText = esc(host);
  const actionId = RECOVERY_ACTION_ID[action];
  switch (action) {
    case 'retry':
      return button({ text: step.kind === 'wait-host' ? 'Retry wait' : 'Retry', actionId, value, style: 'primary' });
    case 'forget-rejoin':
      // opens a modal that asks for the reinstalled host's address and states what will be called
      return button({ text: 'Forget host & rejoin…', actionId, value });
    case 'rollback-master':
      return button({
        text: 'Roll back master…',
        actionId,
        value,
        style: 'danger',
        confirm: confirm({
          title: `Roll back ${host}?`,
          text: `Restores the master ${hostText} to its previous version (R4.1). VMs on upgraded hosts may have to be shut down: they cannot move back to an older host (R3.4).`,
          confirm: 'Roll back master',
          danger: true,
        }),
      });
    case 'skip-host':
      if (AFTER_UPGRADE_KINDS.has(step.kind)) {
        const stopped = step.kind === 'restore-vms';
        return button({
          text: stopped ? 'Continue without these VMs' : 'Leave the VMs where they are',
          actionId,
          value,
          confirm: confirm({
            title: `Go on without ${host}'s VMs?`,
            text: stopped
              ? `${hostText} stays on the target, enabled. Any VM this run stopped for it and did not start again stays stopped: start it yourself. The run goes on with the next host, and its end lists them.`
              : `${hostText} stays on the target, enabled. Its VMs are not moved back; they keep running where they are. The run goes on with the next host.`,
            confirm: 'Go on',
          }),
        });
      }
      return button({
        text: 'Skip host',
        actionId,
        value,
        confirm: confirm({ title: `Skip ${host}?`, text: skipHostWords(run, step, tz), confirm: 'Skip host' }),
      });
    case 'skip-update': {
      const failed = (step.data?.failed as { name?: string } | null | undefined)?.name ?? 'the update';
      return button({
        text: `Skip ${failed}`,
        actionId,
        value,
        confirm: confirm({
          title: `Skip ${failed} on ${host}?`,
          text: `The run continues without ${esc(failed)} on ${hostText} (R3.10); the other updates are applied. The end-of-run audit lists it as missing on ${hostText}.`,
          confirm: 'Skip update',
        }),
      });
    }
    case 'abort':
      return button({
        text: 'Abort run',
        actionId,
        value,
        style: 'danger',
        confirm: confirm({ title: `Abort ${run.id}?`, text: 'No further host is touched; upgraded hosts stay upgraded (mixed mode, R3.5).', confirm: 'Abort run', danger: true }),
      });
  }
}

/** What Skip host will leave the host as, from the run's records (runner/skip-host.ts), before the click: mrkdwn. */
function skipHostWords(run: Run, step: StepRecord, tz: string | undefined): string {
  const host = esc(step.hostName ?? 'the host');
  const target = esc(run.plan.target.product);
  const rest = `Not done: ${stepsNotDone(run, step).join(', ')}. The run goes on with the next host`;
  const left = `as its failed step (${activeWords(step.kind)}) left it; check whether it is enabled`;
  const mixed = `mixed mode (R3.5) until every host is on ${target}`;
  const state = skippedHostState(run, step);
  switch (state.kind) {
    case 'back-on-target':
      return `The run saw ${host} back on ${target}${state.at ? ` at ${clockTime(state.at, tz)}` : ''}: it stays on ${target}, ${left}. ${rest}.`;
    case 'was-on-target':
      return `${host} was on ${target} before the run: it stays on it, ${left}. ${rest}.`;
    case 'version-unknown':
      return `${host}'s version is unknown: the run took it down for its upgrade and has not seen it back; it may still come up on ${target}. ${rest}; ${mixed}.`;
    case 'upgrade-pending':
      return `${host} was last seen on its old version with its upgrade ${state.applied ? 'applied' : 'prepared'}: its next reboot brings it up on ${target}. It stays disabled. ${rest}; ${mixed}.`;
    case 'old-version':
      return `${host} stays out of this run on its old version, disabled; the pool stays in mixed mode (R3.5) until it is upgraded.`;
  }
}

function headline(run: Run, step: StepRecord): string {
  const host = step.hostName ? `\`${esc(step.hostName)}\`` : `pool ${esc(run.pool)}`;
  const position = hostPosition(run, step.hostName);
  const where = position ? ` (host ${position})` : '';
  switch (step.kind) {
    case 'wait-host':
      return `${host} did not come back on ${esc(run.plan.target.product)} after its upgrade${where}`;
    case 'upgrade':
      return `${host}'s upgrade failed${where}`;
    case 'evacuate':
      return `${host} could not be emptied of its VMs${where}`;
    case 'apply-updates': {
      const failed = (step.data?.failed as { name?: string } | null | undefined)?.name;
      return failed ? `${host}: the precheck of update \`${esc(failed)}\` failed${where} (R3.10)` : `${host}: applying its updates failed${where} (R3.10)`;
    }
    default:
      return `${host}: ${activeWords(step.kind)} failed${where}`;
  }
}

function guidance(run: Run, step: StepRecord, actions: RecoveryAction[]): string {
  const isMaster = planHostOf(run, step)?.isMaster ?? false;
  if (isMaster && (step.kind === 'upgrade' || step.kind === 'wait-host'))
    return `The run cannot continue while the master is not upgraded (R4.1): fix the cause and Retry, or roll the master back to its working version.`;
  const host = `\`${esc(step.hostName ?? 'the host')}\``;
  // the least destructive way that can work comes first: Retry reconciles (re-disables, re-evacuates) before acting
  const rechecks = ['evacuate', 'stop-vms', 'upgrade'].includes(step.kind) && !(step.kind === 'upgrade' && step.data?.shutdownIssued);
  const retry =
    step.kind === 'wait-host'
      ? `If ${host} can still come back (still installing, or it only needs to be powered on), Retry wait (R4.3).`
      : rechecks
        ? `Fix the cause (power ${host} on if it is off), then Retry (R4.3): the bot first re-reads the pool, disables ${host} again if it was re-enabled and moves off any VM that started on it.`
        : `Fix the cause, then Retry (R4.3).`;
  if (actions.includes('skip-update'))
    return `What you can do: fix the cause on ${host} and Retry (the precheck runs again), or Skip the update: the run continues without it on ${host} and the end audit lists it as missing.`;
  if (actions.includes('forget-rejoin'))
    return `What you can do: ${retry} Only if it cannot come back (R4.2): reinstall XenServer ${esc(run.plan.target.product)} on ${host}, then Forget host & rejoin.`;
  if (actions.includes('retry')) return step.host ? `What you can do: ${retry}` : 'Fix the cause, then Retry (R4.3).';
  return 'Choose how to continue.';
}

export function failureMessage(run: Run, step: StepRecord, actions: RecoveryAction[], pool: PoolConfig | undefined): SlackMessage {
  const err = describeStepError(step.error, step.kind);
  const vmsLine = (() => {
    const host = planHostOf(run, step);
    if (!host || host.migrations.length + host.stops.length === 0) return undefined;
    const others = hostProgress(run).filter((p) => p.name !== host.name && isOnTarget(p)).length;
    return `VMs: ${host.migrations.length} of \`${esc(host.name)}\`'s VMs were planned to move to other hosts${host.stops.length ? `, ${host.stops.length} to be stopped` : ''}; ${others} other hosts are on the target.`;
  })();
  const lines = [
    `:rotating_light: ${headline(run, step)}`,
    `*Error:* ${esc(err.summary)}${err.code ? ` (\`${esc(err.code)}\`: ${esc(err.explanation ?? '')})` : ''}`,
    ...(step.error?.observed?.length ? [`*Observed:* ${step.error.observed.map(esc).join('; ')}`] : []),
    ...(vmsLine ? [vmsLine] : []),
    `Step \`${esc(step.id)}\`, attempt ${step.attempts}${step.endedAt ? `, failed at ${clockTime(step.endedAt, pool?.timezone)}` : ''}.`,
    guidance(run, step, actions),
    `${who(run.requestedBy)} ${approversMention(pool)}`,
  ];
  const valid = [...new Set(actions)];
  const blocks: KnownBlock[] = [
    ...sections(lines.join('\n')),
    ...(valid.length
      ? [{ type: 'actions' as const, block_id: `failure:${step.id}`, elements: valid.map((a) => recoveryButton(a, run, step, pool?.timezone)) }]
      : []),
    runContext(run),
  ];
  // the notification's line: an error can carry all a plugin printed, and a text past Slack's 40,000 characters
  // (msg_too_long) would lose the whole alert; the blocks above show it split over sections. Escaped: the pool's words
  // (a VM named `web<!channel>`) are not Slack tokens
  return { text: notificationText(`${run.id} · ${run.pool}: ${esc(step.hostName ?? 'pool')} failed — ${esc(err.summary)}`), blocks };
}

/** The alert after a recovery was chosen: buttons replaced by who chose what, and when. */
export function failureDecidedMessage(run: Run, step: StepRecord, action: RecoveryAction, by: string, at: number, pool: PoolConfig | undefined, detail?: string): SlackMessage {
  const err = describeStepError(step.error, step.kind);
  const blocks: KnownBlock[] = [
    ...sections(
      [
        `:rotating_light: ${headline(run, step)}`,
        `*Error:* ${esc(err.summary)}${err.code ? ` (\`${esc(err.code)}\`)` : ''}`,
        `➡️ *${RECOVERY_WORDS[action]}* chosen by ${who(by)} at ${clockTime(at, pool?.timezone)}${detail ? ` — ${esc(detail)}` : ''}`,
      ].join('\n'),
    ),
    runContext(run),
  ];
  return { text: `${run.id} · ${run.pool}: ${RECOVERY_WORDS[action]} chosen by ${who(by)}`, blocks };
}
