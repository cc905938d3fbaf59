/**
 * The demo pools of `npm start` on the simulator, started in this process: used by the sandbox and, when no pools
 * file is configured, by `xsupgrade plan|run|resume|abort|rehearse` (issue 14: the README's commands work on a
 * fresh clone). The generated pools config goes through the same parser as a real pools file; each pool's password
 * is put in the variable the config names (never in a file or a log line).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import type { Logger } from '../log';
import type { SimPool } from '../sim';
import { DEFAULT_DIRECTORY } from './directory';
import { demoManifests, demoPoolsFile, findDemoManifestDir, passwordEnvName } from './demo-config';

export interface DemoPools {
  sims: SimPool[];
  pools: PoolConfig[];
  /** the generated pools file's text (for the sandbox, which writes it out) */
  yaml: string;
  stop(): Promise<void>;
}

/** The demo scenario files, by pool name (manifests/demo/<name>.yaml). */
export function demoScenarioFiles(): Map<string, string> {
  const files = demoManifests(findDemoManifestDir());
  return new Map(files.map((f) => [f.replace(/^.*\//, '').replace(/\.ya?ml$/, ''), f]));
}

export async function startDemoPools(opts: { clock: Clock; logger?: Logger; env?: NodeJS.ProcessEnv; only?: string[] }): Promise<DemoPools> {
  const { startSimulator, loadScenario } = await import('../sim');
  const { writeHotfixRepository } = await import('../sim/hotfixes');
  const env = opts.env ?? process.env;
  const sims: SimPool[] = [];
  const sources = [];
  const updatesDir = mkdtempSync(join(tmpdir(), 'xsupgrade-demo-updates-'));
  const cleanUpdates = () => rmSync(updatesDir, { recursive: true, force: true });
  try {
    for (const [name, file] of demoScenarioFiles()) {
      if (opts.only && !opts.only.includes(name)) continue;
      const scenario = loadScenario(file);
      const sim = await startSimulator(scenario, { clock: opts.clock, logger: opts.logger });
      sims.push(sim);
      // R3.10: the scenario's hotfix ISOs, written where the generated pools file's updateRepository points
      const updateRepository = scenario.hotfixes.length ? writeHotfixRepository(scenario.pool.name, scenario.hotfixes, join(updatesDir, sim.name)) : undefined;
      sources.push({ name: sim.name, masterUrl: sim.masterUrl, username: sim.username, tls: sim.tls, repositories: scenario.repositories, updates: scenario.updates, ...(updateRepository ? { updateRepository } : {}) });
      env[passwordEnvName(sim.name)] = sim.password;
    }
    const { yaml, pools } = demoPoolsFile(sources, DEFAULT_DIRECTORY);
    return {
      sims,
      pools,
      yaml,
      stop: async () => {
        await Promise.allSettled(sims.map((s) => s.stop()));
        cleanUpdates();
      },
    };
  } catch (e) {
    await Promise.allSettled(sims.map((s) => s.stop()));
    cleanUpdates();
    throw e;
  }
}
