import type { KnownBlock } from '@slack/types';
import type { PoolConfig } from '../../config/pools';
import type { Run, ToolsEntry, ToolsFollowUp } from '../../domain/types';
import { isClosed, shortVersion } from '../../tools/checklist';
import type { ToolsView } from '../../tools/follow-up';
import { approversMention, button, clockTime, confirm, context, esc, notificationText, plural, runContext, sections, SlackMessage, who, withinBlockLimit } from './common';
import { ACTION, encodeButtonValue } from './ids';

/** The R5.1 Tools checklist (one message in the run's thread, edited in place) and the `/xsupgrade tools` reply. */

const ROWS = 40;

/** The Dismiss button's step id carries the checklist version the message shows: an older message's click is refused. */
export const toolsStepId = (version: number): string => `tools-v${version}`;
export function toolsVersionOf(stepId: string | undefined): number | undefined {
  const m = /^tools-v(\d{1,9})$/.exec(stepId ?? '');
  return m ? Number(m[1]) : undefined;
}

function rows(pending: ToolsEntry[]): string[] {
  const shown = pending.slice(0, ROWS).map((e) => `• \`${esc(e.vm)}\` · has ${e.current ? esc(e.current) : '_no version reported_'} · needs ${esc(shortVersion(e.needed))}`);
  return pending.length > ROWS ? [...shown, `… and ${pending.length - ROWS} more`] : shown;
}

function headline(f: ToolsFollowUp): string {
  const v = esc(shortVersion(f.needed));
  if (f.supersededBy) {
    return `:heavy_minus_sign: *XenServer Tools checklist* no longer followed: run ${esc(f.supersededBy)} started on this pool since; ${plural(f.pending.length, 'VM')} were still below ${v} (\`/xsupgrade tools\` shows the live list)`;
  }
  if (f.note) return `:hourglass: *XenServer Tools checklist* (R5.3) — ${esc(f.note)}`;
  if (f.dismissed) return `:heavy_minus_sign: *XenServer Tools checklist* dismissed by ${who(f.dismissed.by)}: ${plural(f.pending.length, 'VM')} still below ${v}; no more reminders`;
  if (f.pending.length === 0) return `:white_check_mark: *XenServer Tools checklist* complete: every listed VM reports Tools ${v} or newer (${plural(f.done.length, 'VM')} upgraded)`;
  return `:wrench: *XenServer Tools checklist* (R5.1) — every host runs ${esc(f.label)}: upgrade the Tools in ${plural(f.pending.length, 'VM')} · ${f.done.length} done`;
}

export function toolsChecklistMessage(run: Run, pool: PoolConfig | undefined): SlackMessage {
  const f = run.toolsFollowUp!;
  const tz = pool?.timezone ?? 'UTC';
  const open = !f.note && !isClosed(f);
  const body = [headline(f), ...(open ? rows(f.pending) : [])].join('\n');
  const blocks: KnownBlock[] = [...sections(body)];
  if (open) {
    blocks.push({
      type: 'actions',
      block_id: `tools:${run.id}`,
      elements: [
        button({
          text: 'Dismiss',
          actionId: ACTION.toolsDismiss,
          value: encodeButtonValue({ runId: run.id, stepId: toolsStepId(f.version) }),
          confirm: confirm({
            title: 'Dismiss the Tools checklist?',
            text: `Stops the reminders for ${run.pool}. The VMs still listed keep their old Tools; \`/xsupgrade tools ${run.pool}\` still shows them.`,
            confirm: 'Dismiss',
          }),
        }),
      ],
    });
  }
  blocks.push(
    context(
      `Read from VM_guest_metrics (PV drivers version) · checked ${clockTime(f.checkedAt, tz)} · ` +
        (open ? `a reminder follows until the list is empty or ${approversMention(pool)} dismiss it` : 'no more reminders'),
    ),
    runContext(run),
  );
  const text = f.note
    ? `${run.id} · ${run.pool}: Tools advice waits (R5.3)`
    : `${run.id} · ${run.pool}: XenServer Tools checklist, ${f.dismissed ? 'dismissed' : f.supersededBy ? 'no longer followed' : `${f.pending.length} VM(s) left`}`;
  return { text, blocks: withinBlockLimit(blocks) };
}

/** `/xsupgrade tools <pool>`: what the live pool shows now, and where the checklist is followed. */
export function toolsReply(view: ToolsView, link?: string): SlackMessage {
  const v = esc(shortVersion(view.needed));
  const head =
    view.pending.length === 0
      ? `:white_check_mark: *${esc(view.pool)}*: every host runs ${esc(view.label)} and every guest reporting Tools has ${v} or newer (R5.1)`
      : `:wrench: *${esc(view.pool)}*: every host runs ${esc(view.label)}; ${plural(view.pending.length, 'VM')} report Tools below ${v} (R5.1)`;
  const f = view.followUp;
  const where = f && view.runId
    ? `Followed in the thread of run ${esc(view.runId)}${link ? ` (<${link}|open>)` : ''}${f.dismissed ? ` · dismissed by ${who(f.dismissed.by)}` : ''}`
    : 'No run thread follows this list.';
  return { text: notificationText(`${view.pool}: ${view.pending.length} VM(s) with Tools below ${esc(view.needed)}`), blocks: withinBlockLimit([...sections([head, ...rows(view.pending)].join('\n')), context(`Read live from VM_guest_metrics · ${where}`)]) };
}
