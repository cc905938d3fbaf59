/**
 * A rehearsal: a complete run against a simulated copy of a pool (a scenario file, or a scenario cloned from the
 * live pool's snapshot), gates auto-approved, faults optionally injected, ending with a summary. Also the engine of
 * bench/run.ts. Nothing here touches a real pool except the read-only snapshot of `rehearse <pool>`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock, type Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import type { Notifier } from '../domain/ports';
import type { PoolSnapshot, ReturnPolicy, Run, UpgradeMode } from '../domain/types';
import { silentLogger, type Logger } from '../log';
import type { UpgradeTarget } from '../planner';
import { startSimulator, type Fault, type Scenario, type ScenarioInput, type SimPool } from '../sim';
import { openStore } from '../store';
import { validActions } from '../runner/recovery';
import { mayHaveStopped, type StoppedVm } from '../runner/steps/stop-vms';
import { observingNotifier } from '../observe/run-metrics';
import { ConfigError } from '../config/pools';
import { createCore } from '.';
import { rehearsalUpgrade, scenarioHops, scenarioUpgrade } from './scenario-mode';
import { isFinalHop } from '../planner/hops';

const GiB = 1024 ** 3;
const REHEARSAL_PASSWORD_ENV = 'XSUPGRADE_REHEARSAL_PASSWORD';

/** The live pool, as a scenario the simulator can run (names, versions, memory, storage, VMs, HA). */
export function snapshotToScenario(s: PoolSnapshot, cfg: PoolConfig, target: UpgradeTarget): ScenarioInput {
  const hostName = new Map(s.hosts.map((h) => [h.ref, h.name]));
  const srName = new Map(s.srs.map((sr) => [sr.ref, sr.name]));
  const products = [...new Set(s.hosts.map((h) => h.version.product))];
  return {
    pool: { name: cfg.name, username: 'root', password: 'rehearsal' },
    hosts: s.hosts.map((h) => ({
      name: h.name,
      master: h.isMaster,
      productVersion: h.version.product,
      platformVersion: h.version.platform,
      build: h.version.build || 'unknown',
      memoryGiB: Math.max(1, Math.round(h.memoryTotal / GiB)),
      // R2.7: XenAPI cannot tell; the pools file's declaration carries over into the rehearsal's scenario
      sanBoot: (cfg.sanBootHosts ?? []).includes(h.name),
    })),
    srs: s.srs
      .filter((sr) => sr.shared || sr.attachedHosts.length > 0)
      .map((sr) => ({ name: sr.name, type: sr.type || 'nfs', shared: sr.shared, ...(sr.shared ? {} : { host: hostName.get(sr.attachedHosts[0]!) }) })),
    vms: s.vms.map((v) => ({
      name: v.name,
      host: v.residentOn ? (hostName.get(v.residentOn) ?? null) : null,
      power: v.powerState,
      memoryGiB: Math.max(0.25, v.memoryNeeded / GiB),
      disks: v.disks.filter((d) => srName.has(d.sr)).map((d) => ({ sr: srName.get(d.sr)! })),
      cd: v.cds.find((c) => !c.empty && c.isoName) ? { iso: v.cds.find((c) => !c.empty && c.isoName)!.isoName! } : null,
      tools: v.toolsVersion,
      pci: v.hasPciPassthrough,
      lacksFeature: v.lacksFeatureMigrate,
      affinity: v.affinity ? (hostName.get(v.affinity) ?? null) : null,
    })),
    ha: { enabled: s.pool.haEnabled },
    repositories:
      cfg.upgrade.mode === 'automatic' ? [{ url: cfg.upgrade.repositoryUrl, version: target.product, platform: target.platform }] : [],
    updates: cfg.upgrade.mode === 'update' ? [{ name: cfg.upgrade.updateIso, version: target.product, platform: target.platform, from: products }] : [],
  };
}

export interface RehearsalOptions {
  scenario: Scenario;
  mode: UpgradeMode;
  returnPolicy?: ReturnPolicy;
  target?: string;
  /** simulated seconds per real second (default 1000) */
  scale?: number;
  /** make this host's install fail (R4) */
  failHost?: string;
  faults?: Fault[];
  /** progress lines */
  out?: (line: string) => void;
  logger?: Logger;
  /** real ms before giving up (default 10 min) */
  realTimeoutMs?: number;
}

export interface RehearsalSummary {
  run: Run;
  /** simulated time from start to end of the run */
  durationMs: number;
  migrations: number;
  vmsStopped: number;
  steps: { done: number; total: number };
  failures: string[];
  shutdowns: Record<string, number>;
  maxHostsDownAtOnce: number;
  sim: SimPool;
  /** multi-hop (R1.4): every hop's run, in order (the last is `run`) */
  hops?: Run[];
  /** multi-hop: the simulator's shutdown counts per host at the end of each hop (cumulative) */
  hopShutdowns?: Array<Record<string, number>>;
}

export async function rehearse(o: RehearsalOptions, keepSim = false): Promise<RehearsalSummary> {
  // bad arguments stop here, before anything is started (nothing left running, never a hang)
  if (o.failHost && !o.scenario.hosts.some((h) => h.name === o.failHost)) {
    throw new ConfigError(`--fail: no host "${o.failHost}" in the scenario (hosts: ${o.scenario.hosts.map((h) => h.name).join(', ')})`);
  }
  const inferred = scenarioUpgrade(o.scenario, o.mode);
  const upgrade = rehearsalUpgrade(inferred);
  const target = inferred.target;
  const clock = new ScaledClock(o.scale ?? 1000);
  const sim = await startSimulator(o.scenario, { clock });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-rehearsal-'));
  const store = await openStore({ path: ':memory:', clock });
  let core: Awaited<ReturnType<typeof createCore>> | undefined;
  try {
    if (o.failHost) sim.control.injectFault({ kind: 'install-fails', host: o.failHost });
    for (const f of o.faults ?? []) sim.control.injectFault(f);
    return await rehearseOn(o, { sim, store, clock, dir, upgrade, target, setCore: (c) => (core = c) });
  } finally {
    await core?.shutdown();
    await store.close();
    if (!keepSim) await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface RehearsalEnv {
  sim: SimPool;
  store: Awaited<ReturnType<typeof openStore>>;
  clock: ScaledClock;
  dir: string;
  upgrade: PoolConfig['upgrade'];
  target: string;
  setCore(core: Awaited<ReturnType<typeof createCore>>): void;
}

async function rehearseOn(o: RehearsalOptions, { sim, store, clock, dir, upgrade, target, setCore }: RehearsalEnv): Promise<RehearsalSummary> {
  const out = o.out ?? (() => undefined);
  const pool: PoolConfig = {
    name: sim.name,
    masterUrl: sim.masterUrl,
    username: sim.username,
    passwordEnv: REHEARSAL_PASSWORD_ENV,
    tls: sim.tls,
    target: o.target ?? target,
    upgrade,
    slack: { channel: 'rehearsal', approvers: { users: ['UREHEARSAL'], groups: [] }, allowSelfApproval: true },
    returnPolicy: o.returnPolicy ?? 'none',
    timezone: 'UTC',
    hostTimeoutMinutes: 240,
    // the scenario's SAN-boot hosts, declared as an operator declares them in the pools file (R2.7)
    sanBootHosts: o.scenario.hosts.filter((h) => h.sanBoot).map((h) => h.name),
    // R1.4: the scenario's older repositories are the media of the chain's intermediate hops
    ...(o.target === undefined && scenarioHops(o.scenario).length ? { hops: scenarioHops(o.scenario) } : {}),
  };
  const actor = { userId: 'rehearsal', source: 'cli' as const };
  let finished: (run: Run) => void = () => undefined;
  const ended = new Promise<Run>((res) => (finished = res));
  let core: Awaited<ReturnType<typeof createCore>> | undefined;
  const notifier: Notifier = {
    runStarted: async (run) => out(`run ${run.id} started: ${run.steps.length} steps`),
    runUpdated: async () => undefined,
    runEvent: async (_run, text) => {
      out(`  ${text}`);
      // manual mode: the rehearsal plays the operator at the console. The run says "<host> is shutting down. Boot it
      // from the … installer" while the host is still going down: the operator waits for it to be off, then boots it.
      const shutting = upgrade.mode === 'manual' ? /^(\S+) is shutting down\. Boot it from/.exec(text) : null;
      if (shutting && sim.hosts().some((h) => h.name === shutting[1])) setTimeout(() => void bootFromMedia(sim, clock, shutting[1]!), 0);
    },
    approvalNeeded: async (run, step) => {
      out(`  gate ${step.id}: auto-approved (rehearsal)`);
      await core!.approve(run.id, step.id, actor);
    },
    approvalDecided: async () => undefined,
    stepFailed: async (run, step, actions) => {
      out(`  FAILED ${step.id}: ${step.error?.message ?? ''}${step.error?.code ? ` [${step.error.code}]` : ''}`);
      for (const f of step.error?.observed ?? []) out(`    observed: ${f}`);
      out(`    recovery actions offered: ${actions.join(', ')}`);
      const r = await core!.abort(run.id, actor);
      if (r.ok) finished(r.value);
    },
    runFinished: async (run) => {
      // a non-final hop (R1.4): its end is not the rehearsal's; the next hop's plan follows (hopPlanned)
      if (run.state === 'done' && !isFinalHop(run.plan)) {
        hopRuns.push(run);
        hopShutdowns.push({ ...sim.stats().shutdowns });
        return;
      }
      finished(run);
    },
    poolNotice: async () => undefined,
    // R1.4: the rehearsal plays the operator who reads the next hop's plan and starts it (a human Start in real life)
    hopPlanned: async (run, next) => {
      out(`hop done (run ${run.id}); next hop planned from the live pool: plan ${next.id.slice(0, 12)} → ${next.target.label}`);
      if (!next.executable) {
        out(`  the next hop's plan has blockers: ${next.prechecks.filter((p) => p.severity === 'blocker').map((p) => `${p.rule} ${p.message}`).join('; ')}`);
        finished(run);
        return;
      }
      setTimeout(() => {
        void core!.start(pool.name, { planHash: next.id, planMadeAt: next.createdAt }, actor).then((r) => {
          if (!r.ok) {
            out(`  start of the next hop refused: ${r.error}`);
            finished(run);
          }
        });
      }, 0);
    },
  };
  const hopRuns: Run[] = [];
  const hopShutdowns: Array<Record<string, number>> = [];
  core = await createCore({
    pools: [pool],
    store,
    // step counts and durations reach /metrics as in a real run
    notifier: observingNotifier(notifier),
    clock,
    logger: o.logger ?? silentLogger,
    env: { [REHEARSAL_PASSWORD_ENV]: sim.password, XSUPGRADE_BACKUPS: dir },
    ownerId: 'rehearsal',
    leaseTtlMs: 30 * 60_000,
    pollMs: 5_000,
  });
  setCore(core);
  const plan = await core.plan(pool.name, {}, actor);
  if (!plan.ok) throw new Error(`plan: ${plan.error}`);
  if (!plan.value.executable) {
    throw new Error(`the plan has blockers: ${plan.value.prechecks.filter((p) => p.severity === 'blocker').map((p) => `${p.rule} ${p.message}`).join('; ')}`);
  }
  const started = await core.start(pool.name, { planHash: plan.value.id }, actor);
  if (!started.ok) throw new Error(`start: ${started.error}`);
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('rehearsal did not finish in time')), o.realTimeoutMs ?? 600_000).unref());
  const run = await Promise.race([ended, timeout]);
  const final = (await store.getRun(run.id)) ?? run;
  const stats = sim.stats();
  const failures = final.steps.flatMap((s) => [
    ...((s.data?.lastError as { message?: string } | undefined)?.message ? [`${s.id}: ${(s.data!.lastError as { message: string }).message}`] : []),
    ...(s.state === 'failed' ? [`${s.id}: ${s.error?.message ?? 'failed'} (${validActions({ ...final, state: 'failed' }, s).join(', ')})`] : []),
  ]);
  const vmsStopped = final.steps
    .filter((s) => s.kind === 'stop-vms')
    .reduce((n, s) => n + Object.values((s.data?.stopped ?? {}) as Record<string, StoppedVm>).filter(mayHaveStopped).length, 0);
  const hops = [...(await Promise.all(hopRuns.map(async (r) => (await store.getRun(r.id)) ?? r))), ...(hopRuns.some((r) => r.id === final.id) ? [] : [final])];
  return {
    run: final,
    ...(hopRuns.length ? { hops, hopShutdowns: [...hopShutdowns, stats.shutdowns] } : {}),
    durationMs: (final.endedAt ?? clock.now()) - (hops[0] ?? final).createdAt,
    migrations: stats.migrations,
    vmsStopped,
    steps: { done: final.steps.filter((s) => s.state === 'done').length, total: final.steps.length },
    failures,
    shutdowns: stats.shutdowns,
    maxHostsDownAtOnce: stats.maxHostsDownAtOnce,
    sim,
  };
}

export function formatSummary(s: RehearsalSummary): string {
  const minutes = Math.round(s.durationMs / 60000);
  return [
    `rehearsal ${s.run.id}: ${s.run.state}`,
    ...(s.hops ? [`  hops:        ${s.hops.map((r) => `${r.id} → ${r.plan.target.product} (${r.state})`).join(', ')}`] : []),
    `  duration:    ${Math.floor(minutes / 60)} h ${minutes % 60} min (simulated)`,
    `  migrations:  ${s.migrations}`,
    `  VMs stopped: ${s.vmsStopped}`,
    `  steps:       ${s.steps.done}/${s.steps.total} done`,
    `  shutdowns:   ${Object.entries(s.shutdowns).map(([h, n]) => `${h}×${n}`).join(', ') || 'none'} (at most ${s.maxHostsDownAtOnce} host down at once)`,
    `  failures:    ${s.failures.length ? s.failures.join('; ') : 'none'}`,
  ].join('\n');
}

/**
 * Manual mode on the simulator: the operator boots `host` from the installer once it is off (the run says so while
 * it is still going down), looking again every 5 clock seconds, for up to 1,000.
 */
export async function bootFromMedia(sim: SimPool, clock: Clock, host: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      sim.control.completeManualInstall(host);
      return;
    } catch {
      await clock.sleep(5_000);
    }
  }
}
