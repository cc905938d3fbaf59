import { gateWords } from '../../planner/render/updates';
import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { Run, StepRecord, VmStop } from '../../domain/types';
import { approversMention, button, clockTime, confirm, duration, esc, notificationText, plural, runContext, sections, SlackMessage, who } from './common';
import { ACTION, encodeButtonValue } from './ids';
import { gateEffect, hostPosition, planHostOf, type GateEffect } from './progress';

/** The approval request before a host is shut down, rebooted or its toolstack restarted, and the same message once decided. */

/** `held`: what has not happened to the host while a run paused after its approval (else: "nothing is done to it") */
const EFFECT: Record<GateEffect, { label: string; verb: string; noun: string; held?: string }> = {
  shutdown: { label: 'Approve shutdown', verb: 'shut down', noun: 'shutdown', held: 'is *not* shut down' },
  installer: { label: 'Approve reboot', verb: 'reboot', noun: 'reboot', held: 'is *not* rebooted' },
  update: { label: 'Approve reboot', verb: 'reboot', noun: 'reboot', held: 'is *not* rebooted' },
  reboot: { label: 'Approve reboot', verb: 'reboot', noun: 'reboot' },
  toolstack: { label: 'Approve toolstack restart', verb: 'restart the toolstack of', noun: 'toolstack restart' },
  none: { label: 'Approve updates', verb: 'apply updates to', noun: 'updates' },
};

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function updateCount(run: Run, step: StepRecord): string {
  const hu = run.plan.updates?.hosts.find((h) => h.host === planHostOf(run, step)?.host);
  return plural(hu?.updates.length ?? 0, 'update');
}

/**
 * The gate's headline, as the plan's mode takes the host down (gateEffect): "shut down `xs-a1` … and upgrade it"
 * (manual), "reboot `xs-a1` into the installer … and upgrade it" (automatic), "restart the toolstack of `xs-p2` to
 * apply its 2 updates (no reboot: its VMs keep running)"…; `notes` adds what it means for the pool or the host's VMs.
 */
function headline(run: Run, step: StepRecord, effect: GateEffect, notes: boolean): string {
  const host = `\`${esc(step.hostName ?? 'the host')}\``;
  const master = notes && (planHostOf(run, step)?.isMaster ?? false);
  const its = `its ${updateCount(run, step)}`;
  const down = master ? ' (pool master: the pool is unreachable while it is down, R3.8)' : '';
  switch (effect) {
    case 'shutdown':
      return `shut down ${host}${down} and ${esc(gateWords(run.plan, step.host))}`;
    case 'installer':
      return `reboot ${host} into the installer${down} and ${esc(gateWords(run.plan, step.host))}`;
    case 'update':
      return `reboot ${host}${down} to ${esc(gateWords(run.plan, step.host))}`;
    case 'reboot':
      return `reboot ${host} once to apply ${its}${down}`;
    case 'toolstack':
      return `restart the toolstack of ${host} to apply ${its}${notes ? ` (no reboot: its VMs keep running${master ? '; pool master: the pool does not answer while its toolstack restarts' : ''})` : ''}`;
    case 'none':
      return `apply ${its} to ${host}${notes ? ' (no restart: its VMs keep running)' : ''}`;
  }
}

function movedLine(run: Run, step: StepRecord): string {
  const host = planHostOf(run, step);
  if (!host) return '';
  // a host whose updates need no reboot is neither disabled nor emptied (planner/updates.ts withUpdateSteps)
  if (!run.plan.steps.some((s) => s.kind === 'disable' && s.host === host.host)) return `\`${esc(host.name)}\` stays enabled; its VMs keep running.`;
  // what the evacuation did (its records), once it has run; the plan's list only before
  const evacuate = run.steps.find((s) => s.kind === 'evacuate' && s.host === host.host && s.state === 'done');
  const done = evacuate ? Object.values((evacuate.data?.moved ?? {}) as Record<string, { toName: string }>) : host.migrations;
  const elsewhere = evacuate ? Object.values((evacuate.data?.elsewhere ?? {}) as Record<string, { name: string; toName: string }>) : [];
  const byTarget = new Map<string, number>();
  for (const m of done) byTarget.set(m.toName, (byTarget.get(m.toName) ?? 0) + 1);
  const moved =
    (done.length ? `${plural(done.length, 'VM')} live-migrated to ${[...byTarget].map(([to, n]) => `${esc(to)} (${n})`).join(', ')}` : 'no VMs to migrate') +
    (elsewhere.length ? `; ${elsewhere.map((m) => `${esc(m.name)} already on ${esc(m.toName)}`).join(', ')} (moved outside the run)` : '');
  if (host.stops.length === 0) return `\`${esc(host.name)}\` is disabled and empty: ${moved}.`;
  return `\`${esc(host.name)}\` is disabled: ${moved}. Still on it: ${plural(host.stops.length, 'VM')} that cannot move.`;
}

/** The VMs an approval stops, at most this many characters in the message (Slack refuses ~13k in all). */
const STOPS_CHARS = 6000;
/** One line of grouped names, within a section's 3,000 characters. */
const LINE_CHARS = 2800;

/**
 * A host of desktops on local storage stops a hundred VMs or more: a line each would pass Slack's size for one
 * message, which would then go out as text alone, without the approval buttons. Grouped by what is done and why, a
 * few hundred VMs are all named; past STOPS_CHARS the names stop and the count of the others is said.
 */
function groupedStops(stops: Array<{ what: string; name: string }>): string[] {
  const groups = new Map<string, string[]>();
  for (const s of stops) groups.set(s.what, [...(groups.get(s.what) ?? []), s.name]);
  const lines: string[] = [];
  let used = 0;
  let unnamed = 0;
  for (const [what, names] of groups) {
    // a line stays within a section (LIMIT.sectionText): a long group goes on over several lines
    let line = `• ${plural(names.length, 'VM')} ${what}: `;
    let inLine = 0;
    for (const n of names) {
      if (used + line.length + n.length + 2 > STOPS_CHARS) {
        unnamed++;
        continue;
      }
      if (line.length + n.length + 2 > LINE_CHARS) {
        lines.push(`${line},`);
        used += line.length + 1;
        line = '   ';
        inLine = 0;
      }
      line += `${inLine ? ', ' : ''}${n}`;
      inLine++;
    }
    lines.push(inLine ? line : `${line}…`);
    used += line.length + 1;
  }
  if (unnamed) lines.push(`_… ${plural(unnamed, 'VM')} not named here, to fit one Slack message_`);
  return lines;
}

/**
 * The VMs that go down only once this gate is approved (issue 10.7: no VM downtime before the human decision),
 * each with what will be done to it and why it cannot move.
 */
function stopsLine(run: Run, step: StepRecord, decided: boolean): string {
  const host = planHostOf(run, step);
  if (!host || host.stops.length === 0) return '';
  const verb = (s: VmStop) => (s.action === 'suspend' ? 'suspended' : 'shut down');
  let items = host.stops.map((s) => `• \`${esc(s.vmName)}\` ${verb(s)} (${esc(s.reason)})`);
  if (items.join('\n').length > STOPS_CHARS) items = groupedStops(host.stops.map((s) => ({ what: `${verb(s)} (${esc(s.reason)})`, name: `\`${esc(s.vmName)}\`` })));
  const head = decided ? 'VMs stopped after this decision (if approved):' : '*Approving also stops these VMs* (they cannot move; restarted or resumed after the upgrade):';
  return [head, ...items].join('\n');
}

function nextLine(run: Run, step: StepRecord): string {
  const name = step.hostName ?? '';
  // a host already on the target has no upgrade step: its updates come next (R3.10)
  const next = run.plan.steps.find((s) => s.kind === 'upgrade' && s.hostName === name) ?? run.plan.steps.find((s) => s.kind === 'apply-updates' && s.hostName === name);
  const wait = run.plan.steps.find((s) => s.kind === 'wait-host' && s.hostName === name);
  const what = next ? esc(next.description) : `upgrade ${esc(name)} (${run.plan.mode} mode)`;
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
  const value = encodeButtonValue({ runId: run.id, stepId: step.id });
  const effect = gateEffect(run, step);
  const { label } = EFFECT[effect];
  const title = `:raised_hand: ${approversMention(pool)} approval needed — ${headline(run, step, effect, true)}${position ? ` (host ${position})` : ''}`;
  const blocks: KnownBlock[] = [
    ...sections([title, movedLine(run, step), stopsLine(run, step, false), nextLine(run, step), requesterNote(run, pool)].filter(Boolean).join('\n')),
    {
      type: 'actions',
      block_id: `approval:${step.id}`,
      elements: [
        button({
          text: label,
          actionId: ACTION.approve,
          value,
          style: 'primary',
          confirm: confirm({
            title: `${capitalized(EFFECT[effect].verb)} ${host}?`,
            text: confirmText(run, step, host, effect),
            confirm: label,
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
  // the host's name is the pool's (name_label): escaped, `web<!channel>` notifies nobody
  return { text: notificationText(`${run.id} · ${run.pool}: approval needed to ${EFFECT[effect].verb} ${esc(host)}`), blocks };
}

function confirmText(run: Run, step: StepRecord, host: string, effect: GateEffect): string {
  const stops = planHostOf(run, step)?.stops ?? [];
  const vms = stops.length ? ` First ${stops.map((s) => `${esc(s.vmName)} is ${s.action === 'suspend' ? 'suspended' : 'shut down'}`).join(', ')}.` : ' Its running VMs were live-migrated already.';
  const updates = `its ${updateCount(run, step)}`;
  switch (effect) {
    case 'shutdown':
      return `${esc(host)} will be shut down, for someone to boot it from the install media and upgrade it to ${esc(run.plan.target.product)}.${vms}`;
    case 'installer':
      return `${esc(host)} will be rebooted into the installer and upgraded to ${esc(run.plan.target.product)}.${vms}`;
    case 'update':
      return `${esc(host)} will be upgraded to ${esc(run.plan.target.product)} with the update ISO, then rebooted.${vms}`;
    case 'reboot':
      return `${esc(host)} gets ${updates}, then reboots once.${vms}`;
    case 'toolstack':
      return `${esc(host)} gets ${updates}, then its toolstack restarts (host.restart_agent); no reboot, its VMs keep running.`;
    case 'none':
      return `${esc(host)} gets ${updates}; no restart, its VMs keep running.`;
  }
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
  const effect = gateEffect(run, step);
  const line = `${DECISION_WORDS[decision]} by ${who(by)} at ${clockTime(at, pool?.timezone)}`;
  // Approve on a paused run records the decision only: the Hold promise stands until someone resumes
  const paused =
    decision === 'approved' && run.state === 'paused'
      ? `:double_vertical_bar: The run is paused: the approval is recorded, ${EFFECT[effect].held ? `\`${esc(host)}\` ${EFFECT[effect].held}` : `nothing is done to \`${esc(host)}\``} until someone resumes the run (\`/xsupgrade resume ${esc(run.id)}\` or Resume on the header).`
      : '';
  const blocks: KnownBlock[] = [
    ...sections([`${capitalized(headline(run, step, effect, false))}${hostPosition(run, step.hostName) ? ` (host ${hostPosition(run, step.hostName)})` : ''}`, movedLine(run, step), stopsLine(run, step, true), line, paused].filter(Boolean).join('\n')),
    runContext(run),
  ];
  return { text: notificationText(`${run.id} · ${run.pool}: ${esc(host)} ${EFFECT[effect].noun} ${decision} by ${who(by)}${paused ? '; the run stays paused until someone resumes it' : ''}`), blocks };
}
