import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { Run } from '../../domain/types';
import { clockTime, context, duration, esc, plural, runContext, sections, slackText, SlackMessage, who } from './common';
import { hostProgress, isOnTarget, mixedMode } from './progress';

/** The end-of-run summary (in the thread, broadcast to the channel), with the R5.1 Tools list and R3.5 reminder. */

export interface RunEndMessages {
  summary: SlackMessage;
  /** follow-up thread replies (the Tools list when it is long) */
  threadMessages: SlackMessage[];
}

const TOOLS_INLINE = 15;

function backupLine(run: Run): string | undefined {
  const data = run.steps.find((s) => s.kind === 'backup' && s.state === 'done')?.data;
  if (!data || typeof data.path !== 'string') return undefined;
  const sha = typeof data.sha256 === 'string' ? ` (sha256 ${esc(data.sha256.slice(0, 8))}…)` : '';
  return `backup: \`${esc(data.path)}\`${sha}`;
}

export function runEndMessages(run: Run, pool: PoolConfig | undefined): RunEndMessages {
  const tz = pool?.timezone ?? 'UTC';
  const progress = hostProgress(run);
  const onTarget = progress.filter(isOnTarget);
  const target = esc(run.plan.target.product);
  const took = run.endedAt ? ` in ${duration(run.endedAt - run.createdAt)}` : '';
  const stops = run.plan.hosts.reduce((n, h) => n + h.stops.length, 0);
  const lines: string[] = [];
  if (run.state === 'done') {
    // a run that skipped a host or left a VM stopped ends "done with exceptions": it must not look all green
    const icon = onTarget.length === progress.length && !run.outcome?.startsWith('done with exceptions') ? ':white_check_mark:' : ':warning:';
    lines.push(`${icon} *${esc(run.id)}* done${took} — ${onTarget.length === progress.length ? `all ${plural(progress.length, 'host')}` : `${onTarget.length}/${progress.length} hosts`} of *${esc(run.pool)}* on ${target}`);
  } else {
    const icon = run.state === 'rolled-back' ? ':leftwards_arrow_with_hook:' : ':octagonal_sign:';
    lines.push(`${icon} *${esc(run.id)}* ${run.state}${took} — ${onTarget.length}/${progress.length} hosts of *${esc(run.pool)}* on ${target}`);
  }
  if (run.outcome) lines.push(`_${slackText(run.outcome)}_`);
  const facts = [`${plural(run.plan.migrations.planned, 'live migration')} planned`];
  if (stops) facts.push(`${plural(stops, 'VM')} stopped and restarted`);
  const backup = backupLine(run);
  if (backup) facts.push(backup);
  lines.push(facts.join(' · '));

  const mm = mixedMode(run);
  if (mm.mixed) {
    lines.push(
      `:warning: *${esc(run.pool)}* is in mixed mode (R3.5): ${mm.onTarget.map(esc).join(', ')} on ${target}; ${mm.behind.map(esc).join(', ')} not. ` +
        `It runs degraded until every host is upgraded — plan again soon (\`/xsupgrade plan ${esc(run.pool)}\`).`,
    );
  } else if (run.state === 'done' && mm.since) {
    lines.push(`Pool left mixed mode (R3.5); it was mixed from ${clockTime(mm.since, tz)} to ${clockTime(run.endedAt ?? run.updatedAt, tz)}.`);
  }

  const tools = run.plan.toolsUpgrade;
  const threadMessages: SlackMessage[] = [];
  if (run.state === 'done' && tools.length > 0) {
    if (tools.length <= TOOLS_INLINE) {
      lines.push(`Next (R5.1): upgrade XenServer Tools in ${plural(tools.length, 'VM')}: ${tools.map((t) => `\`${esc(t)}\``).join(', ')}`);
    } else {
      lines.push(`Next (R5.1): upgrade XenServer Tools in ${plural(tools.length, 'VM')} → list in thread`);
      const list = tools.map((t) => `• ${esc(t)}`).join('\n');
      threadMessages.push({
        text: `${run.id} · ${run.pool}: ${tools.length} VMs need their XenServer Tools upgraded (R5.1)`,
        blocks: [...sections(`*VMs whose XenServer Tools need upgrading (R5.1)*\n${list}`).slice(0, 45), runContext(run)],
      });
    }
  } else if (run.state !== 'done' && tools.length > 0) {
    lines.push(`Do not upgrade XenServer Tools until every host is on ${target} (R5.2, R5.3).`);
  }
  const blocks: KnownBlock[] = [...sections(lines.join('\n')), context(`requested by ${who(run.requestedBy)}`), runContext(run)];
  return { summary: { text: `${run.id} · ${run.pool}: ${run.state}`, blocks }, threadMessages };
}
