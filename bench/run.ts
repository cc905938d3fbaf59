/**
 * Runner benchmark (issue 4): a 16-host rolling upgrade on the simulator, gates auto-approved.
 * - orchestration overhead: total run time versus the sum of each host's own evacuate + install + boot time
 *   (evacuate step duration, and from the reboot call until the runner saw the host back);
 * - noticing delay: from the moment the pool marks a host live again (host_metrics.last_updated, set by the
 *   simulator when the host's xapi is up) until the runner's wait-host step records it (event.from, no polling).
 * Times are simulated (the clock runs `scale` times faster); the noticing delay is also shown in real milliseconds.
 */
import { parseScenario, type Scenario } from '../src/sim';
import { rehearse } from '../src/core/rehearsal';
import { XenApiClient } from '../src/xenapi';
import { markdownTable, summarise } from './harness';
import { syntheticScenario } from './plan';

export interface RunBenchResult {
  hosts: number;
  vms: number;
  scale: number;
  state: string;
  totalMs: number;
  ownMs: number;
  overheadMs: number;
  perHost: Array<{ host: string; evacuateMs: number; installBootMs: number; noticeMs: number }>;
  notice: { p50Ms: number; maxMs: number };
  realMs: number;
}

/** The synthetic pool of the run benchmarks, with the 7.6 repository and the install, boot and migration timings. */
export function upgradeScenario(hosts: number, vmsPerHost: number, source: string): Scenario {
  const input = syntheticScenario(hosts, vmsPerHost);
  input.repositories = [{ url: 'http://repo.example.com/xenserver/7.6/', version: '7.6.0', platform: '2.7.0', build: 'release/lima/master/36' }];
  input.timings = { migrationSecondsPerGiB: 2, installSeconds: 1200, bootSeconds: 120, xapiStartSeconds: 30, shutdownSeconds: 10 };
  return parseScenario(input, source);
}

export async function benchRun(opts: { hosts?: number; vmsPerHost?: number; scale?: number; print?: boolean } = {}): Promise<RunBenchResult> {
  const hosts = opts.hosts ?? 16;
  const vmsPerHost = opts.vmsPerHost ?? 6;
  const scale = opts.scale ?? 600;
  const scenario = upgradeScenario(hosts, vmsPerHost, 'bench-run');
  const started = Date.now();
  const summary = await rehearse({ scenario, mode: 'automatic', scale, realTimeoutMs: 30 * 60_000 }, true);
  const realMs = Date.now() - started;
  const { run, sim } = summary;
  try {
    // when the pool marked each host live again (host_metrics.last_updated, written at the live transition)
    const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls });
    const [hostRecs, metrics] = await Promise.all([client.getAllRecords('host'), client.getAllRecords('host_metrics')]);
    await client.logout().catch(() => undefined);
    const liveAt = new Map(Object.values(hostRecs).map((h) => [h.name_label, metrics[h.metrics]?.last_updated?.getTime() ?? Number.NaN]));
    const step = (id: string) => run.steps.find((s) => s.id === id);
    const perHost = run.plan.hosts
      .filter((h) => !h.alreadyDone)
      .map((h) => {
        const ev = step(`${h.name}:evacuate`);
        const issuedAt = step(`${h.name}:upgrade`)?.data?.issuedAt as number;
        const backAt = step(`${h.name}:wait-host`)?.data?.backAt as number;
        return {
          host: h.name,
          evacuateMs: (ev?.endedAt ?? 0) - (ev?.startedAt ?? 0),
          installBootMs: backAt - issuedAt,
          noticeMs: backAt - (liveAt.get(h.name) ?? Number.NaN),
        };
      });
    const ownMs = perHost.reduce((s, h) => s + h.evacuateMs + h.installBootMs, 0);
    const totalMs = summary.durationMs;
    const notice = summarise(perHost.map((h) => h.noticeMs).filter(Number.isFinite));
    const result: RunBenchResult = {
      hosts,
      vms: hosts * vmsPerHost,
      scale,
      state: run.state,
      totalMs,
      ownMs,
      overheadMs: totalMs - ownMs,
      perHost,
      notice: { p50Ms: notice.p50Ms, maxMs: notice.maxMs },
      realMs,
    };
    if (opts.print !== false) console.log(formatRunBench(result));
    return result;
  } finally {
    await sim.stop();
  }
}

const min = (ms: number): string => `${(ms / 60_000).toFixed(1)} min`;

export function formatRunBench(r: RunBenchResult): string {
  const table = markdownTable(
    ['hosts', 'VMs', 'run total', 'Σ hosts’ evacuate + install + boot', 'orchestration overhead', 'noticing delay p50 / max (simulated)', 'same, real time'],
    [
      [
        r.hosts,
        r.vms,
        min(r.totalMs),
        min(r.ownMs),
        `${min(r.overheadMs)} (${((100 * r.overheadMs) / r.totalMs).toFixed(1)}%)`,
        `${(r.notice.p50Ms / 1000).toFixed(1)} s / ${(r.notice.maxMs / 1000).toFixed(1)} s`,
        `${(r.notice.p50Ms / r.scale).toFixed(1)} ms / ${(r.notice.maxMs / r.scale).toFixed(1)} ms`,
      ],
    ],
  );
  return [
    `Runner: a ${r.hosts}-host rolling upgrade on the simulator (${r.state}; clock ×${r.scale}, ${(r.realMs / 1000).toFixed(1)} s real)`,
    '',
    table,
    '',
    'Overhead = run total − Σ per host (evacuate step + reboot call → host seen back): backup, HA, disable/enable, gates,',
    'placement checks, move between steps. At a high clock scale every real millisecond of XML-RPC costs `scale` simulated ms,',
    'so the overhead shown is an upper bound of what a real pool would see.',
  ].join('\n');
}

if (require.main === module) {
  benchRun().catch((e) => {
    console.error(`bench/run: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
