/**
 * `xsupgrade plan <pool> [--target 7.6] [--mode automatic|manual|update] [--return none|original] [--json]
 *                       [--scenario <file>]`
 * Plans a configured pool (pools file from XSUPGRADE_POOLS), or with --scenario a simulated pool started in-process
 * from a scenario file. Exit code: 0 executable, 2 blocked (at least one blocker), 1 error (one line on stderr).
 */
import { ScaledClock } from '../clock';
import { ConfigError, loadPoolsFile, PoolConfig, repositorySecrets, resolveSecret } from '../config/pools';
import { scenarioUpgrade, type ScenarioUpgrade } from '../core/scenario-mode';
import type { ReturnPolicy, UpgradeMode } from '../domain/types';
import { planLivePool } from '../inventory/live-plan';
import { loadUpgradePaths } from '../planner';
import { planToJson } from '../planner/render/json';
import { renderPlanText } from '../planner/render/text';

export const USAGE =
  'usage: xsupgrade plan <pool> [--target 7.6] [--mode automatic|manual|update] [--return none|original] [--json] [--scenario <file>]';

interface PlanArgs {
  pool?: string;
  target?: string;
  mode?: UpgradeMode;
  returnPolicy?: ReturnPolicy;
  json: boolean;
  scenario?: string;
}

class UsageError extends Error {}

export function parsePlanArgs(args: string[]): PlanArgs {
  const out: PlanArgs = { json: false };
  const value = (i: number, flag: string): string => {
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (a) {
      case '--json':
        out.json = true;
        break;
      case '--target':
        out.target = value(i++, a);
        break;
      case '--mode': {
        const m = value(i++, a);
        if (m !== 'automatic' && m !== 'manual' && m !== 'update') throw new UsageError(`--mode must be automatic, manual or update, not "${m}"`);
        out.mode = m;
        break;
      }
      case '--return': {
        const r = value(i++, a);
        if (r !== 'none' && r !== 'original') throw new UsageError(`--return must be none or original, not "${r}"`);
        out.returnPolicy = r;
        break;
      }
      case '--scenario':
        out.scenario = value(i++, a);
        break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        if (out.pool) throw new UsageError(`one pool at a time (got "${out.pool}" and "${a}")`);
        out.pool = a;
    }
  }
  if (!out.pool && !out.scenario) throw new UsageError('which pool? name one from the pools file, or give --scenario <file>');
  return out;
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
    } else if (!a.scenario) {
      throw new ConfigError('XSUPGRADE_POOLS is not set: it names the pools file (see manifests/pools.example.yaml), or use --scenario <file>');
    }

    let client: InstanceType<typeof XenApiClient>;
    let poolName: string;
    let repoUrl: string | undefined;
    let inferred: ScenarioUpgrade | undefined;
    const clock = new ScaledClock(a.scenario ? 1000 : 1);
    if (a.scenario) {
      const { loadScenario, startSimulator } = await import('../sim');
      const scenario = loadScenario(a.scenario);
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
    const { plan } = await planLivePool(
      client,
      { pool: poolName, target: a.target ?? pool?.target ?? inferred?.target ?? '7.6', mode, returnPolicy: a.returnPolicy ?? pool?.returnPolicy ?? 'none', paths, repositoryUrl: repoUrl, sanBootHosts: pool?.sanBootHosts ?? [] },
      clock,
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
