/**
 * `xsupgrade plan <pool> [--target 7.6] [--mode automatic|manual|update] [--return none|original] [--json]
 *                       [--scenario <file>]`
 * Plans a configured pool (pools file from XSUPGRADE_POOLS), or with --scenario a simulated pool started in-process
 * from a scenario file. Exit code: 0 executable, 2 blocked (at least one blocker), 1 error (one line on stderr).
 */
import { ScaledClock } from '../clock';
import { ConfigError, loadPoolsFile, PoolConfig, repositorySecrets, resolveSecret } from '../config/pools';
import { scenarioHops, scenarioUpgrade, type ScenarioUpgrade } from '../core/scenario-mode';
import { hopMediaFor } from '../core/hop-media';
import { repositoryUrlWithCredentials } from '../core/runtime';
import type { PoolSnapshot, ReturnPolicy, UpgradeMode } from '../domain/types';
import type { Scenario } from '../sim';
import { planLivePool } from '../inventory/live-plan';
import { loadUpgradePaths } from '../planner';
import { planToJson } from '../planner/render/json';
import { renderPlanText } from '../planner/render/text';
import { parseCommandArgs, UsageError, usageLine } from './args';
import { SPECS } from './specs';

export const USAGE = usageLine(SPECS.plan);

interface PlanArgs {
  pool?: string;
  target?: string;
  mode?: UpgradeMode;
  returnPolicy?: ReturnPolicy;
  json: boolean;
  scenario?: string;
}

export function parsePlanArgs(args: string[]): PlanArgs {
  const { positional, opts } = parseCommandArgs(SPECS.plan, args);
  const out: PlanArgs = { json: opts.json === true };
  if (positional[0] !== undefined) out.pool = positional[0];
  if (typeof opts.target === 'string') out.target = opts.target;
  if (typeof opts.mode === 'string') out.mode = opts.mode as UpgradeMode;
  if (typeof opts.return === 'string') out.returnPolicy = opts.return as ReturnPolicy;
  if (typeof opts.scenario === 'string') out.scenario = opts.scenario;
  if (!out.pool && !out.scenario) throw new UsageError('which pool? name one from the pools file, or give --scenario <file>');
  return out;
}

/** The scenario's inferred upgrade as a pools-file setting (automatic without a repository: none to choose). */
function rehearsalUpgradeOrManual(u: ScenarioUpgrade): PoolConfig['upgrade'] {
  if (u.mode === 'automatic') return u.repositoryUrl ? { mode: 'automatic', repositoryUrl: u.repositoryUrl } : { mode: 'manual' };
  return u.mode === 'update' ? { mode: 'update', updateIso: u.updateIso ?? 'update' } : { mode: 'manual' };
}

/** The repository URL handed to the plugin, with the HTTP/FTP server's credentials (never the pool's, R3.9). */
function repositoryUrl(pool: PoolConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (pool.upgrade.mode !== 'automatic') return undefined;
  const { repositoryUrl: url, repositoryUsernameEnv, repositoryPasswordEnv } = pool.upgrade;
  if (!repositoryUsernameEnv || url.startsWith('nfs:')) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(resolveSecret(repositoryUsernameEnv, env));
  if (repositoryPasswordEnv) u.password = encodeURIComponent(resolveSecret(repositoryPasswordEnv, env));
  return u.toString();
}

export async function run(args: string[], io: { out?: (s: string) => void; err?: (s: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => console.log(s));
  const err = io.err ?? ((s: string) => console.error(s));
  const env = io.env ?? process.env;
  let cleanup: Array<() => Promise<unknown>> = [];
  try {
    const a = parsePlanArgs(args);
    const paths = loadUpgradePaths();
    const { XenApiClient } = await import('../xenapi');
    let pool: PoolConfig | undefined;
    if (env.XSUPGRADE_POOLS) {
      const file = loadPoolsFile(env.XSUPGRADE_POOLS);
      pool = file.pools.find((p) => p.name === a.pool);
      if (!pool && !a.scenario) throw new ConfigError(`${env.XSUPGRADE_POOLS}: no pool "${a.pool}" (configured: ${file.pools.map((p) => p.name).join(', ')})`);
    }

    const clock = new ScaledClock(a.scenario ? 1000 : 1);
    if (!env.XSUPGRADE_POOLS && !a.scenario) {
      // no pools file: the demo pools of `npm start`, on the simulator in this process (issue 14)
      const { startDemoPools, demoScenarioFiles } = await import('../sandbox/demo-pools');
      const names = [...demoScenarioFiles().keys()];
      if (!names.includes(a.pool!)) throw new ConfigError(`no pool "${a.pool}": XSUPGRADE_POOLS is not set, so the demo pools are used (${names.join(', ')})`);
      err(`xsupgrade plan: XSUPGRADE_POOLS is not set: planning the demo pool ${a.pool} of \`npm start\` on the simulator (set XSUPGRADE_POOLS for your pools)`);
      const demo = await startDemoPools({ clock, env, only: [a.pool!] });
      cleanup.push(() => demo.stop());
      pool = demo.pools.find((p) => p.name === a.pool);
    }

    let client: InstanceType<typeof XenApiClient>;
    let poolName: string;
    let repoUrl: string | undefined;
    let inferred: ScenarioUpgrade | undefined;
    let scenarioLoaded: Scenario | undefined;
    if (a.scenario) {
      const { loadScenario, startSimulator } = await import('../sim');
      const scenario = loadScenario(a.scenario);
      scenarioLoaded = scenario;
      const sim = await startSimulator(scenario, { clock });
      cleanup.push(() => sim.stop());
      poolName = a.pool ?? sim.name;
      client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, clock });
      // the same inference as `rehearse` of this file: an unreachable repository blocks, it never means manual (R3.9)
      inferred = pool ? undefined : scenarioUpgrade(scenario, a.mode);
      repoUrl = pool ? repositoryUrl(pool, env) : inferred!.repositoryUrl;
    } else {
      pool = pool!;
      poolName = pool.name;
      client = new XenApiClient({ url: pool.masterUrl, username: pool.username, password: resolveSecret(pool.passwordEnv, env), tls: pool.tls, clock, secrets: repositorySecrets(pool, env) });
      repoUrl = repositoryUrl(pool, env);
    }
    await client.login();
    cleanup = [() => client.logout(), ...cleanup];
    const mode: UpgradeMode = a.mode ?? pool?.upgrade.mode ?? inferred?.mode ?? 'automatic';
    const target = a.target ?? pool?.target ?? inferred?.target ?? '7.6';
    // R1.4: a chain's intermediate hop runs with its own media (the pools file's hops, or the scenario's older repositories)
    const hopCfg = pool ?? (inferred && scenarioLoaded ? { upgrade: rehearsalUpgradeOrManual(inferred), hops: scenarioHops(scenarioLoaded) } : undefined);
    const chooseMedia = hopCfg
      ? (snapshot: PoolSnapshot) => {
          const m = hopMediaFor(hopCfg, paths, snapshot, target, mode, []);
          return { intermediate: m.intermediate, planOptions: m.planOptions, ...(m.upgrade ? { repositoryUrl: repositoryUrlWithCredentials({ upgrade: m.upgrade }, env) } : {}) };
        }
      : undefined;
    const { plan } = await planLivePool(
      client,
      { pool: poolName, target, mode, returnPolicy: a.returnPolicy ?? pool?.returnPolicy ?? 'none', paths, repositoryUrl: repoUrl, sanBootHosts: pool?.sanBootHosts ?? [] },
      clock,
      chooseMedia,
    );
    out(a.json ? JSON.stringify(planToJson(plan), null, 2) : renderPlanText(plan));
    return plan.executable ? 0 : 2;
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    err(`xsupgrade plan: ${msg.split('\n')[0]}`);
    if (e instanceof UsageError) err(USAGE);
    return 1;
  } finally {
    for (const c of cleanup) await c().catch(() => undefined);
  }
}
