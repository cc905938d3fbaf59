import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Plan, PoolSnapshot } from '../domain/types';
import { buildPlan, PlanOptions } from '../planner';
import { findTarget, resolveHostPath } from '../planner/paths';
import { RecordSource, readSnapshot } from './index';
import { PluginCaller, readAppliedUpdates, testRepository } from './repository';

/**
 * Plan a live pool: read one snapshot (one get_all_records call per class), in automatic mode run testUrl on every host
 * that still needs upgrading (one host.call_plugin each), then the pure planner. The I/O half of `plan`, shared by
 * the CLI and the core.
 */
export async function planLivePool(
  client: RecordSource & PluginCaller,
  opts: Omit<PlanOptions, 'repository'> & { repositoryUrl?: string },
  clock: Clock = systemClock,
): Promise<{ plan: Plan; snapshot: PoolSnapshot }> {
  const snapshot = await readSnapshot(client, clock);
  const { repositoryUrl, ...rest } = opts;
  let repository: PlanOptions['repository'];
  if (opts.mode === 'automatic' && repositoryUrl) {
    const target = findTarget(opts.paths, opts.target);
    const hosts = snapshot.hosts.filter((h) => h.live && (!target || resolveHostPath(target, h.version.product).kind !== 'done')).map((h) => h.ref);
    repository = { url: repositoryUrl, testResults: await testRepository(client, hosts, repositoryUrl), ...(await readAppliedUpdates(client, hosts)) };
  }
  return { plan: buildPlan(snapshot, { ...rest, ...(repository ? { repository } : {}) }), snapshot };
}
