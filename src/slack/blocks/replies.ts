import type { PoolStatus } from '../../domain/ports';
import type { Run, StepRecord, StepState } from '../../domain/types';
import { clockTime, esc, MAX_CHARS, messageChars, sections, slackText, SlackMessage, who, withinBlockLimit } from './common';
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

/** `status <run>`: the run's line, every step with its state and what it noted, the outcome, and a link to its thread (like the CLI). */
export function runDetailReply(run: Run, tz = 'UTC', threadLink?: string): SlackMessage {
  const head = [
    `*Status of ${esc(run.id)}*`,
    runSummary(run, tz),
    threadLink ? `Thread: <${threadLink}|progress, approvals and alerts of ${esc(run.id)}>` : 'Thread: not posted yet',
    ...(run.outcome ? [`_${slackText(run.outcome)}_`] : []),
    `*Steps* (${run.steps.filter((s) => s.state === 'done').length}/${run.steps.length} done)`,
  ];
  const message = (lines: string[]): SlackMessage => ({
    text: `${run.id} · ${run.pool}: ${run.state}`,
    blocks: withinBlockLimit(sections([...head, ...lines].join('\n')), `\`xsupgrade status ${run.id}\` lists every step`),
  });
  // within MAX_CHARS a message is a few sections, far from Slack's 50 blocks
  const fits = (m: SlackMessage) => messageChars(m) <= MAX_CHARS;
  const whole = message(run.steps.map(stepLine));
  if (fits(whole)) return whole;
  // a large pool (64 hosts: ~600 steps) is over Slack's size for one message: a host whose steps are all done, or
  // all still to do, is one line; the steps in progress, waiting or failed are always shown
  const lines = compactStepLines(run);
  const budget = MAX_CHARS - messageChars(message([])) - 300;
  const kept: string[] = [];
  let used = 0;
  let left = 0;
  for (const l of lines) {
    if (!l.always && used + l.text.length + 1 > budget) {
      left++;
      continue;
    }
    kept.push(l.text);
    used += l.text.length + 1;
  }
  if (left) kept.push(`_… ${left} more line(s) not shown (Slack's message size): \`xsupgrade status ${esc(run.id)}\` lists every step_`);
  return message(kept);
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
