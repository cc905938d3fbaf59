import type { Plan, PoolSnapshot, Precheck } from '../../src/domain/types';
import { buildPlan, loadUpgradePaths, PlanOptions } from '../../src/planner';

export const PATHS = loadUpgradePaths();

/** automatic mode with a repository that passed testUrl on every host, unless overridden */
export function plan(snapshot: PoolSnapshot, over: Partial<PlanOptions> = {}): Plan {
  const testResults = Object.fromEntries(snapshot.hosts.map((h) => [h.ref, { ok: true }]));
  return buildPlan(snapshot, {
    pool: snapshot.pool.name,
    target: '7.6',
    mode: 'automatic',
    returnPolicy: 'none',
    paths: PATHS,
    repository: { url: 'http://repo.example/xs76/', testResults },
    ...over,
  });
}

export const checks = (p: Plan, id: string): Precheck[] => p.prechecks.filter((c) => c.id === id);
export const only = (p: Plan, id: string): Precheck => {
  const c = checks(p, id);
  if (c.length !== 1) throw new Error(`expected one precheck ${id}, got ${c.length}: ${p.prechecks.map((x) => x.id).join(', ')}`);
  return c[0];
};
export const blockers = (p: Plan): string[] => p.prechecks.filter((c) => c.severity === 'blocker').map((c) => c.id);
