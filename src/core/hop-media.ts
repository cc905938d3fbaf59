/**
 * Multi-hop (R1.4): which media a plan uses. A plan that is an intermediate hop runs with that hop's media (the pools
 * file's `hops`), tested as its own (testUrl); the planner gets every hop's mode and media in words and the hops an
 * earlier run of the pool already did. Shared by the core and `xsupgrade plan`.
 */
import type { PoolConfig } from '../config/pools';
import type { PoolSnapshot, Run, UpgradeMode } from '../domain/types';
import type { PlanOptions } from '../planner/context';
import { resolveChain } from '../planner/hops';
import { findTarget, type UpgradePathTable } from '../planner/paths';
import { priorHopsOf } from './next-hop';

/** The media of a pools-file upgrade setting, in words for the plan's hop list (no credentials: the URL has none). */
function mediaWords(u: PoolConfig['upgrade']): string {
  return u.mode === 'automatic' ? u.repositoryUrl : u.mode === 'update' ? `update ${u.updateIso}` : 'the base install ISO, booted by hand';
}

/**
 * Multi-hop (R1.4): the planner's options for the chain (each hop's mode and media from the pools file, the hops an
 * earlier run of the pool already did) and the upgrade setting of the hop this plan runs.
 */
export function hopMediaFor(
  cfg: Pick<PoolConfig, 'upgrade' | 'hops'>,
  paths: UpgradePathTable,
  snapshot: PoolSnapshot,
  target: string,
  mode: UpgradeMode,
  runs: Run[],
): { upgrade?: PoolConfig['upgrade']; intermediate: boolean; planOptions: Partial<PlanOptions> } {
  const final = findTarget(paths, target);
  if (!final) return { upgrade: cfg.upgrade, intermediate: false, planOptions: {} };
  const hopMedia: NonNullable<PlanOptions['hopMedia']> = {};
  for (const h of cfg.hops ?? []) {
    const t = findTarget(paths, h.target);
    if (t) hopMedia[t.id] = { mode: h.upgrade.mode, media: mediaWords(h.upgrade) };
  }
  const priorHops = priorHopsOf(runs, final.id);
  const planOptions: Partial<PlanOptions> = {
    ...(mode === cfg.upgrade.mode ? { media: mediaWords(cfg.upgrade) } : {}),
    ...(Object.keys(hopMedia).length ? { hopMedia } : {}),
    ...(priorHops ? { priorHops } : {}),
  };
  const chain = resolveChain(paths, final, snapshot.hosts.map((h) => h.version.product), { mode, ...planOptions });
  const current = chain.current;
  if (!current || current.target === final.id) return { upgrade: cfg.upgrade, intermediate: false, planOptions };
  const hop = (cfg.hops ?? []).find((h) => findTarget(paths, h.target)?.id === current.target);
  return { ...(hop ? { upgrade: hop.upgrade } : {}), intermediate: true, planOptions };
}

