import type { Plan, Precheck } from '../../domain/types';
import { bySeverity, headline, hopLines, hopsTitle, hostTitle, howLabel, humanSeconds, placementSummary, shortId, upgradeHosts, wayOut } from './summary';

/** The plan for a terminal: what blocks it (with rule and way out), what needs approval, notes, order, steps. */
export function renderPlanText(plan: Plan, opts: { steps?: boolean } = {}): string {
  const { blockers, warnings, notes } = bySeverity(plan);
  const line = (p: Precheck): string[] => {
    const out = [`  ${p.rule.padEnd(5)} ${p.message}`];
    const w = wayOut(p);
    if (w && p.severity !== 'info') out.push(`        → ${w}`);
    return out;
  };
  const out: string[] = [];
  out.push(`Plan for ${plan.pool} → ${plan.target.label} (${howLabel(plan)})   plan ${shortId(plan)}`);
  out.push(headline(plan));
  out.push(plan.executable ? 'Executable: yes' : `Executable: NO — ${blockers.length} blocker${blockers.length === 1 ? '' : 's'}`);
  const hops = hopLines(plan);
  if (hops.length) out.push('', hopsTitle(plan), ...hops.map((l) => `  ${l}`));
  out.push('', `Blockers (${blockers.length})`, ...blockers.flatMap(line));
  out.push('', `Needs your approval (${warnings.length})`, ...warnings.flatMap(line));
  out.push('', `Notes (${notes.length})`, ...notes.flatMap(line));
  const hosts = upgradeHosts(plan);
  out.push('', 'Order');
  hosts.forEach((h, i) => out.push(`  ${String(i + 1).padStart(2)}. ${hostTitle(h).padEnd(36)} ${placementSummary(h, 6)}`));
  const done = plan.hosts.filter((h) => h.alreadyDone);
  if (done.length) out.push(`      already on ${plan.target.product}: ${done.map((h) => h.name).join(', ')}`);
  if (opts.steps !== false && plan.steps.length) {
    out.push('', 'Steps');
    const w = Math.max(...plan.steps.map((s) => s.id.length));
    for (const s of plan.steps) out.push(`  ${s.id.padEnd(w)}  ${humanSeconds(s.expectedSeconds).padStart(9)}  ${s.description}`);
  }
  return out.join('\n');
}
