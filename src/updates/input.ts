/** R3.10: what planning needs from the update repository and the pool, read before the pure planner runs. */
import type { PlanUpdate, Ref } from '../domain/types';

/** What the core read before planning (PlanOptions.updates). */
export interface UpdatesInput {
  /** the pools file's updateRepository */
  repository: string;
  updates: Array<PlanUpdate & { requires: { version: string; test: 'eq' | 'ge' } }>;
  /** ISOs or the repository that could not be read (blockers) */
  problems: string[];
  /** per host, uuids of the updates applied now (pool_update.hosts); absent when not read */
  applied?: Record<Ref, string[]>;
  /** uuid → name of every update the pool knows (names in messages) */
  poolNames?: Record<string, string>;
}
