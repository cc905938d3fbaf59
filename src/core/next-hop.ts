/**
 * Between two hops of a multi-hop upgrade (R1.4). When a non-final hop's run is done, the engine stores
 * `nextHop: replanning` with the run's `done` state; then this module re-reads the live pool, makes the next hop's
 * plan from it (never the plan of hop 1's time), saves it as the pool's latest plan, records `planned` and posts it
 * in the run's thread. Nothing more happens until a human starts that plan: the Start is the gate between hops, and
 * every host of the next hop still waits at its own approval. A restart between hops finds `replanning` and
 * re-plans, or `planned` and announces the plan again.
 */
import type { Logger } from '../log';
import type { Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import type { Notifier } from '../domain/ports';
import type { Plan, PlanHop, Run, UpgradeMode } from '../domain/types';
import { isFinalHop } from '../planner/hops';
import { renderPlanText } from '../planner/render/text';
import type { Store } from '../store';
import type { auditor } from '../runner/audit';

export interface NextHopDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  audit: ReturnType<typeof auditor>;
  makePlan(cfg: PoolConfig, opts: { target?: string; mode?: UpgradeMode }): Promise<Plan>;
  notify(run: Run, what: keyof Notifier, fn: (n: Notifier) => Promise<void>): void;
}

/**
 * The hops an earlier run of the pool already did, when its plan was a non-final hop towards `finalTarget` and it
 * is the pool's latest run and done: the next plan continues that chain (its hops shown done).
 */
export function priorHopsOf(runs: Run[], finalTarget: string): PlanHop[] | undefined {
  const last = runs[0];
  if (!last || last.state !== 'done' || !last.plan.hops || isFinalHop(last.plan) || last.plan.finalTarget !== finalTarget) return undefined;
  return last.plan.hops
    .filter((h) => h.status !== 'later')
    .map((h) => (h.status === 'this' ? { ...h, status: 'done' as const, runId: last.id } : h));
}

/** Re-plan the next hop of `run` from the live pool, save and post it (idempotent per `nextHop` state). */
export async function planNextHop(d: NextHopDeps, cfg: PoolConfig, runId: string): Promise<void> {
  const run = await d.store.getRun(runId);
  if (!run || run.nextHop?.state !== 'replanning') return;
  const finalTarget = run.nextHop.finalTarget;
  const hop = run.plan.hops?.find((h) => h.status === 'this');
  // a later run of the pool (the next hop started from a plan made by hand, or anything else): never post a plan
  // over it; the chain is then in that run's hands
  const later = (await d.store.listRuns({ pool: run.pool })).find((r) => r.createdAt > run.createdAt && r.id !== run.id);
  if (later) {
    await d.store.updateRun(run.id, (r) => {
      if (r.nextHop?.state === 'replanning') r.nextHop = { ...r.nextHop, state: 'failed', at: d.clock.now(), runId: later.id, error: `run ${later.id} was started on the pool since; the next hop is not planned again` };
    });
    await d.audit(run.id, 'state', 'runner', `hop ${hop?.index ?? '?'} done; run ${later.id} already started on the pool: the next hop is not planned again`);
    return;
  }
  let plan: Plan;
  try {
    plan = await d.makePlan(cfg, { target: finalTarget });
  } catch (err) {
    const why = (err as Error).message;
    const failed = await d.store.updateRun(run.id, (r) => {
      if (r.nextHop?.state === 'replanning') r.nextHop = { ...r.nextHop, state: 'failed', at: d.clock.now(), error: why };
    });
    await d.audit(run.id, 'state', 'runner', `hop ${hop?.index ?? '?'} done; the next hop could not be planned: ${why}`);
    d.notify(failed, 'runEvent', (n) =>
      n.runEvent(failed, `Hop ${hop?.index ?? '?'} is done, but the pool could not be read to plan the next hop (${why}). Make it with \`/xsupgrade plan ${cfg.name}\` once the pool answers (R1.4).`),
    );
    return;
  }
  await d.store.savePlan(cfg.name, plan);
  const planned = await d.store.updateRun(run.id, (r) => {
    if (r.nextHop?.state === 'replanning') r.nextHop = { ...r.nextHop, state: 'planned', at: d.clock.now(), planId: plan.id, planMadeAt: plan.createdAt };
  });
  if (planned.nextHop?.state !== 'planned' || planned.nextHop.planId !== plan.id) return;
  const next = plan.hops?.find((h) => h.status === 'this');
  await d.audit(run.id, 'state', 'runner', `hop ${hop?.index ?? '?'} done; hop ${next?.index ?? '?'} planned from the live pool as plan ${plan.id.slice(0, 12)}; it starts only when someone starts it`, {
    plan: plan.id,
  });
  announce(d, planned, plan);
}

/** Post the next hop's plan in the run's thread (or, for a notifier without hopPlanned, as text). */
export function announce(d: Pick<NextHopDeps, 'notify'>, run: Run, plan: Plan): void {
  d.notify(run, 'runEvent', async (n) => {
    if (n.hopPlanned) await n.hopPlanned(run, plan);
    else await n.runEvent(run, `Next hop planned from the live pool (R1.4); start it to continue:\n${renderPlanText(plan, { steps: false })}`);
  });
}

/** After a restart: finish what was left between hops (re-plan, or announce a plan nobody started yet). */
export async function resumeBetweenHops(d: NextHopDeps, pools: Map<string, PoolConfig>): Promise<string[]> {
  const runs = (await d.store.listRuns({ states: ['done'] })).filter((r) => r.nextHop && (r.nextHop.state === 'replanning' || r.nextHop.state === 'planned'));
  const out: string[] = [];
  for (const run of runs) {
    const cfg = pools.get(run.pool);
    if (!cfg) continue;
    if (run.nextHop!.state === 'replanning') {
      await d.audit(run.id, 'resume', 'runner', `restarted between hops: planning the next hop from the live pool (R1.4)`);
      await planNextHop(d, cfg, run.id);
      out.push(run.id);
      continue;
    }
    const latest = await d.store.getLatestPlan(run.pool);
    const started = (await d.store.listRuns({ pool: run.pool })).some((r) => r.planHash === run.nextHop!.planId && r.plan.createdAt === run.nextHop!.planMadeAt);
    if (latest && latest.id === run.nextHop!.planId && latest.createdAt === run.nextHop!.planMadeAt && !started) {
      await d.audit(run.id, 'resume', 'runner', `restarted between hops: plan ${latest.id.slice(0, 12)} of the next hop still waits for a Start`);
      announce(d, run, latest);
      out.push(run.id);
    }
  }
  return out;
}
