import type { Plan, UpgradeMode } from '../domain/types';

/**
 * What makes a re-plan at a window's start need a new approval (pure). Ignored on purpose: createdAt, estimates,
 * migration destinations (the runner re-places VMs under the same rules, R3.1) and warnings/info prechecks.
 * Returns one sentence per difference; empty when the approved plan still holds.
 */
export function planDifferences(approved: Plan, fresh: Plan): string[] {
  const out: string[] = [];
  if (approved.target.product !== fresh.target.product || approved.target.platform !== fresh.target.platform) {
    out.push(`target changed from ${approved.target.label} to ${fresh.target.label}`);
  }
  if (approved.mode !== fresh.mode) out.push(`upgrade mode changed from ${approved.mode} to ${fresh.mode}`);
  if (approved.returnPolicy !== fresh.returnPolicy) out.push(`return policy changed from ${approved.returnPolicy} to ${fresh.returnPolicy}`);

  const blockers = (p: Plan) =>
    new Map(
      p.prechecks
        .filter((c) => c.severity === 'blocker')
        .map((c) => [`${c.id}|${[...c.subjects.hosts].sort().join(',')}|${[...c.subjects.vms].sort().join(',')}`, c] as const),
    );
  const before = blockers(approved);
  const after = blockers(fresh);
  const added = [...after].filter(([k]) => !before.has(k)).map(([, c]) => `${c.rule} ${c.message}`);
  const removed = [...before].filter(([k]) => !after.has(k)).map(([, c]) => `${c.rule} ${c.message}`);
  if (added.length) out.push(`new blockers: ${added.join('; ')}`);
  if (removed.length) out.push(`blockers gone: ${removed.join('; ')}`);
  if (approved.executable !== fresh.executable) out.push(fresh.executable ? 'the plan became executable' : 'the plan is no longer executable');

  const order = (p: Plan) => p.hosts.filter((h) => !h.alreadyDone).map((h) => h.name);
  const ob = order(approved);
  const oa = order(fresh);
  if (ob.join(',') !== oa.join(',')) out.push(`host order changed from [${ob.join(', ')}] to [${oa.join(', ')}]`);

  const stops = (p: Plan) => new Set(p.hosts.flatMap((h) => h.stops.map((s) => `${s.vmName} ${s.action}`)));
  const sb = stops(approved);
  const sa = stops(fresh);
  const newStops = [...sa].filter((s) => !sb.has(s));
  const goneStops = [...sb].filter((s) => !sa.has(s));
  if (newStops.length) out.push(`VMs to stop added: ${newStops.sort().join(', ')}`);
  if (goneStops.length) out.push(`VMs to stop removed: ${goneStops.sort().join(', ')}`);
  return out;
}

export function planDiffers(approved: Plan, fresh: Plan): boolean {
  return planDifferences(approved, fresh).length > 0;
}

/**
 * The options of the re-plan at a window's opening: towards the approved plan's target and mode, as core.start
 * re-makes a plan (src/core/index.ts startRun): a plan made with options of its own (`plan pool-a 7.6 manual`)
 * re-planned with the pools file's defaults would read as changed on an unchanged pool. A hop of a multi-hop chain is
 * re-planned towards the chain's final target, its mode coming from the pools file's hops (R1.4).
 */
export function replanOptions(approved: Plan): { target?: string; mode?: UpgradeMode } {
  if (approved.finalTarget) return { target: approved.finalTarget };
  return { ...(approved.target.product ? { target: approved.target.product } : {}), mode: approved.mode };
}
