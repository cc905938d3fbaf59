import type { HostPlan, Plan, Precheck } from '../../domain/types';

/** Facts every rendering shows, computed once from the plan (text, JSON, Slack agree by construction). */

export function howLabel(plan: Plan): string {
  const iso = plan.mode === 'update' ? 'update ISO' : 'base ISO';
  return `${iso}, ${plan.mode} mode`;
}

export const shortId = (plan: Plan): string => plan.id.slice(0, 12);

export function bySeverity(plan: Plan): { blockers: Precheck[]; warnings: Precheck[]; notes: Precheck[] } {
  return {
    blockers: plan.prechecks.filter((p) => p.severity === 'blocker'),
    warnings: plan.prechecks.filter((p) => p.severity === 'warning'),
    notes: plan.prechecks.filter((p) => p.severity === 'info'),
  };
}

/** "way out" of a precheck in words, or '' when the bot's own fix needs no words */
export function wayOut(p: Precheck): string {
  switch (p.fix.kind) {
    case 'manual':
      return p.fix.guidance;
    case 'eject-cds':
      return 'the bot ejects them after your approval';
    case 'cycle-suspended-cds':
      return 'the bot does this after your approval, before any host goes down';
    case 'disable-ha':
      return 'the bot disables HA and re-enables it at the end';
    case 'suspend-vms':
      return 'suspended by the bot after your approval';
    case 'shutdown-vms':
      return 'shut down by the bot after your approval';
    default:
      return '';
  }
}

export function upgradeHosts(plan: Plan): HostPlan[] {
  return plan.hosts.filter((h) => !h.alreadyDone);
}

/** VMs the plan moves or stops (running VMs on the hosts it upgrades) */
export function vmsTouched(plan: Plan): number {
  const s = new Set<string>();
  for (const h of plan.hosts) {
    for (const m of h.migrations) s.add(m.vm);
    for (const st of h.stops) s.add(st.vm);
  }
  return s.size;
}

/** "4 VMs → xs-a2 (2), xs-a3 (2) · suspend vm-licence-srv" */
export function placementSummary(h: HostPlan, maxNames = 3): string {
  if (h.alreadyDone) return 'already done';
  const evac = h.migrations.filter((m) => m.from === h.host);
  const back = h.migrations.filter((m) => m.to === h.host);
  const parts: string[] = [];
  if (evac.length) {
    const count = new Map<string, number>();
    for (const m of evac) count.set(m.toName, (count.get(m.toName) ?? 0) + 1);
    const dest = [...count.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([n, c]) => `${n} (${c})`);
    parts.push(`${evac.length} VM${evac.length === 1 ? '' : 's'} → ${dest.length > 4 ? `${dest.slice(0, 4).join(', ')}, +${dest.length - 4} hosts` : dest.join(', ')}`);
  } else parts.push('no VM to move');
  for (const action of ['suspend', 'shutdown'] as const) {
    const names = h.stops.filter((s) => s.action === action).map((s) => s.vmName);
    if (names.length) parts.push(`${action === 'suspend' ? 'suspend' : 'shut down'} ${names.length > maxNames ? `${names.slice(0, maxNames).join(', ')} +${names.length - maxNames}` : names.join(', ')}`);
  }
  if (back.length) parts.push(`${back.length} back after`);
  return parts.join(' · ');
}

export function hostTitle(h: HostPlan): string {
  return `${h.name} (${h.isMaster ? 'master, ' : ''}${h.from.product} → ${h.to.product})`;
}

/** "2 h 10 min", "12 min" */
export function humanSeconds(s: number): string {
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

export function headline(plan: Plan): string {
  const hosts = upgradeHosts(plan);
  const master = hosts.find((h) => h.isMaster);
  return [
    `${hosts.length} host${hosts.length === 1 ? '' : 's'} to upgrade`,
    `${vmsTouched(plan)} running VMs to move or stop`,
    ...(master ? [`master ${master.name} first`] : []),
    `est. ${humanSeconds(plan.estimateSeconds)}`,
    `${plan.migrations.planned} live migrations (lower bound ${plan.migrations.lowerBound})`,
  ].join(' · ');
}

/**
 * Multi-hop (R1.4): one line per hop — its own stage, mode and media; unconfirmed rows marked (R1.6). Empty for a
 * direct plan.
 */
export function hopLines(plan: Plan): string[] {
  if (!plan.hops?.length) return [];
  return plan.hops.map((h) => {
    const how = `${h.kind === 'base-iso' ? 'base ISO' : 'update ISO'}, ${h.mode ? `${h.mode} mode` : 'no mode'}, ${h.media}`;
    const status =
      h.status === 'this'
        ? 'THIS PLAN'
        : h.status === 'done'
          ? `done${h.runId ? ` (run ${h.runId})` : ''}`
          : `planned from the live pool after hop ${h.index - 1}, started by a human`;
    const proof = h.confirmed ? h.rule : `${h.rule}, UNCONFIRMED: ${h.caveat ?? 'not in the vendor documentation the bot carries'}`;
    return `${h.index}. ${h.from.join('/')} → ${h.product}  ${h.label} (${how}) · ${status} · ${proof}`;
  });
}

export function hopsTitle(plan: Plan): string {
  const last = plan.hops?.[plan.hops.length - 1];
  return `Hops (${plan.hops?.length ?? 0}, to ${last?.label ?? plan.target.label})`;
}
