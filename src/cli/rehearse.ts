/**
 * `xsupgrade rehearse <pool-or-scenario> [--fail <host>] [--scale N] [--mode automatic|manual|update]`
 * A complete run on a simulated copy: a scenario file, or the live pool's inventory cloned (read-only).
 */
import { existsSync } from 'node:fs';
import { loadGeneralSettings } from '../config/env';
import { ConfigError, loadPoolsFile } from '../config/pools';
import type { UpgradeMode } from '../domain/types';
import { parseArgs } from '../core/console';
import { formatSummary, rehearse, snapshotToScenario } from '../core/rehearsal';
import { parseMode, scenarioUpgrade } from '../core/scenario-mode';
import { createPoolRuntime } from '../core/runtime';
import { readSnapshot } from '../inventory';
import { findTarget, loadUpgradePaths } from '../planner';
import { loadScenario, parseScenario, type Scenario } from '../sim';
import { systemClock } from '../clock';
import { createLogger } from '../log';
import { openStore } from '../store';

export async function run(args: string[]): Promise<number> {
  const { positional, opts } = parseArgs(args, { value: ['fail', 'scale', 'mode'] });
  const what = positional[0];
  if (!what) {
    console.error('usage: xsupgrade rehearse <pool-or-scenario.yaml> [--fail <host>] [--scale N] [--mode automatic|manual|update]');
    return 1;
  }
  const scale = opts.scale ? Number(opts.scale) : 2000;
  if (!(scale > 0)) throw new ConfigError('--scale must be a positive number (simulated seconds per real second)');
  let scenario: Scenario;
  let mode: UpgradeMode;
  let returnPolicy: 'none' | 'original' = 'none';
  const requested = opts.mode === undefined ? undefined : parseMode(opts.mode);
  if (existsSync(what)) {
    scenario = loadScenario(what);
    mode = scenarioUpgrade(scenario, requested).mode; // as `plan --scenario` infers it
  } else {
    const settings = loadGeneralSettings(process.env);
    if (!settings.poolsFile) throw new ConfigError(`${what} is not a file, and XSUPGRADE_POOLS is not set to look it up as a pool`);
    const cfg = loadPoolsFile(settings.poolsFile).pools.find((p) => p.name === what);
    if (!cfg) throw new ConfigError(`no scenario file and no pool named ${what}`);
    const target = findTarget(loadUpgradePaths(), cfg.target);
    if (!target) throw new ConfigError(`pool ${cfg.name}: target ${cfg.target} is not in the upgrade path table`);
    const store = await openStore({ path: ':memory:' });
    const { client } = createPoolRuntime(cfg, { store, notifier: undefined as never, clock: systemClock, logger: createLogger({ level: 'warn' }), env: process.env, pollMs: 5000 });
    try {
      console.log(`cloning ${cfg.name} (read-only snapshot)…`);
      scenario = parseScenario(snapshotToScenario(await readSnapshot(client, systemClock), cfg, target), `pool ${cfg.name}`);
    } finally {
      await client.logout().catch(() => undefined);
      await store.close();
    }
    mode = cfg.upgrade.mode;
    returnPolicy = cfg.returnPolicy;
  }
  if (requested) mode = requested;
  if (opts.fail !== undefined && !scenario.hosts.some((h) => h.name === opts.fail)) {
    throw new ConfigError(`--fail: no host "${String(opts.fail)}" in ${what} (hosts: ${scenario.hosts.map((h) => h.name).join(', ')})`);
  }
  const summary = await rehearse({
    scenario,
    mode,
    returnPolicy,
    scale,
    failHost: typeof opts.fail === 'string' ? opts.fail : undefined,
    out: (l) => console.log(l),
  });
  console.log(formatSummary(summary));
  return summary.run.state === 'done' ? 0 : 1;
}
