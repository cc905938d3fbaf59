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
  // repositories older than the newest version the scenario offers are the media of intermediate hops (R1.4)
  const finals = scenario.repositories.filter((r) => !isHopMedia(scenario, r));
  const network = finals.filter((r) => !r.manualOnly);
  const repo = network.find((r) => r.reachable) ?? network[0];
  if (!requested && !repo && finals.length > 0 && scenario.updates.length === 0) return { mode: 'manual', target: finals[0]!.version };
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

/** The newest version a scenario's repositories and updates install: the final target of its upgrade. */
function newestVersion(scenario: Scenario): string | undefined {
  return [...scenario.repositories.map((r) => r.version), ...scenario.updates.map((u) => u.version)].sort(compareVersions).pop();
}

function isHopMedia(scenario: Scenario, r: Scenario['repositories'][number]): boolean {
  const newest = newestVersion(scenario);
  return !!newest && compareVersions(r.version, newest) < 0;
}

/**
 * Multi-hop (R1.4): the pools file's `hops` for a scenario — every repository older than the newest version it
 * offers is the media of the intermediate target of its version (automatic, or manual for media booted by hand).
 */
export function scenarioHops(scenario: Scenario): NonNullable<PoolConfig['hops']> {
  const out: NonNullable<PoolConfig['hops']> = [];
  for (const r of scenario.repositories.filter((x) => isHopMedia(scenario, x))) {
    if (out.some((h) => compareVersions(h.target, r.version) === 0)) continue;
    out.push({ target: r.version, upgrade: r.manualOnly ? { mode: 'manual' } : { mode: 'automatic', repositoryUrl: r.url } });
  }
  return out;
}
