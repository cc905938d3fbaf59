import type { PoolStatus } from '../../domain/ports';
import type { Run, StepRecord, StepState } from '../../domain/types';
import type { KnownBlock } from '@slack/types';
import { clockTime, esc, MAX_CHARS, messageChars, packLines, section, sections, slackText, SlackMessage, splitText, who, withinBlockLimit } from './common';
import { hostProgress, isOnTarget } from './progress';

/** Ephemeral answers to slash commands. Pure: data in, message out. */

export function helpReply(usage: string, unknown?: string): SlackMessage {
  const intro = unknown ? `I don't know the command \`${esc(unknown)}\`. ` : '';
  return { text: `${intro}xsupgrade commands`, blocks: sections(`${intro}*xsupgrade* upgrades XenServer pools one host at a time.\n\`\`\`${esc(usage)}\`\`\``) };
}

export function errorReply(message: string, usage: string): SlackMessage {
  return { text: message, blocks: sections(`:warning: ${esc(message)}\n\`\`\`${esc(usage)}\`\`\``) };
}

export function textReply(text: string): SlackMessage {
  return { text, blocks: sections(slackText(text)) };
}

export function poolsReply(pools: PoolStatus[]): SlackMessage {
  if (pools.length === 0) return textReply('No pools are configured.');
  const lines = pools.map((p) => {
    const run = p.activeRun ? ` · run \`${esc(p.activeRun.id)}\` ${esc(p.activeRun.state)}` : ' · no active run';
    const plan = p.lastPlan ? ` · last plan \`${esc(p.lastPlan.id.slice(0, 12))}\`${p.lastPlan.executable ? '' : ' (blocked)'}` : '';
    const channel = p.channel ? ` · <#${esc(p.channel)}>` : '';
    return `• *${esc(p.name)}* → ${esc(p.target)} (${p.mode})${run}${plan}${channel}`;
  });
  return { text: `${pools.length} pools`, blocks: withinBlockLimit(sections(`*Pools*\n${lines.join('\n')}`)) };
}

function runSummary(run: Run, tz: string): string {
  const progress = hostProgress(run);
  const done = progress.filter(isOnTarget).length;
  return `\`${esc(run.id)}\` · *${esc(run.pool)}* → ${esc(run.plan.target.product)} · ${run.state} · ${done}/${progress.length} hosts on target · by ${who(run.requestedBy)} · started ${clockTime(run.createdAt, tz)}`;
}

export function runsReply(title: string, runs: Run[], tz = 'UTC', empty = 'No runs.'): SlackMessage {
  if (runs.length === 0) return textReply(empty);
  return { text: `${title}: ${runs.length}`, blocks: withinBlockLimit(sections(`*${esc(title)}*\n${runs.map((r) => `• ${runSummary(r, tz)}`).join('\n')}`)) };
}

const STEP_ICON: Record<StepState, string> = {
  pending: '⏸',
  running: '⏳',
  'awaiting-approval': ':raised_hand:',
  done: '✅',
  failed: '❌',
  skipped: '⏭',
};

/** The outcome's first line, at most this long in the status reply (an abort's lists every changed VM); the rest follows. */
const FIRST_LINE_CHARS = 1000;
/** The outcome's report (its lines after the first), at most this long in the status reply, as in the end summary (run-end.ts). */
const REPORT_CHARS = 2500;
/** A report line longer than this is broken (report.ts writes every VM the run left stopped on one line). */
const REPORT_LINE_CHARS = 2000;
const OUTCOME_CONTINUED = 'Outcome (continued)';
const REPORT_CONTINUED = 'Report (continued)';

/** `status <run>`'s reply, and the messages to send the same user after it: the rest of an outcome, then of the steps, too long for one. */
export type RunDetailReply = SlackMessage & { followUps: SlackMessage[] };

/** `text` in pieces of at most `max` characters once escaped, none of it dropped (common.ts splitText). */
const pieces = (text: string, max: number): string[] => splitText(text, max, (c) => esc(c).length);

/**
 * The run's outcome for the status reply: its first line (the start of it when long) and the report's first lines
 * (within REPORT_CHARS, for a code block), and the rest as follow-up messages, each within Slack's limits (packLines).
 * An aborted run on a large pool reports every host and VM (src/runner/report.ts): none of it is dropped unsaid.
 */
function outcomeParts(run: Run): { first?: string; firstCut: boolean; reportHead?: string; followUps: SlackMessage[]; titles: string[] } {
  if (!run.outcome) return { firstCut: false, followUps: [], titles: [] };
  const [firstLine = '', ...lines] = run.outcome.split('\n');
  const [first, ...firstRest] = pieces(firstLine, FIRST_LINE_CHARS);
  const report = lines.filter(Boolean).flatMap((l) => pieces(l, REPORT_LINE_CHARS));
  let n = 0;
  let chars = -1; // of esc(report.slice(0, n).join('\n'))
  while (n < report.length && chars + 1 + esc(report[n]!).length <= REPORT_CHARS) chars += 1 + esc(report[n++]!).length;
  const firstCut = firstRest.length > 0;
  const reportCut = n < report.length;
  const followUps = [
    // mrkdwn, as in the reply: its mentions render
    ...(firstCut ? packLines(OUTCOME_CONTINUED, firstRest.map(slackText), `${run.id} · ${run.pool}: outcome`) : []),
    ...(reportCut ? packLines(REPORT_CONTINUED, report.slice(n).map(esc), `${run.id} · ${run.pool}: report`).map(inCodeBlocks) : []),
  ];
  const titles = [...(firstCut ? [OUTCOME_CONTINUED] : []), ...(reportCut ? [REPORT_CONTINUED] : [])];
  return { first: first || undefined, firstCut, reportHead: n ? report.slice(0, n).join('\n') : undefined, followUps, titles };
}

/** A packLines message with its line sections (every block after its title) in code blocks. */
function inCodeBlocks(m: SlackMessage): SlackMessage {
  return { ...m, blocks: m.blocks.map((b, i): KnownBlock => (i > 0 && b.type === 'section' && b.text ? { ...b, text: { type: 'mrkdwn', text: `\`\`\`${b.text.text}\`\`\`` } } : b)) };
}

/**
 * `status <run>`: the run's line, every step with its state and what it noted, the outcome, and a link to its thread
 * (like the CLI). A long outcome, or a step list too long, is cut, said so, and its rest is in `followUps`, to be sent
 * after the reply.
 */
export function runDetailReply(run: Run, tz = 'UTC', threadLink?: string): RunDetailReply {
  const outcome = outcomeParts(run);
  const more = outcome.followUps.length;
  const titles = outcome.titles.map((t) => `*${t}*`).join(' and ');
  const head = [
    `*Status of ${esc(run.id)}*`,
    runSummary(run, tz),
    threadLink ? `Thread: <${threadLink}|progress, approvals and alerts of ${esc(run.id)}>` : 'Thread: not posted yet',
    // one line in italics: a multi-line text would break them
    ...(outcome.first ? [`_${slackText(outcome.first.trim())}${outcome.firstCut ? ' …' : ''}_`] : []),
  ];
  const outcomeBlocks = [
    // its own section: split across two, a code block would break
    ...(outcome.reportHead ? [section(`\`\`\`${esc(outcome.reportHead)}\`\`\``)] : []),
    ...(more ? [section(`_The outcome is cut here to fit one Slack message: the rest follows in ${more} more message${more > 1 ? 's' : ''} to you (${titles})._`)] : []),
  ];
  const message = (lines: string[], stepFollowUps: SlackMessage[] = []): RunDetailReply => ({
    text: `${run.id} · ${run.pool}: ${run.state}`,
    blocks: withinBlockLimit(
      [...sections(head.join('\n')), ...outcomeBlocks, ...sections([`*Steps* (${run.steps.filter((s) => s.state === 'done').length}/${run.steps.length} done)`, ...lines].join('\n'))],
      `\`xsupgrade status ${run.id}\` lists every step`,
    ),
    // the outcome's rest first: the reply shows the outcome before the steps
    followUps: [...outcome.followUps, ...stepFollowUps],
  });
  // within MAX_CHARS a message is a few sections, far from Slack's 50 blocks
  const fits = (m: SlackMessage) => messageChars(m) <= MAX_CHARS;
  const full = run.steps.map(stepLine);
  const whole = message(full);
  // a line longer than a section would be cut by sections(): such a step goes the compact way, its line in a follow-up
  if (fits(whole) && full.every((l) => l.length <= STEP_LINE_CHARS)) return whole;
  // a large pool (64 hosts: ~600 steps) is over Slack's size for one message: a host whose steps are all done, or
  // all still to do, is one line; the steps in progress, waiting or failed come first, as many as fit, and every line
  // left out follows in messages after the reply (a failed pool can have hundreds of failed steps): none dropped
  const lines = compactStepLines(run);
  const note = (left: number, more: number) =>
    `_… ${left} more line(s) not shown (Slack's message size): \`xsupgrade status ${esc(run.id)}\` lists every step; they follow in ${more} more message${more > 1 ? 's' : ''} to you (*${STEPS_CONTINUED}*)_`;
  const budget = MAX_CHARS - messageChars(message([note(999_999, 999_999)]));
  const shown = pickLines(lines, budget);
  const left = lines.filter((_, i) => !shown[i]).map((l) => l.text);
  const kept = lines.filter((_, i) => shown[i]).map((l) => l.text);
  if (!left.length) return message(kept);
  const stepFollowUps = packLines(STEPS_CONTINUED, left, `${run.id} · ${run.pool}: steps`);
  return message([...kept, note(left.length, stepFollowUps.length)], stepFollowUps);
}

/** A step line longer than this is not put in the reply (it would not fit one section) but in a follow-up, split there. */
const STEP_LINE_CHARS = 2900;
const STEPS_CONTINUED = 'Steps (continued)';

/**
 * Which lines the reply shows within `budget` characters: the `always` lines first (a step to act on or watch), then
 * the others, each in order if it still fits (a line that does not is left for the follow-ups).
 */
function pickLines(lines: Array<{ text: string; always: boolean }>, budget: number): boolean[] {
  const shown = lines.map(() => false);
  let used = 0;
  for (const always of [true, false])
    lines.forEach((l, i) => {
      const size = l.text.length + 1;
      if (l.always !== always || l.text.length > STEP_LINE_CHARS || used + size > budget) return;
      shown[i] = true;
      used += size;
    });
  return shown;
}

function stepLine(s: StepRecord): string {
  const note = (s.data?.note as string | undefined) ?? s.error?.message ?? '';
  return `${STEP_ICON[s.state]} \`${esc(s.id)}\` ${s.state}${s.attempts > 1 ? ` (attempt ${s.attempts})` : ''}${note ? ` — ${slackText(note)}` : ''}`;
}

/** The steps in order, a host's run of steps all done (or all pending) as one line; `always`: a step to act on or watch. */
function compactStepLines(run: Run): Array<{ text: string; always: boolean }> {
  const out: Array<{ text: string; always: boolean }> = [];
  const steps = run.steps;
  for (let i = 0; i < steps.length; ) {
    const host = steps[i]!.hostName;
    let j = i + 1;
    while (host !== undefined && j < steps.length && steps[j]!.hostName === host) j++;
    const group = steps.slice(i, j);
    const same = group.length > 1 && group.every((s) => s.state === group[0]!.state) && (group[0]!.state === 'done' || group[0]!.state === 'pending');
    if (same) out.push({ text: `${STEP_ICON[group[0]!.state]} \`${esc(host!)}\`: ${group.length} steps ${group[0]!.state}`, always: false });
    else for (const s of group) out.push({ text: stepLine(s), always: s.state === 'running' || s.state === 'failed' || s.state === 'awaiting-approval' });
    i = j;
  }
  return out;
}
