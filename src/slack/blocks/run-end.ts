import { isFinalHop } from '../../planner/hops';
import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { EndAudit, Ref, Run } from '../../domain/types';
import { compareVersions } from '../../domain/versions';
import { clockTime, context, duration, esc, LIMIT, MAX_CHARS, messageChars, packLines, plural, runContext, sections, slackText, SlackMessage, truncate, who } from './common';
import { restoreButton } from './restore';
import { hostProgress, isOnTarget, mixedMode, type HostProgress } from './progress';
import { finalTargetOf, toolsAdviceGate, type GateHost } from '../../tools/checklist';

/** The end-of-run summary (in the thread, broadcast to the channel), with the R5.1 Tools list and R3.5 reminder. */

export interface RunEndMessages {
  summary: SlackMessage;
  /** thread replies after it: the rest of the audit's list, then of the run's report, when they do not all fit in the summary (the Tools checklist is its own message, src/tools/follow-up.ts) */
  threadMessages: SlackMessage[];
}

const TOOLS_INLINE = 15;
/** The audit's lines kept in the summary when all of them do not fit in one message (the rest follow in the thread). */
const INLINE_ITEMS = [40, 20, 10];
/** What Restore did (or could not do), at most this many items of each in the summary. */
const RESTORE_INLINE = 12;
/** The run's report (its outcome after the first line), at most this long in the summary; the rest follows in the thread. */
const REPORT_CHARS = 2500;
const REPORT_CONTINUED = 'Report (continued)';
/** The summary's text when even the shortest list leaves it too long: well within MAX_CHARS with the report. */
const CUT_TEXT_CHARS = 6000;

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

/** A list in one line, its first RESTORE_INLINE items and how many more (a Restore of a large pool starts hundreds of VMs). */
function firstOf(items: string[]): string {
  const shown = items.slice(0, RESTORE_INLINE).join('; ');
  return items.length > RESTORE_INLINE ? `${shown}; … and ${items.length - RESTORE_INLINE} more` : shown;
}

/**
 * The report's first lines for the summary (within REPORT_CHARS, cut at a line break) and the lines after them, which
 * follow in the thread: an abort's report on a large pool names every host and VM, none may be dropped unsaid.
 */
function splitReport(report: string[]): { head: string; rest: string[] } {
  let n = 0;
  // counted escaped, as posted: past Slack's 3000 characters a section is split, and the code block with it
  let chars = -1; // of esc(report.slice(0, n).join('\n'))
  while (n < report.length && chars + 1 + esc(report[n]!).length <= REPORT_CHARS) chars += 1 + esc(report[n++]!).length;
  // a first line longer than the summary keeps: its start here, all of it in the thread
  if (n === 0 && report.length) return { head: truncate(report[0]!, REPORT_CHARS), rest: report };
  return { head: report.slice(0, n).join('\n'), rest: report.slice(n) };
}

/** The report's lines after the summary's part, as thread messages, each part in a code block as in the summary. */
function reportContinued(run: Run, rest: string[]): SlackMessage[] {
  if (!rest.length) return [];
  return packLines(REPORT_CONTINUED, rest.map(esc), `${run.id} · ${run.pool}: report`).map((m) => ({
    ...m,
    // block 0 is packLines' title; the others hold the lines
    blocks: m.blocks.map((b, i): KnownBlock => (i > 0 && b.type === 'section' && b.text ? { ...b, text: { type: 'mrkdwn', text: `\`\`\`${b.text.text}\`\`\`` } } : b)),
  }));
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
  if (a.counts.stopped) facts.push(`${plural(a.counts.stopped, 'VM')} stopped by the run${a.unreadable ? ' (the pool was not read at the end)' : `, ${backWords(a)}`}`);
  return facts;
}

/**
 * How the VMs the run stopped are now: back as before (Running, or Paused: R3.7/R6.2 start_paused), and left as found
 * (someone changed them after the stop). An audit without `backPaused` (none, or an older version's) reads as before.
 */
function backWords(a: EndAudit): string {
  const { restarted, backPaused = 0 } = a.counts;
  const back = backPaused
    ? `${restarted + backPaused} back as before (${[...(restarted ? [`${restarted} running`] : []), `${backPaused} paused`].join(', ')})`
    : `${restarted} running again`;
  const leftAsFound = a.vms.filter((v) => v.cause === 'left-as-found').length;
  return leftAsFound ? `${back}, ${leftAsFound} left as found` : back;
}

/**
 * The end audit's entry of a planned host, if it has one: by the plan's ref (a host renamed during the run has an entry,
 * and a place in `behind`, under its live name), by name in an audit made by an older version (no ref).
 */
export function endAuditEntryOf(audit: EndAudit, hp: { host: Ref; name: string }): EndAudit['hosts'][number] | undefined {
  return audit.hosts.find((e) => (e.ref !== undefined ? e.ref === hp.host : e.name === hp.name));
}

/**
 * The planned hosts for the R5.3 Tools gate, each with what the bot knows of its version at the end: the end audit's
 * read of the live pool, else the plan's version before the run, worded as such (never "still runs" from the plan).
 */
function toolsGateHosts(run: Run, progress: HostProgress[]): GateHost[] {
  const audit = run.endAudit;
  const target = run.plan.target.product;
  const final = finalTargetOf(run.plan).product;
  // hostProgress lists run.plan.hosts in their order
  return progress.map((p, i): GateHost => {
    const hp = run.plan.hosts[i]!;
    if (!audit) return isOnTarget(p) ? { name: hp.name, product: target } : { name: hp.name, product: hp.from.product, seen: 'not-read' };
    if (audit.unreadable) return { name: hp.name, product: hp.from.product, seen: 'not-read' };
    const entry = endAuditEntryOf(audit, hp);
    const name = entry?.name ?? hp.name;
    if (!audit.behind.includes(name)) return { name, product: entry?.version ?? target, seen: 'at-end' };
    if (entry?.version !== undefined) {
      // behind on the final product: its build is not the target's (isOnTarget), which the gate must see
      const wanted = hp.to.build && compareVersions(hp.to.product, final) === 0 ? { targetBuild: hp.to.build, ...(entry.build ? { build: entry.build } : {}) } : {};
      return { name, product: entry.version, seen: 'at-end', ...wanted };
    }
    // an entry with the plan's ref and no version: the audit found no such host in the live pool
    if (entry?.ref !== undefined) return { name, product: '', seen: 'left-pool' };
    return { name, product: hp.from.product, seen: 'not-read' };
  });
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
  // the audit's list goes in at listAt; what does not fit in one message follows in the thread
  let listAt = -1;
  let listTitle = '';
  let listItems: string[] = [];
  if (audit) {
    // the audit's own lines, one per thing: what is left over (done) or still changed (aborted, rolled back)
    const items = run.state === 'done' ? audit.leftovers : audit.changed;
    if (audit.unreadable) lines.push(`_${esc(audit.leftovers[0] ?? 'the pool did not answer at the end')}_`);
    else if (items.length) {
      listTitle = run.state === 'done' ? 'Left over' : 'Still changed';
      lines.push(`*${listTitle}* (the live pool, compared with before the run):`);
      listAt = lines.length;
      listItems = items.map((l) => `• ${esc(l)}`);
    }
    else lines.push(run.state === 'done' ? '_Every host on the target and enabled; every VM that ran before runs._' : '_Nothing left changed: hosts, running VMs and HA are as they were before the run._');
  } else if (outcomeFirst) lines.push(`_${slackText(outcomeFirst)}_`);
  if (run.restore) {
    lines.push(
      `*Restore* by ${who(run.restore.by)} (${run.restore.state}): ${esc(firstOf(run.restore.did) || 'nothing to do')}` +
        (run.restore.left.length ? ` — could not: ${esc(firstOf(run.restore.left))}` : ''),
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
  // R5.1 only once every host runs the FINAL version (R5.2, R5.3): the live pool at the end says which hosts are behind
  const gate = toolsAdviceGate(toolsGateHosts(run, progress), finalTargetOf(run.plan));
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
  const word = run.state === 'done' && !endedClean(run) ? 'done with exceptions' : run.state;
  const { head: reportHead, rest: reportRest } = splitReport(report);
  const reportMore = reportContinued(run, reportRest);
  const summaryWith = (inline: number, moreMessages: number, textBudget: number): SlackMessage => {
    const rest = listItems.length - inline;
    const list = rest > 0 ? [...listItems.slice(0, inline), `• … and ${rest} more (listed in the next message${moreMessages > 1 ? 's' : ''} of this thread)`] : listItems;
    const all = listAt < 0 ? lines : [...lines.slice(0, listAt), ...list, ...lines.slice(listAt)];
    const blocks: KnownBlock[] = [
      ...sections(truncate(all.join('\n'), textBudget)),
      ...(report.length ? sections(`\`\`\`${esc(reportHead)}\`\`\``) : []),
      ...(reportMore.length ? sections(`_The report is cut here: the rest follows in this thread as *${REPORT_CONTINUED}*._`) : []),
      ...restoreButton(run),
      context(`requested by ${who(run.requestedBy)}`),
      runContext(run),
    ];
    return { text: `${run.id} · ${run.pool}: ${word}`, blocks };
  };
  // a bad day on a large pool gives a line per VM and per host: past Slack's size for one message the summary would
  // be refused and fall back to its one-line text, so the list is cut and the rest follows in the thread
  const fits = (m: SlackMessage) => m.blocks!.length <= LIMIT.blocks && messageChars(m) <= MAX_CHARS;
  /** the list's lines after the first `inline`, as thread messages */
  const continued = (inline: number): SlackMessage[] =>
    inline < listItems.length ? packLines(`${listTitle} (continued)`, listItems.slice(inline), `${run.id} · ${run.pool}: ${listTitle.toLowerCase()}`) : [];
  for (const inline of [listItems.length, ...INLINE_ITEMS.filter((n) => n < listItems.length)]) {
    const more = continued(inline);
    const summary = summaryWith(inline, more.length, MAX_CHARS);
    if (fits(summary)) return { summary, threadMessages: [...more, ...reportMore] };
  }
  // still too long without the list (a Restore or hotfix report of every host): the text is cut, and says so
  const inline = Math.min(listItems.length, INLINE_ITEMS.at(-1)!);
  const more = continued(inline);
  const summary = summaryWith(inline, more.length, CUT_TEXT_CHARS);
  summary.blocks!.push(context(`Cut to fit one Slack message: \`xsupgrade status ${esc(run.id)}\` shows the run's outcome and every step.`));
  return { summary, threadMessages: [...more, ...reportMore] };
}
