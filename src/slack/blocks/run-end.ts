import { isFinalHop } from '../../planner/hops';
import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { Run } from '../../domain/types';
import { clockTime, context, duration, esc, plural, runContext, sections, slackText, SlackMessage, who, withinBlockLimit } from './common';
import { restoreButton } from './restore';
import { hostProgress, isOnTarget, mixedMode } from './progress';
import { finalTargetOf, toolsAdviceGate } from '../../tools/checklist';

/** The end-of-run summary (in the thread, broadcast to the channel), with the R5.1 Tools list and R3.5 reminder. */

export interface RunEndMessages {
  summary: SlackMessage;
  /** follow-up thread replies (none today: the Tools checklist is its own message, src/tools/follow-up.ts) */
  threadMessages: SlackMessage[];
}

const TOOLS_INLINE = 15;

/** The R2.1 backup, only when it can restore the pool; a stub dump (mixed mode) is said to be none (issue 11.6). */
function backupLine(run: Run): string | undefined {
  const step = run.steps.find((s) => s.kind === 'backup' && s.state === 'done');
  const data = step?.data;
  if (!data || typeof data.path !== 'string') return undefined;
  const verdict = run.endAudit?.backup;
  if (verdict ? !verdict.usable : data.mixedMode === true || data.holdsPoolData === false) {
    return `no usable backup: the pool was in mixed mode, so the dump \`${esc(data.path)}\` holds no pool data (R2.1)`;
  }
  const sha = typeof data.sha256 === 'string' ? ` (sha256 ${esc(data.sha256.slice(0, 8))}…)` : '';
  return `backup: \`${esc(data.path)}\`${sha}`;
}

/** "done" only when the audit of the live pool found nothing left over (issue 11.1, 11.7). */
export function endedClean(run: Run): boolean {
  if (run.state !== 'done') return false;
  if (run.endAudit) return run.endAudit.leftovers.length === 0;
  return !run.outcome?.startsWith('done with exceptions');
}

const END_ICON = { aborted: ':octagonal_sign:', 'rolled-back': ':leftwards_arrow_with_hook:' } as const;

/** What happened, counted from the run's records (never from the plan). */
function countsLine(run: Run): string[] {
  const a = run.endAudit;
  if (!a) return [];
  const facts = [plural(a.counts.migrated, 'live migration')];
  if (a.counts.stopped) facts.push(`${plural(a.counts.stopped, 'VM')} stopped by the run, ${a.counts.restarted} running again`);
  return facts;
}

/** `toolsFollowUp`: this bot ticks the R5.1 Tools follow-up (src/tools/follow-up.ts), so a checklist follows in the thread. */
export function runEndMessages(run: Run, pool: PoolConfig | undefined, opts: { toolsFollowUp: boolean }): RunEndMessages {
  const tz = pool?.timezone ?? 'UTC';
  const progress = hostProgress(run);
  const audit = run.endAudit;
  const behind = audit?.behind;
  const onTargetCount = behind ? progress.length - behind.length : progress.filter(isOnTarget).length;
  const allOnTarget = audit ? audit.allOnTarget : onTargetCount === progress.length;
  const target = esc(run.plan.target.product);
  const took = run.endedAt ? ` in ${duration(run.endedAt - run.createdAt)}` : '';
  const hostsWord = allOnTarget ? `all ${plural(progress.length, 'host')}` : `${onTargetCount}/${progress.length} hosts`;
  const lines: string[] = [];
  if (run.state === 'done') {
    const clean = endedClean(run) && allOnTarget;
    lines.push(`${clean ? ':white_check_mark:' : ':warning:'} *${esc(run.id)}* ${clean ? 'done' : 'done with exceptions'}${took} — ${hostsWord} of *${esc(run.pool)}* on ${target}`);
  } else {
    const icon = run.state === 'rolled-back' ? END_ICON['rolled-back'] : END_ICON.aborted;
    lines.push(`${icon} *${esc(run.id)}* ${run.state === 'rolled-back' ? 'rolled back' : run.state}${took} — ${hostsWord} of *${esc(run.pool)}* on ${target}`);
  }
  const [outcomeFirst, ...reportLines] = (run.outcome ?? '').split('\n');
  if (audit) {
    // the audit's own lines, one per thing: what is left over (done) or still changed (aborted, rolled back)
    const items = run.state === 'done' ? audit.leftovers : audit.changed;
    if (audit.unreadable) lines.push(`_${esc(audit.leftovers[0] ?? 'the pool did not answer at the end')}_`);
    else if (items.length) lines.push(`*${run.state === 'done' ? 'Left over' : 'Still changed'}* (the live pool, compared with before the run):`, ...items.map((l) => `• ${esc(l)}`));
    else lines.push(run.state === 'done' ? '_Every host on the target and enabled; every VM that ran before runs._' : '_Nothing left changed: hosts, running VMs and HA are as they were before the run._');
  } else if (outcomeFirst) lines.push(`_${slackText(outcomeFirst)}_`);
  if (run.restore) {
    lines.push(
      `*Restore* by ${who(run.restore.by)} (${run.restore.state}): ${esc(run.restore.did.join('; ') || 'nothing to do')}` +
        (run.restore.left.length ? ` — could not: ${esc(run.restore.left.join('; '))}` : ''),
    );
  }
  // R3.10: which updates each host has now (the live pool), and what it lacks
  if (audit?.updates?.length) {
    const complete = audit.updates.filter((u) => u.missing.length === 0);
    const lacking = audit.updates.filter((u) => u.missing.length > 0);
    if (complete.length) lines.push(`*Hotfixes* (R3.10): ${esc(complete.map((u) => u.name).join(', '))} ${complete.length === 1 ? 'has' : 'have'} every planned update`);
    for (const u of lacking) lines.push(`• ${esc(u.name)} lacks ${esc(u.missing.map((m) => (u.skipped.includes(m) ? `${m} (skipped)` : m)).join(', '))}`);
  }
  // the ISOs still on the SR are in the leftovers above; said here only when removed, so "done" shows nothing stayed
  if (audit?.updateFiles?.removed.length) lines.push(`Update ISOs removed from the SR (pool_update.pool_clean): ${esc(audit.updateFiles.removed.join(', '))}`);
  const facts = countsLine(run);
  const backup = backupLine(run);
  if (backup) facts.push(backup);
  if (facts.length) lines.push(facts.join(' · '));

  const mm = mixedMode(run);
  const mixed = behind ? behind.length > 0 && behind.length < progress.length : mm.mixed;
  if (mixed) {
    const notOn = behind ?? mm.behind;
    lines.push(
      `:warning: *${esc(run.pool)}* is in mixed mode (R3.5): ${notOn.map(esc).join(', ')} not on ${target}. ` +
        `It runs degraded until every host is upgraded — plan again soon (\`/xsupgrade plan ${esc(run.pool)}\`).`,
    );
  } else if (run.state === 'done' && mm.since) {
    const end = run.endedAt ?? run.updatedAt;
    // a span shorter than a minute would read "from 13:16 to 13:16": say only that it left mixed mode
    lines.push(end - mm.since >= 60_000 ? `Pool left mixed mode (R3.5); it was mixed from ${clockTime(mm.since, tz)} to ${clockTime(end, tz)}.` : 'Pool left mixed mode (R3.5).');
  }

  const tools = run.plan.toolsUpgrade;
  const threadMessages: SlackMessage[] = [];
  // R5.1 only once every host runs the FINAL version (R5.2, R5.3): the live pool at the end says which hosts are behind
  const gate = toolsAdviceGate(
    progress.map((h) => ({ name: h.name, product: (behind ?? []).includes(h.name) || (!behind && !isOnTarget(h)) ? h.from : run.plan.target.product })),
    finalTargetOf(run.plan),
  );
  if (run.state === 'done' && allOnTarget && gate.ok && tools.length > 0) {
    const names = tools.length <= TOOLS_INLINE ? `: ${tools.map((t) => `\`${esc(t)}\``).join(', ')}` : '';
    const follows = opts.toolsFollowUp
      ? 'the Tools checklist in this thread follows them as they report new Tools'
      : 'no Tools checklist follows: this bot runs without the Tools follow-up (`xsupgrade serve` keeps it)';
    lines.push(`Next (R5.1): upgrade XenServer Tools in ${plural(tools.length, 'VM')}${names} → ${follows}`);
  } else if (!gate.ok && (tools.length > 0 || !isFinalHop(run.plan))) {
    lines.push(`Do not upgrade XenServer Tools yet: ${esc(gate.reason)} (R5.2).`);
  }
  // R1.4: a non-final hop's end says what follows; its plan carries no Tools list (R5.3)
  const hop = run.plan.hops?.find((h) => h.status === 'this');
  if (run.state === 'done' && hop && !isFinalHop(run.plan)) {
    lines.push(
      `Hop ${hop.index} of ${run.plan.hops!.length} done (R1.4): the bot re-reads the pool and posts the plan of hop ${hop.index + 1} here; it starts only when someone starts it. XenServer Tools wait for the last hop (R5.3).`,
    );
  }
  const report = reportLines.filter(Boolean);
  const blocks: KnownBlock[] = [
    ...sections(lines.join('\n')),
    ...(report.length ? sections(`\`\`\`${esc(report.join('\n'))}\`\`\``) : []),
    ...restoreButton(run),
    context(`requested by ${who(run.requestedBy)}`),
    runContext(run),
  ];
  const word = run.state === 'done' && !endedClean(run) ? 'done with exceptions' : run.state;
  return { summary: { text: `${run.id} · ${run.pool}: ${word}`, blocks: withinBlockLimit(blocks) }, threadMessages };
}
