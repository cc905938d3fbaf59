/**
 * One mode inference for a scenario file, shared by `xsupgrade plan --scenario` and `xsupgrade rehearse`, so the
 * two never disagree about how the same pool is upgraded:
 *   - an update ISO that covers every host not yet on its version → update (R1.3: 7.4/7.5 take 7.6 as an update);
 *   - otherwise a repository → automatic (R3.9), with the first reachable one, else the first declared: an
 *     unreachable repository stays automatic, so its testUrl fails and the plan blocks — never a silent switch to
 *     manual mode;
 *   - neither → manual (the operator boots each host from the media).
 * An explicit --mode wins, and is validated here.
 */
import { ConfigError, type PoolConfig } from '../config/pools';
import { compareVersions } from '../domain/versions';
import type { UpgradeMode } from '../domain/types';
import type { Scenario } from '../sim';

export const UPGRADE_MODES: readonly UpgradeMode[] = ['automatic', 'manual', 'update'];

export function parseMode(value: unknown, flag = '--mode'): UpgradeMode {
  if (typeof value === 'string' && (UPGRADE_MODES as readonly string[]).includes(value)) return value as UpgradeMode;
  throw new ConfigError(`${flag} must be automatic, manual or update, not "${String(value)}"`);
}

export interface ScenarioUpgrade {
  mode: UpgradeMode;
  /** automatic: the repository handed to the plugin (absent when the scenario lists none: the plan blocks, R3.9) */
  repositoryUrl?: string;
  /** update: the update ISO's name */
  updateIso?: string;
  /** the version the repository or update installs ('7.6' when the scenario names none) */
  target: string;
}

export function scenarioUpgrade(scenario: Scenario, requested?: UpgradeMode): ScenarioUpgrade {
  // media booted by hand for a newer version than any network repository: the final hop is manual (R1.4, R3.7)
  const split = splitRepositories(scenario.repositories);
  if (!requested && split.manualFinal && scenario.updates.length === 0) return { mode: 'manual', target: split.manualFinal.version };
  const repo = split.repo;
  const pending = scenario.hosts.map((h) => h.productVersion);
  // an update applies to a host already on its version (nothing to do) or on one of its `from` versions
  const covers = (u: Scenario['updates'][number]): boolean =>
    pending.every((v) => compareVersions(v, u.version) >= 0 || !u.from || u.from.some((f) => compareVersions(f, v) === 0));
  const covering = scenario.updates.find(covers);
  const update = covering ?? scenario.updates[0];
  const mode: UpgradeMode = requested ?? (covering ? 'update' : repo ? 'automatic' : update ? 'update' : 'manual');
  const target = (mode === 'update' ? (update ?? repo) : (repo ?? update))?.version ?? '7.6';
  if (mode === 'automatic') return { mode, ...(repo ? { repositoryUrl: repo.url } : {}), target };
  if (mode === 'update') return { mode, updateIso: update?.name ?? 'update', target };
  return { mode, target };
}

/** The pool's upgrade settings for a rehearsal: automatic mode cannot be rehearsed without a repository. */
export function rehearsalUpgrade(u: ScenarioUpgrade): PoolConfig['upgrade'] {
  if (u.mode === 'automatic') {
    if (!u.repositoryUrl) throw new ConfigError('--mode automatic needs an install repository, and the scenario lists none (repositories:)');
    return { mode: 'automatic', repositoryUrl: u.repositoryUrl };
  }
  return u.mode === 'update' ? { mode: 'update', updateIso: u.updateIso ?? 'update' } : { mode: 'manual' };
}

export interface RepoLike {
  url: string;
  version: string;
  reachable: boolean;
  manualOnly?: boolean;
}

/**
 * Which repository is the final target's and which are intermediate hops' media (R1.4), shared by rehearsals,
 * `plan --scenario` and the demo pools file. Without media booted by hand: the first reachable network repository
 * (else the first one: an unreachable repository blocks on testUrl, never a silent switch to manual), hops none.
 * With media booted by hand (`manualOnly`) newer than every network repository: the final hop is manual to its
 * version, and the reachable network repositories older than it are the hops' media, one per version.
 */
export function splitRepositories<R extends RepoLike>(repos: R[]): { repo?: R; manualFinal?: R; hops: R[] } {
  const network = repos.filter((r) => !r.manualOnly);
  const manual = repos.filter((r) => r.manualOnly).sort((a, b) => compareVersions(b.version, a.version))[0];
  if (manual && network.every((r) => compareVersions(r.version, manual.version) < 0)) {
    const hops = network.filter((r) => r.reachable).filter((r, i, all) => all.findIndex((o) => compareVersions(o.version, r.version) === 0) === i);
    return { manualFinal: manual, hops };
  }
  return { repo: network.find((r) => r.reachable) ?? network[0], hops: [] };
}

/** Multi-hop (R1.4): the pools file's `hops` for a scenario (splitRepositories). */
export function scenarioHops(scenario: Scenario): NonNullable<PoolConfig['hops']> {
  return splitRepositories(scenario.repositories).hops.map((r) => ({ target: r.version, upgrade: { mode: 'automatic', repositoryUrl: r.url } }));
}
