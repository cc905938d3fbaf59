import { gateWords } from '../../planner/render/updates';
import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { Run, StepRecord } from '../../domain/types';
import { approversMention, button, clockTime, confirm, duration, esc, plural, runContext, sections, SlackMessage, who } from './common';
import { ACTION, encodeButtonValue } from './ids';
import { hostPosition, planHostOf } from './progress';

/** The approval request before a host shutdown, and the same message once decided. */

function movedLine(run: Run, step: StepRecord): string {
  const host = planHostOf(run, step);
  if (!host) return '';
  const byTarget = new Map<string, number>();
  for (const m of host.migrations) byTarget.set(m.toName, (byTarget.get(m.toName) ?? 0) + 1);
  const moved = host.migrations.length
    ? `${plural(host.migrations.length, 'VM')} live-migrated to ${[...byTarget].map(([to, n]) => `${esc(to)} (${n})`).join(', ')}`
    : 'no VMs to migrate';
  if (host.stops.length === 0) return `\`${esc(host.name)}\` is disabled and empty: ${moved}.`;
  return `\`${esc(host.name)}\` is disabled: ${moved}. Still on it: ${plural(host.stops.length, 'VM')} that cannot move.`;
}

/**
 * The VMs that go down only once this gate is approved (issue 10.7: no VM downtime before the human decision),
 * each with what will be done to it and why it cannot move.
 */
function stopsLine(run: Run, step: StepRecord, decided: boolean): string {
  const host = planHostOf(run, step);
  if (!host || host.stops.length === 0) return '';
  const items = host.stops.map((s) => `• \`${esc(s.vmName)}\` ${s.action === 'suspend' ? 'suspended' : 'shut down'} (${esc(s.reason)})`);
  const head = decided ? 'VMs stopped after this decision (if approved):' : '*Approving also stops these VMs* (they cannot move; restarted or resumed after the upgrade):';
  return [head, ...items].join('\n');
}

function nextLine(run: Run, step: StepRecord): string {
  const name = step.hostName ?? '';
  const upgrade = run.plan.steps.find((s) => s.kind === 'upgrade' && s.hostName === name);
  const wait = run.plan.steps.find((s) => s.kind === 'wait-host' && s.hostName === name);
  const what = upgrade ? esc(upgrade.description) : `upgrade ${esc(name)} (${run.plan.mode} mode)`;
  const waitFor = wait ? `, then wait up to ${duration(wait.expectedSeconds * 1000)} for ${esc(run.plan.target.product)}` : '';
  return `Next: ${what}${waitFor}.`;
}

function requesterNote(run: Run, pool: PoolConfig | undefined): string {
  return pool?.slack.allowSelfApproval
    ? `Requested by ${who(run.requestedBy)}.`
    : `Requested by ${who(run.requestedBy)} — the requester cannot approve their own run.`;
}

export function approvalMessage(run: Run, step: StepRecord, pool: PoolConfig | undefined): SlackMessage {
  const host = step.hostName ?? 'the host';
  const position = hostPosition(run, step.hostName);
  const isMaster = planHostOf(run, step)?.isMaster ?? false;
  const value = encodeButtonValue({ runId: run.id, stepId: step.id });
  const title = `:raised_hand: ${approversMention(pool)} approval needed — shut down \`${esc(host)}\`${isMaster ? ' (pool master: the pool is unreachable while it is down, R3.8)' : ''} and ${esc(gateWords(run.plan, step.host))}${position ? ` (host ${position})` : ''}`;
  const blocks: KnownBlock[] = [
    ...sections([title, movedLine(run, step), stopsLine(run, step, false), nextLine(run, step), requesterNote(run, pool)].filter(Boolean).join('\n')),
    {
      type: 'actions',
      block_id: `approval:${step.id}`,
      elements: [
        button({
          text: 'Approve shutdown',
          actionId: ACTION.approve,
          value,
          style: 'primary',
          confirm: confirm({
            title: `Shut down ${host}?`,
            text: confirmText(run, step, host),
            confirm: 'Approve shutdown',
          }),
        }),
        button({ text: 'Hold', actionId: ACTION.approvalHold, value }),
        button({
          text: 'Abort run',
          actionId: ACTION.approvalAbort,
          value,
          style: 'danger',
          confirm: confirm({ title: `Abort ${run.id}?`, text: 'No further host is touched; upgraded hosts stay upgraded (mixed mode, R3.5).', confirm: 'Abort run', danger: true }),
        }),
      ],
    },
    runContext(run),
  ];
  return { text: `${run.id} · ${run.pool}: approval needed to shut down ${host}`, blocks };
}

function confirmText(run: Run, step: StepRecord, host: string): string {
  const stops = planHostOf(run, step)?.stops ?? [];
  const vms = stops.length ? ` First ${stops.map((s) => `${esc(s.vmName)} is ${s.action === 'suspend' ? 'suspended' : 'shut down'}`).join(', ')}.` : ' Its running VMs were live-migrated already.';
  return `${esc(host)} will be shut down and upgraded to ${esc(run.plan.target.product)}.${vms}`;
}

const DECISION_WORDS = { approved: '✅ Approved', held: '⏸ Held', aborted: '🛑 Run aborted' } as const;

/** The approval message after a decision: the buttons are replaced by who decided and when. */
export function approvalDecidedMessage(
  run: Run,
  step: StepRecord,
  decision: 'approved' | 'held' | 'aborted',
  by: string,
  at: number,
  pool: PoolConfig | undefined,
): SlackMessage {
  const host = step.hostName ?? 'the host';
  const line = `${DECISION_WORDS[decision]} by ${who(by)} at ${clockTime(at, pool?.timezone)}`;
  // Approve on a paused run records the decision only: the Hold promise stands until someone resumes
  const paused =
    decision === 'approved' && run.state === 'paused'
      ? `:double_vertical_bar: The run is paused: the approval is recorded, \`${esc(host)}\` is *not* shut down until someone resumes the run (\`/xsupgrade resume ${esc(run.id)}\` or Resume on the header).`
      : '';
  const blocks: KnownBlock[] = [
    ...sections([`Shut down \`${esc(host)}\` and ${esc(gateWords(run.plan, step.host))}${hostPosition(run, step.hostName) ? ` (host ${hostPosition(run, step.hostName)})` : ''}`, movedLine(run, step), stopsLine(run, step, true), line, paused].filter(Boolean).join('\n')),
    runContext(run),
  ];
  return { text: `${run.id} · ${run.pool}: ${host} shutdown ${decision} by ${who(by)}${paused ? '; the run stays paused until someone resumes it' : ''}`, blocks };
}
