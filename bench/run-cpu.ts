/**
 * CPU the bot spends per host during a rolling run (issue 13: a 64-host × 50-VM pool cost ~60 CPU-seconds per host
 * when every step re-read the whole VM list; goal ≤ 3 s). The real core and runner (createCore, plan, start, gates
 * approved as they come) drive the simulator, which runs in a child process (bench/sim-process.ts) on the same
 * simulated clock, so process.cpuUsage() — every thread of this process, GC included — is the bot's work alone.
 * CPU is counted from the plan request to the run's end and divided by the hosts upgraded. The simulator's call
 * statistics give the round trips behind it (how often the whole VM list was read, and the per-host reads).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../src/clock';
import type { PoolConfig } from '../src/config/pools';
import { createCore } from '../src/core';
import { rehearsalUpgrade, scenarioUpgrade } from '../src/core/scenario-mode';
import type { Notifier } from '../src/domain/ports';
import type { Run } from '../src/domain/types';
import { silentLogger } from '../src/log';
import { openStore } from '../src/store';
import { markdownTable } from './harness';
import { upgradeScenario } from './run';
import { startInChildProcess } from './sim-process';
import { compiledSimModule } from './slack';

export interface RunCpuResult {
  hosts: number;
  vms: number;
  state: string;
  scale: number;
  /** CPU-seconds of this process (user + system) from the plan request to the run's end */
  cpuSeconds: number;
  cpuSecondsPerHost: number;
  realSeconds: number;
  /** XenAPI calls the simulator answered during the run, per host upgraded */
  callsPerHost: number;
  /** whole-VM-list reads (VM.get_all_records) over the run, and the per-host reads (VM.get_all_records_where) */
  vmListReads: number;
  perHostVmReads: number;
}

const PASSWORD_ENV = 'XSUPGRADE_BENCH_RUN_CPU_PASSWORD';

export async function benchRunCpu(
  opts: { hosts?: number; vmsPerHost?: number; scale?: number; realTimeoutMs?: number; print?: boolean; progress?: (line: string) => void } = {},
): Promise<RunCpuResult> {
  const simModule = compiledSimModule();
  if (!simModule) throw new Error('bench/run-cpu needs the compiled simulator (npm run build): it runs it in a child process');
  const hosts = opts.hosts ?? 64;
  const vmsPerHost = opts.vmsPerHost ?? 50;
  const scale = opts.scale ?? 2000;
  const scenario = upgradeScenario(hosts, vmsPerHost, 'bench-run-cpu');
  const inferred = scenarioUpgrade(scenario, 'automatic');
  const clock = new ScaledClock(scale);
  const sim = await startInChildProcess(scenario, simModule, clock);
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-bench-cpu-'));
  const store = await openStore({ path: ':memory:', clock });
  let core: Awaited<ReturnType<typeof createCore>> | undefined;
  try {
    const pool: PoolConfig = {
      name: sim.name,
      masterUrl: sim.masterUrl,
      username: sim.username,
      passwordEnv: PASSWORD_ENV,
      tls: sim.tls,
      target: inferred.target,
      upgrade: rehearsalUpgrade(inferred),
      slack: { channel: 'bench', approvers: { users: ['UBENCH'], groups: [] }, allowSelfApproval: true },
      returnPolicy: 'none',
      timezone: 'UTC',
      hostTimeoutMinutes: 240,
      sanBootHosts: [],
    };
    const actor = { userId: 'bench', source: 'cli' as const };
    let finished: (run: Run) => void = () => undefined;
    const ended = new Promise<Run>((resolve) => (finished = resolve));
    let hostsDone = 0;
    let cpuAtStart: NodeJS.CpuUsage | undefined;
    const notifier: Notifier = {
      runStarted: async () => undefined,
      runUpdated: async (run) => {
        const done = run.steps.filter((st) => st.kind === 'wait-host' && st.state === 'done').length;
        if (done === hostsDone || !opts.progress || !cpuAtStart) return;
        hostsDone = done;
        const c = process.cpuUsage(cpuAtStart);
        opts.progress(`${done}/${hosts} hosts back on the target, bot CPU so far ${((c.user + c.system) / 1e6).toFixed(1)} s`);
      },
      runEvent: async () => undefined,
      approvalNeeded: async (run, step) => void (await core!.approve(run.id, step.id, actor)),
      approvalDecided: async () => undefined,
      stepFailed: async (run) => {
        const r = await core!.abort(run.id, actor);
        if (r.ok) finished(r.value);
      },
      runFinished: async (run) => finished(run),
      poolNotice: async () => undefined,
    };
    core = await createCore({
      pools: [pool],
      store,
      notifier,
      clock,
      logger: silentLogger,
      env: { [PASSWORD_ENV]: sim.password, XSUPGRADE_BACKUPS: dir },
      ownerId: 'bench',
      leaseTtlMs: 30 * 60_000,
      pollMs: 5_000,
    });
    const before = await sim.stats();
    const cpu0 = process.cpuUsage();
    cpuAtStart = cpu0;
    const t0 = Date.now();
    const plan = await core.plan(pool.name, {}, actor);
    if (!plan.ok) throw new Error(`plan: ${plan.error}`);
    const started = await core.start(pool.name, { planHash: plan.value.id }, actor);
    if (!started.ok) throw new Error(`start: ${started.error}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the run did not end in time')), opts.realTimeoutMs ?? 30 * 60_000)));
    const run = await Promise.race([ended, timeout]).finally(() => clearTimeout(timer));
    const cpu = process.cpuUsage(cpu0);
    const realSeconds = (Date.now() - t0) / 1000;
    const after = await sim.stats();
    const calls = (m: string) => (after.calls[m] ?? 0) - (before.calls[m] ?? 0);
    const totalCalls = Object.keys(after.calls).reduce((n, m) => n + calls(m), 0);
    const upgraded = run.plan.hosts.filter((h) => !h.alreadyDone).length || hosts;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const result: RunCpuResult = {
      hosts,
      vms: hosts * vmsPerHost,
      state: run.state,
      scale,
      cpuSeconds,
      cpuSecondsPerHost: cpuSeconds / upgraded,
      realSeconds,
      callsPerHost: totalCalls / upgraded,
      vmListReads: calls('VM.get_all_records'),
      perHostVmReads: calls('VM.get_all_records_where'),
    };
    if (opts.print !== false) console.log(formatRunCpuBench([result]));
    return result;
  } finally {
    await core?.shutdown();
    await store.close();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatRunCpuBench(rows: RunCpuResult[]): string {
  return [
    'CPU the bot spends per host during a rolling run (simulator in a child process; automatic mode, gates approved)',
    '',
    markdownTable(
      ['hosts', 'VMs', 'run', 'bot CPU, whole run', 'bot CPU per host', 'XenAPI calls per host', 'VM.get_all_records (whole list)', 'VM.get_all_records_where (per host)', 'real time'],
      rows.map((r) => [
        r.hosts,
        r.vms,
        r.state,
        `${r.cpuSeconds.toFixed(1)} s`,
        `${r.cpuSecondsPerHost.toFixed(2)} s`,
        Math.round(r.callsPerHost),
        r.vmListReads,
        r.perHostVmReads,
        `${r.realSeconds.toFixed(0)} s (clock ×${r.scale})`,
      ]),
    ),
    '',
    'Goal at 64 hosts × 50 VMs (issue 13): ≤ 3 CPU-seconds per host (it was ~60).',
  ].join('\n');
}

if (require.main === module) {
  const arg = (name: string): number | undefined => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);
  benchRunCpu({ hosts: arg('--hosts'), vmsPerHost: arg('--vms'), scale: arg('--scale'), progress: (l) => console.error(`${new Date().toISOString()} ${l}`) }).catch((e) => {
    console.error(`bench/run-cpu: ${(e as Error).stack ?? (e as Error).message}`);
    process.exitCode = 1;
  });
}
