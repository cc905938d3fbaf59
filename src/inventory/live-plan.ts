import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Plan, PoolSnapshot } from '../domain/types';
import { buildPlan, PlanOptions } from '../planner';
import { findTarget, resolveHostPath } from '../planner/paths';
import { RecordSource, readSnapshot } from './index';
import { readSessionPermissions, type SessionSource } from './rbac';
import { PluginCaller, readAppliedUpdates, testRepository } from './repository';

/**
 * Plan a live pool: read one snapshot (one get_all_records call per class), in automatic mode run testUrl on every host
 * that still needs upgrading (one host.call_plugin each), then the pure planner. The I/O half of `plan`, shared by
 * the CLI and the core.
 */
export async function planLivePool(
  client: RecordSource & PluginCaller & Partial<SessionSource>,
  opts: Omit<PlanOptions, 'repository'> & { repositoryUrl?: string },
  clock: Clock = systemClock,
  /** multi-hop (R1.4): the media of the hop this plan runs, chosen once the pool's versions are known (core/hop-media.ts) */
  chooseMedia?: (snapshot: PoolSnapshot) => { repositoryUrl?: string; intermediate: boolean; planOptions: Partial<PlanOptions> },
): Promise<{ plan: Plan; snapshot: PoolSnapshot }> {
  const snapshot = await readSnapshot(client, clock);
  // what the pool user may do, before anything is planned (issue 14; a client without sessions is not checked)
  const permissions = client.sessionRef ? await readSessionPermissions(client as SessionSource) : undefined;
  const media = chooseMedia?.(snapshot);
  const { repositoryUrl: ownUrl, ...withoutUrl } = opts;
  const rest = { ...withoutUrl, ...(media?.planOptions ?? {}) };
  const repositoryUrl = media?.intermediate ? media.repositoryUrl : ownUrl;
  let repository: PlanOptions['repository'];
  if ((opts.mode === 'automatic' || media?.intermediate) && repositoryUrl) {
    const target = findTarget(opts.paths, opts.target);
    const hosts = snapshot.hosts.filter((h) => h.live && (!target || resolveHostPath(target, h.version.product).kind !== 'done')).map((h) => h.ref);
    repository = { url: repositoryUrl, testResults: await testRepository(client, hosts, repositoryUrl), ...(await readAppliedUpdates(client, hosts)) };
  }
  return { plan: buildPlan(snapshot, { ...rest, ...(repository ? { repository } : {}), ...(permissions ? { permissions } : {}) }), snapshot };
}
