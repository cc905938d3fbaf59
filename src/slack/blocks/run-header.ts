import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import { TERMINAL_RUN_STATES, type Run, type RunState } from '../../domain/types';
import { approversMention, button, clockTime, confirm, context, esc, notificationText, runContext, sections, slackText, SlackMessage, who, withinBlockLimit } from './common';
import { ACTION, encodeButtonValue } from './ids';
import { activeWords, hostProgress, HostProgress, isOnTarget, mixedMode } from './progress';
import { restoreButton } from './restore';
import { endAuditEntryOf, endedClean } from './run-end';

/** The run header: one message per run, edited in place (chat.update); the run's thread hangs off it. */

const STATE_ICON: Record<RunState, string> = {
  running: ':arrows_counterclockwise:',
  'awaiting-approval': ':raised_hand:',
  paused: ':double_vertical_bar:',
  failed: ':rotating_light:',
  done: ':white_check_mark:',
  aborted: ':octagonal_sign:',
  'rolled-back': ':leftwards_arrow_with_hook:',
};

const STATE_WORDS: Record<RunState, string> = {
  running: 'running',
  'awaiting-approval': 'waiting for approval',
  paused: 'paused',
  failed: 'failed — recovery needed',
  done: 'done',
  aborted: 'aborted',
  'rolled-back': 'rolled back',
};

/** Maximum host lines in the header: larger pools are summarised (Slack's 50 blocks / ~12k chars). */
const MAX_HOST_LINES = 40;

/** `atEnd`: what the end audit found wrong with this host in the live pool (issue 11), which outranks the records. */
function hostLine(p: HostProgress, tz: string, atEnd?: string): string {
  const role = p.isMaster ? ' (master)' : '';
  const name = `\`${esc(p.name)}\`${role}`;
  if (atEnd && (p.phase === 'upgraded' || p.phase === 'already-done')) return `${name} ⚠️ at the end of the run: ${esc(atEnd)}`;
  switch (p.phase) {
    case 'already-done':
      return `${name} ✔️ already on ${esc(p.to)}`;
    case 'waiting':
      return `${name} ⏸ waiting (${esc(p.from)} → ${esc(p.to)})`;
    case 'awaiting-approval':
      return `${name} ✋ ${p.waitingFor ?? 'waiting for approval'}`;
    case 'failed':
      return `${name} ❌ ${backOn(p, tz)}failed while ${p.current ? activeWords(p.current.kind) : 'upgrading'}`;
    case 'aborted':
      return `${name} ⏹ ${backOn(p, tz)}aborted while ${p.current ? activeWords(p.current.kind) : 'upgrading'}`;
    case 'skipped': {
      const after = p.skippedAfter;
      if (!after) return `${name} ⏭ skipped, still on ${esc(p.from)}`;
      const notDone = `not done: ${after.notDone.join(', ')}`;
      if (after.started === 'apply-updates') return `${name} ⏭ skipped after its updates started (on ${esc(p.to)}); ${notDone}`;
      if (p.upgradedAt) return `${name} ⏭ skipped after its upgrade: back on ${esc(p.to)} at ${clockTime(p.upgradedAt, tz)}; ${notDone}`;
      return `${name} ⏭ skipped after its upgrade started: not seen back on ${esc(p.to)}; ${notDone}`;
    }
    case 'upgraded':
      return `${name} ✅ ${esc(p.to)}${p.upgradedAt ? ` back ${clockTime(p.upgradedAt, tz)}` : ''}`;
    case 'in-progress':
      return `${name} ⏳ ${backOn(p, tz)}${p.current ? activeWords(p.current.kind) : 'in progress'}`;
  }
}

/**
 * "… and 5 more hosts (3 on 7.6.0 …)": the hosts past the header's list. Once the end audit read the live pool, its
 * count is the audit's (issue 11), as the pool line and the end summary say it; else the run's records, said as such
 * when the pool did not answer at the end.
 */
function moreHostsLine(run: Run, rest: HostProgress[]): string {
  const more = `… and ${rest.length} more hosts`;
  const target = esc(run.plan.target.product);
  const audit = run.endAudit;
  if (audit && !audit.unreadable) {
    const behind = behindByPlanName(run);
    return `${more} (${rest.filter((p) => !behind.has(p.name)).length} on ${target} in the live pool at the end)`;
  }
  const byRecords = rest.filter(isOnTarget).length;
  return audit ? `${more} (${byRecords} on ${target} by the run's records; the pool did not answer at the end)` : `${more} (${byRecords} on target)`;
}

/**
 * The end audit's entries by the plan's host name (endAuditEntryOf: a host renamed during the run by its ref), with
 * the live name said when it differs.
 */
function atEndByPlanName(run: Run): Map<string, { detail: string; name: string }> {
  const audit = run.endAudit;
  if (!audit) return new Map();
  return new Map(
    run.plan.hosts.flatMap((hp) => {
      const e = endAuditEntryOf(audit, hp);
      return e ? [[hp.name, { detail: e.name === hp.name ? e.detail : `named ${e.name} in the live pool; ${e.detail}`, name: e.name }] as const] : [];
    }),
  );
}

/** The plan's names of the hosts the end audit found behind the target (its `behind` holds live names). */
function behindByPlanName(run: Run): Set<string> {
  const audit = run.endAudit;
  if (!audit) return new Set();
  const behind = new Set(audit.behind);
  return new Set(run.plan.hosts.filter((hp) => behind.has(endAuditEntryOf(audit, hp)?.name ?? hp.name)).map((hp) => hp.name));
}

/** "7.6.0 back 03:00 · " for a host the run saw back on the target (its wait-host done), else nothing. */
function backOn(p: HostProgress, tz: string): string {
  return p.upgradedAt ? `${esc(p.to)} back ${clockTime(p.upgradedAt, tz)} · ` : '';
}

/**
 * HA as the pool showed it at the end (issue 11.2), else what the run did with it as pool-prep recorded it: what the
 * bot observed, never what the plan expected (R2.4).
 */
function haWords(run: Run): string | undefined {
  const prep = run.steps.find((s) => s.kind === 'pool-prep');
  // pool-prep (src/runner/steps/pool-prep.ts) saves wasEnabled: true BEFORE it calls pool.disable_ha (a refused or
  // interrupted call leaves HA on), false when it found HA already off: only a done pool-prep says the run disabled HA
  const wasEnabled = (prep?.data?.ha as { wasEnabled?: boolean } | undefined)?.wasEnabled;
  const disabled = prep?.state === 'done' && wasEnabled === true;
  const a = run.endAudit?.ha;
  if (a) {
    if (a.now === null) {
      if (disabled) return 'HA was disabled by this run; its state at the end is unknown (the pool did not answer)';
      return wasEnabled === true ? 'HA: pool preparation did not finish disabling it; its state at the end is unknown (the pool did not answer)' : undefined;
    }
    if (!a.now && (a.before || a.disabledByRun)) return 'HA off: not re-enabled (R2.4)';
    if (!a.now && a.line) return 'HA off, left off by an earlier run (R2.4)';
    if (!a.now && wasEnabled === false) return 'HA off, as before the run; nothing to re-enable (R2.4)';
    // the audit's disabledByRun is wasEnabled: with pool-prep not done, HA on may never have been off
    return a.now && disabled ? 'HA re-enabled' : undefined;
  }
  const disables = run.plan.steps.some((s) => s.fixes?.some((f) => f.kind === 'disable-ha'));
  if (!disables) return undefined;
  const ended = TERMINAL_RUN_STATES.includes(run.state);
  // the run goes on (or will once resumed): a failed run waits for recovery, an ended one never goes on
  const goesOn = !ended && run.state !== 'failed';
  if (wasEnabled === false) return 'HA was already off when pool preparation ran; nothing to re-enable (R2.4)';
  if (disabled) return ended ? 'HA was disabled by this run (R2.4)' : 'HA disabled for the run (re-enabled at the end once every host is on the target)';
  if (wasEnabled === true) {
    return goesOn && prep?.state !== 'failed' ? 'HA: the run has not finished disabling it (R2.4)' : 'HA: pool preparation did not finish disabling it; it may still be on (R2.4)';
  }
  // pool-prep has not read HA: the run has not touched it
  if (prep?.state === 'done') return undefined; // a record without HA (older version): nothing known to say
  const started = prep?.state === 'running' || prep?.state === 'failed';
  if (goesOn) return started ? 'HA: the run has not finished disabling it (R2.4)' : 'HA: the run disables it before the first host (R2.4)';
  const reached = started ? 'pool preparation reached it' : 'pool preparation';
  return ended ? `HA: not disabled, the run ended before ${reached} (R2.4)` : `HA: not disabled yet, the run failed before ${reached} (R2.4)`;
}

/**
 * Which hosts are on the target: once the run has an end audit, the live pool at the end (issue 11), as the end
 * summary says it (run-end.ts); before, the run's records.
 */
function poolLine(run: Run, tz: string): string {
  const parts: string[] = [];
  const target = esc(run.plan.target.product);
  const audit = run.endAudit;
  if (audit?.unreadable) parts.push('Pool at the end: not checked, the pool did not answer');
  else if (audit) {
    const total = run.plan.hosts.length;
    const behind = audit.behind;
    if (behind.length === 0) parts.push(`Pool at the end: every host on ${target}`);
    else if (behind.length < total) parts.push(`Pool at the end: mixed mode (R3.5): ${total - behind.length}/${total} hosts on ${target}; not on it: ${behind.map(esc).join(', ')}`);
    else parts.push(`Pool at the end: no host on ${target}`);
  } else {
    const mm = mixedMode(run);
    if (mm.mixed) parts.push(`Pool: mixed mode${mm.since ? ` since ${clockTime(mm.since, tz)}` : ''} (R3.5): ${mm.onTarget.length} on ${target}, ${mm.behind.length} behind`);
    else if (mm.behind.length === 0) parts.push(`Pool: every host on ${target}`);
    else parts.push(`Pool: all hosts still on the old version`);
  }
  const ha = haWords(run);
  if (ha) parts.push(ha);
  return parts.join(' · ');
}

function headerButtons(run: Run): KnownBlock[] {
  const value = encodeButtonValue({ runId: run.id });
  const abort = button({
    text: 'Abort run',
    actionId: ACTION.runAbort,
    value,
    style: 'danger',
    confirm: confirm({
      title: `Abort ${run.id}?`,
      text: `The host in progress is left as it is; hosts already upgraded stay upgraded and the pool may stay in mixed mode (R3.5).`,
      confirm: 'Abort run',
      danger: true,
    }),
  });
  switch (run.state) {
    case 'running':
    case 'awaiting-approval':
      return [
        {
          type: 'actions',
          block_id: `header:${run.id}`,
          elements: [
            button({
              text: 'Hold',
              actionId: ACTION.runHold,
              value,
              confirm: confirm({ title: 'Hold the run?', text: 'The host in progress finishes; no further host is taken down until someone resumes.', confirm: 'Hold' }),
            }),
            abort,
          ],
        },
      ];
    case 'paused':
      return [{ type: 'actions', block_id: `header:${run.id}`, elements: [button({ text: 'Resume', actionId: ACTION.runResume, value, style: 'primary' }), abort]}];
    case 'failed':
      return [context('Recovery actions are in the failure alert in this thread.')];
    case 'aborted':
      return restoreButton(run);
    default:
      return [];
  }
}

export function runHeaderMessage(run: Run, pool: PoolConfig | undefined): SlackMessage {
  const tz = pool?.timezone ?? 'UTC';
  // "done" only when the end audit found nothing left over (issue 11.1, 11.7)
  const exceptions = run.state === 'done' && !endedClean(run);
  const title = `${exceptions ? ':warning:' : STATE_ICON[run.state]} *${esc(run.id)}* · *${esc(run.pool)}* → ${esc(run.plan.target.label || run.plan.target.product)} · ${exceptions ? 'done with exceptions' : STATE_WORDS[run.state]}`;
  const by = `started by ${who(run.requestedBy)} · approvers ${approversMention(pool)} · ${run.plan.mode} mode`;
  const progress = hostProgress(run);
  const atEnd = atEndByPlanName(run);
  const lines = progress.slice(0, MAX_HOST_LINES).map((p) => hostLine(p, tz, atEnd.get(p.name)?.detail));
  if (progress.length > MAX_HOST_LINES) {
    lines.push(moreHostsLine(run, progress.slice(MAX_HOST_LINES)));
  }
  const blocks: KnownBlock[] = [
    ...sections(`${title}\n${by}`),
    ...sections(lines.join('\n')),
    context(poolLine(run, tz)),
    // the outcome's first line (an abort's full pool report is in the summary in the thread)
    ...(run.outcome && run.state !== 'running' ? sections(`_${slackText(run.outcome.split('\n')[0]!)}_`) : []),
    ...headerButtons(run),
    runContext(run),
  ];
  return { text: `${run.id} · ${run.pool} → ${run.plan.target.product}: ${STATE_WORDS[run.state]}`, blocks: withinBlockLimit(blocks) };
}

/** A thread reply for an event that matters (host down, host back on 7.6.0, VMs restored). */
export function runEventMessage(run: Run, text: string): SlackMessage {
  // the event's text quotes host and VM names as the pool has them: escaped as in the blocks (the mentions the bot
  // wrote still notify), and cut, as an event can be long (a Restore's report, a next hop's plan)
  const said = slackText(text);
  return { text: notificationText(`${run.id} · ${run.pool}: ${said}`), blocks: [...sections(said), runContext(run)] };
}
