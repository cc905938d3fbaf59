/**
 * `npm run bench` (node dist/bench/index.js): the planner, runner, Slack and HA benchmarks in sequence, each printed as
 * a table. Exit code 0 when all ran, 1 when one threw (the others still run). Figures are recorded in
 * docs/benchmarks.md.
 */
import { cpus } from 'node:os';
import { benchHa, formatHaBench } from './ha';
import { benchPlan, formatPlanBench } from './plan';
import { benchPlanSearch, formatPlanSearchBench } from './plan-search';
import { benchRead, formatReadBench } from './read';
import { benchRun, formatRunBench } from './run';
import { benchOutbox, formatOutboxBench } from './outbox';
import { benchSlack, formatSlackBench } from './slack';
import { benchSimTls, formatSimTlsBench } from './sim-tls';

interface Bench {
  name: string;
  run: () => Promise<string>;
}

const BENCHES: Bench[] = [
  { name: 'plan (issue 3)', run: async () => formatPlanBench(await benchPlan([3, 16, 64], 50, false)) },
  { name: 'plan search (issue 13)', run: async () => formatPlanSearchBench(benchPlanSearch()) },
  { name: 'read (XML-RPC, JSON-RPC, XenAPI.py), run CPU per host and help acks during plans (issue 13)', run: async () => formatReadBench(await benchRead({ print: false })) },
  { name: 'run (issue 4)', run: async () => formatRunBench(await benchRun({ print: false })) },
  { name: 'slack (issue 5)', run: async () => formatSlackBench(await benchSlack({ print: false })) },
  { name: 'outbox priority (issue 10.10)', run: async () => formatOutboxBench(await benchOutbox()) },
  { name: 'simulator TLS (issue 12.4)', run: async () => formatSimTlsBench(await benchSimTls()) },
  { name: 'high availability (issue 16)', run: async () => formatHaBench(await benchHa()) },
];

export async function main(out: (line: string) => void = console.log, benches: Bench[] = BENCHES): Promise<number> {
  out(`xsupgrade benchmarks · node ${process.version} · ${cpus().length} CPU(s) · ${cpus()[0]?.model ?? 'unknown CPU'}`);
  let failed = 0;
  for (const b of benches) {
    out('');
    out(`## ${b.name}`);
    const t0 = Date.now();
    try {
      out(await b.run());
      out(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      out(`FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${(e as Error).stack ?? (e as Error).message}`);
    }
  }
  out('');
  out(failed === 0 ? 'all benchmarks ran' : `${failed} benchmark(s) failed`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`bench: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
