import type { Plan } from '../../domain/types';

/** The JSON schema tag; bump the number on any incompatible change (docs/plan-json.md). */
export const PLAN_JSON_SCHEMA = 'xsupgrade.plan/1';

export interface PlanJson extends Plan {
  schema: typeof PLAN_JSON_SCHEMA;
}

/**
 * The plan as stable JSON (documented in docs/plan-json.md): `schema` first, then the plan's fields in a fixed
 * order, every absent optional field omitted. The object round-trips through JSON.stringify/JSON.parse.
 */
export function planToJson(plan: Plan): PlanJson {
  return JSON.parse(
    JSON.stringify({
      schema: PLAN_JSON_SCHEMA,
      id: plan.id,
      pool: plan.pool,
      target: plan.target,
      mode: plan.mode,
      returnPolicy: plan.returnPolicy,
      createdAt: plan.createdAt,
      executable: plan.executable,
      migrations: plan.migrations,
      estimateSeconds: plan.estimateSeconds,
      prechecks: plan.prechecks,
      hosts: plan.hosts,
      steps: plan.steps,
      toolsUpgrade: plan.toolsUpgrade,
      finalTarget: plan.finalTarget,
      hops: plan.hops,
    }),
  ) as PlanJson;
}
