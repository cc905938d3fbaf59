import type { KnownBlock } from '@slack/types';
import type { Plan, Precheck } from '../../domain/types';
import {
  bySeverity,
  headline,
  hopLines,
  hopsTitle,
  hostTitle,
  howLabel,
  humanSeconds,
  placementSummary,
  shortId,
  upgradeHosts,
  wayOut,
} from '../../planner/render/summary';
import { MAX_CHARS, SlackMessage, button, confirm, context, esc, messageChars, packLines, truncate, who } from './common';

export { MAX_CHARS, messageChars } from './common';
import { ACTION, encodeButtonValue } from './ids';
import { updateHostLines, updatesTitle } from '../../planner/render/updates';
import { hostGateEffect, type GateEffect } from './progress';

/**
 * The plan message (slack-ux.md §1): blockers first with rule and way out, then warnings needing approval, notes,
 * the host order with a placement summary, and Start / Re-plan. Start only when the plan is executable.
 * Every message stays within Slack's 50 blocks and MAX_CHARS characters of text; what does not fit in the
 * summary (long precheck lists, big pools, the step list) goes to `threadMessages`, posted in the thread.
 */
export const MAX_BLOCKS = 50;
const SECTION_CHARS = 2900;
/** how much goes inline, from the roomiest layout to the tightest; the first that fits the limits wins */
const LAYOUTS = [
  { items: 6, itemChars: 600, hosts: 12 },
  { items: 4, itemChars: 300, hosts: 8 },
  { items: 2, itemChars: 200, hosts: 5 },
];

export interface PlanMessages extends SlackMessage {
  threadMessages: SlackMessage[];
}

const item = (p: Precheck, max = 600): string => {
  const w = p.severity === 'info' ? '' : wayOut(p);
  return truncate(`• \`${p.rule}\` ${esc(p.message)}${w ? ` → _${esc(w)}_` : ''}`, max);
};

export function planBlocks(plan: Plan, opts: { requestedBy: string }): PlanMessages {
  let m: PlanMessages | undefined;
  for (const layout of LAYOUTS) {
    m = layoutPlan(plan, opts.requestedBy, layout);
    if (m.blocks.length <= MAX_BLOCKS && messageChars(m) <= MAX_CHARS) return m;
  }
  return m!; // the tightest layout is bounded well below the limits (3 groups × 2 items × 200 + 5 hosts)
}

function layoutPlan(plan: Plan, requestedBy: string, layout: (typeof LAYOUTS)[number]): PlanMessages {
  const INLINE_ITEMS = layout.items;
  const INLINE_HOSTS = layout.hosts;
  const { blockers, warnings, notes } = bySeverity(plan);
  const hosts = upgradeHosts(plan);
  const id = shortId(plan);
  const fallback = `Plan ${id} for ${plan.pool} → ${plan.target.label}: ${plan.executable ? 'ready to start' : `${blockers.length} blocker(s)`}`;
  const blocks: KnownBlock[] = [];
  const thread: SlackMessage[] = [];
  const moreInThread: string[] = [];

  blocks.push({
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: `:clipboard: *Plan for ${esc(plan.pool)} → ${esc(plan.target.label)}* (${howLabel(plan)}) · plan \`${id}\` · by ${who(requestedBy)}`,
    },
  });
  blocks.push(context(esc(headline(plan))));

  const group = (icon: string, title: string, list: Precheck[], always: boolean): void => {
    if (!list.length && !always) return;
    const shown = list.slice(0, INLINE_ITEMS).map((p) => item(p, layout.itemChars));
    if (list.length > INLINE_ITEMS) {
      shown.push(`_… and ${list.length - INLINE_ITEMS} more in the thread_`);
      moreInThread.push(title);
      thread.push(...packLines(`${title} (${list.length}) — plan ${id}`, list.map((p) => item(p)), `${title} for ${plan.pool}, plan ${id}`));
    }
    const text = [`${icon} *${title} (${list.length})*`, ...shown].join('\n');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(text, SECTION_CHARS) } });
  };
  // R1.4 multi-hop: each hop its own stage, with its mode and media; unconfirmed rows marked (R1.6)
  const hopText = hopLines(plan);
  if (hopText.length) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate([`:twisted_rightwards_arrows: *${esc(hopsTitle(plan))}*`, ...hopText.map((l) => esc(l))].join('\n'), SECTION_CHARS) } });
  }
  group(':no_entry:', 'Blockers', blockers, true);
  group(':warning:', 'Needs your approval', warnings, true);
  group(':information_source:', 'Notes', notes, false);

  if (hosts.length) {
    const hostLines = hosts.map((h, i) => {
      const gate = GATE_NOUN[hostGateEffect(plan, h)];
      return truncate(`${i + 1}. *${esc(hostTitle(h))}*  ${esc(placementSummary(h))}  · approval before ${h.stops.length ? `any VM is stopped and before ${gate}` : gate}`, 400);
    });
    const shown = hostLines.slice(0, INLINE_HOSTS);
    if (hostLines.length > INLINE_HOSTS) {
      shown.push(`_… ${hostLines.length - INLINE_HOSTS} more hosts in the thread_`);
      moreInThread.push('Order');
      thread.push(...packLines(`Order (${hosts.length} hosts) — plan ${id}`, hostLines, `Host order for ${plan.pool}, plan ${id}`));
    }
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(['*Order*', ...shown].join('\n'), SECTION_CHARS) } });
  }
  const hotfixes = updatesTitle(plan);
  if (hotfixes) {
    const lines = updateHostLines(plan).map((l) => `• ${esc(l)}`);
    const shown = lines.slice(0, INLINE_HOSTS);
    if (lines.length > INLINE_HOSTS) {
      shown.push(`_… ${lines.length - INLINE_HOSTS} more hosts in the thread_`);
      moreInThread.push('Hotfixes');
      thread.push(...packLines(`Hotfixes (${lines.length} hosts) — plan ${id}`, lines, `Hotfixes for ${plan.pool}, plan ${id}`));
    }
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate([`:package: *${esc(hotfixes)}*`, ...shown].join('\n'), SECTION_CHARS) } });
  }
  const done = plan.hosts.filter((h) => h.alreadyDone);
  if (done.length) blocks.push(context(truncate(`Already on ${esc(plan.target.product)}: ${esc(done.map((h) => h.name).join(', '))}`, 1900)));

  if (plan.steps.length) {
    const stepLines = plan.steps.map((s) => `\`${esc(s.id)}\` ${humanSeconds(s.expectedSeconds)} — ${esc(s.description)}`);
    thread.push(...packLines(`Steps (${plan.steps.length}) — plan ${id}`, stepLines, `Steps for ${plan.pool}, plan ${id}`));
  }

  const elements = [];
  if (plan.executable) {
    elements.push(
      button({
        text: 'Start upgrade',
        actionId: ACTION.planStart,
        value: encodeButtonValue({ pool: plan.pool, planHash: plan.id, planAt: plan.createdAt }),
        style: 'primary',
        confirm: confirm({
          title: `Start ${plan.pool} → ${plan.target.product}?`,
          text: `Runs plan ${id}: ${hosts.length} host(s), master first. Each host still waits for an approver before it is taken down or restarted.${hopNote(plan)}`,
          confirm: 'Start',
        }),
      }),
    );
  }
  elements.push(button({ text: 'Re-plan', actionId: ACTION.planReplan, value: encodeButtonValue({ pool: plan.pool }) }));
  blocks.push({ type: 'actions', elements });
  if (thread.length) blocks.push(context(`Details in the thread: ${moreInThread.length ? `${moreInThread.join(', ')}, ` : ''}steps (${thread.length} message${thread.length === 1 ? '' : 's'})`));
  return { text: fallback, blocks, threadMessages: thread };
}

/** The Start confirmation of one hop of a chain (R1.4): which hop, and that the next one is started separately. */
function hopNote(plan: Plan): string {
  const current = plan.hops?.find((h) => h.status === 'this');
  if (!plan.hops || !current) return '';
  const next = current.index < plan.hops.length ? ` Hop ${current.index + 1} is planned again from the live pool afterwards and needs its own Start.` : '';
  return ` This is hop ${current.index} of ${plan.hops.length}.${next}`;
}

/** What a host's approval lets happen to it, as its gate says (progress.ts hostGateEffect). */
const GATE_NOUN: Record<GateEffect, string> = {
  shutdown: 'its shutdown',
  installer: 'its reboot into the installer',
  update: 'its reboot',
  reboot: 'its reboot',
  toolstack: 'its toolstack restart',
  none: 'its updates',
};
