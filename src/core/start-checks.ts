import type { CoreErrorCode } from '../domain/ports';
import type { Plan, Run } from '../domain/types';

/**
 * Which plan a start may run (issue 10.6), as a pure function of the pool's latest plan, its runs and what the user
 * saw: a Start button carries the plan's hash and the time it was made. Only the latest plan starts, and only once;
 * the live-pool re-check (same hash on a fresh read) is Core's, under the pool lease.
 */
export function startRefusal(
  pool: string,
  latest: Plan,
  runs: Run[],
  seen: { planHash?: string; planMadeAt?: number },
): { code: CoreErrorCode; error: string } | undefined {
  const short = (id: string) => id.slice(0, 12);
  if (seen.planHash && !(seen.planHash.length >= 8 && latest.id.startsWith(seen.planHash))) {
    return { code: 'conflict', error: `the latest plan of ${pool} is ${short(latest.id)}, not ${short(seen.planHash)}: review the new plan` };
  }
  // a button on an older plan message of an unchanged pool carries the same hash: its time tells it apart
  if (seen.planMadeAt !== undefined && seen.planMadeAt !== latest.createdAt) {
    const at = `${new Date(latest.createdAt).toISOString().slice(0, 16)}Z`;
    return { code: 'conflict', error: `this plan message is not the latest plan of ${pool} (a newer plan was made at ${at}): use the Start button of the latest plan` };
  }
  // a plan starts one run: after that run (rolled back, aborted, done), starting again needs a new plan
  const used = runs.find((r) => r.planHash === latest.id && r.plan.createdAt === latest.createdAt);
  if (used) {
    return {
      code: 'conflict',
      error: `plan ${short(latest.id)} was already started as run ${used.id} (now ${used.state}): a plan starts one run; make a new plan (\`/xsupgrade plan ${pool}\`) and start that`,
    };
  }
  if (!latest.executable) {
    const blockers = latest.prechecks.filter((p) => p.severity === 'blocker').map((p) => `${p.rule} ${p.message}`);
    return { code: 'blocked', error: `plan ${short(latest.id)} has blockers: ${blockers.join('; ')}` };
  }
  return undefined;
}
