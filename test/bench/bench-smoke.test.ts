/**
 * The benchmarks run on tiny inputs and return well-formed figures. Asserts counts and shapes, never durations.
 */
import { main } from '../../bench/index';
import { markdownTable, percentile, summarise } from '../../bench/harness';
import { benchOutbox, formatOutboxBench } from '../../bench/outbox';
import { benchPlan, formatPlanBench } from '../../bench/plan';
import { benchRun, formatRunBench } from '../../bench/run';
import { benchSlack, formatSlackBench } from '../../bench/slack';
import { benchSimTls, formatSimTlsBench } from '../../bench/sim-tls';

describe('bench helpers', () => {
  it('takes nearest-rank percentiles', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(summarise([3, 1, 2])).toEqual({ count: 3, p50Ms: 2, p99Ms: 3, maxMs: 3 });
  });

  it('right-aligns numeric columns of a Markdown table', () => {
    const t = markdownTable(['name', 'ack p50'], [['a', '12 ms'], ['b', '1.5 ms']]).split('\n');
    expect(t).toEqual(['| name | ack p50 |', '| --- | ---: |', '| a | 12 ms |', '| b | 1.5 ms |']);
  });
});

describe('npm run bench driver', () => {
  it('runs every bench in order and exits 1 when one throws, after running the others', async () => {
    const lines: string[] = [];
    const ran: string[] = [];
    const code = await main((l) => lines.push(l), [
      { name: 'first', run: async () => (ran.push('first'), 'table one') },
      { name: 'broken', run: async () => { ran.push('broken'); throw new Error('pool unreachable'); } },
      { name: 'last', run: async () => (ran.push('last'), 'table three') },
    ]);
    expect(code).toBe(1);
    expect(ran).toEqual(['first', 'broken', 'last']);
    const text = lines.join('\n');
    expect(text).toContain('table one');
    expect(text).toContain('table three');
    expect(text).toMatch(/## broken\nFAILED after .*pool unreachable/);
    expect(text).toContain('1 benchmark(s) failed');
  });

  it('exits 0 when every bench ran', async () => {
    expect(await main(() => undefined, [{ name: 'only', run: async () => 'ok' }])).toBe(0);
  });
});

describe('benchmarks on tiny pools', () => {
  it('benchPlan: constant round trips, migrations at or above their lower bound', async () => {
    const rows = await benchPlan([3], 2, false);
    expect(rows).toHaveLength(1);
    const [r] = rows;
    expect(r).toMatchObject({ hosts: 3, vms: 6, roundTrips: 14 });
    expect(r.planned).toBeGreaterThanOrEqual(r.lowerBound);
    expect(r.hostEvacuate).toBeGreaterThanOrEqual(r.lowerBound);
    expect(formatPlanBench(rows)).toContain('| 3 | 6 | 14 |');
  });

  it('benchRun: a 2-host run completes and every host is measured', async () => {
    const r = await benchRun({ hosts: 2, vmsPerHost: 1, scale: 4000, print: false });
    expect(r).toMatchObject({ hosts: 2, vms: 2, state: 'done' });
    expect(r.perHost.map((h) => h.host).sort()).toEqual(['xs-01', 'xs-02']);
    expect(formatRunBench(r)).toContain('| 2 | 2 |');
  });

  it('benchSimTls: certificates made, a simulator started and read over HTTPS and over HTTP', async () => {
    const b = await benchSimTls({ hosts: [2], certificates: 2, reads: 1 });
    expect(b.certificate.count).toBe(2);
    expect(b.rows.map((r) => [r.hosts, r.scheme])).toEqual([[2, 'https'], [2, 'http']]);
    expect(b.rows.every((r) => Number.isFinite(r.startMs) && Number.isFinite(r.firstReadMs))).toBe(true);
    expect(formatSimTlsBench(b)).toMatch(/\| 2 \| https \|/);
  });

  it('benchSlack: every signed request is acknowledged and answered, each answer matched to its request', async () => {
    const r = await benchSlack({ hosts: 2, vmsPerHost: 2, concurrency: 4, probeEveryMs: 5, maxProbes: 3, print: false });
    expect(r).toMatchObject({ hosts: 2, vms: 4, simulator: 'in-process' });
    const [plan, ...rest] = r.rows;
    expect(plan).toMatchObject({ command: 'plan', requests: 4, acked: 4, answered: 4, failed: 0 });
    expect(plan.ack.count).toBe(4);
    expect(plan.ackSamplesMs).toHaveLength(4);
    expect(plan.answer.count).toBe(4);
    // the plan message (and its thread parts) went to the fake Web API once per request
    expect(plan.apiCalls['chat.postMessage']).toBeGreaterThanOrEqual(4);
    const status = rest.find((row) => !row.during)!;
    expect(status).toMatchObject({ command: 'status', requests: 4, acked: 4, answered: 4, failed: 0 });
    // probes sent while plans were in flight (how many depends on timing): each acknowledged and answered
    for (const probe of rest.filter((row) => row.during)) {
      expect(probe).toMatchObject({ command: 'status', during: 'plan', failed: 0 });
      expect(probe.acked).toBe(probe.requests);
      expect(probe.answered).toBe(probe.requests);
    }
    expect(formatSlackBench(r)).toContain('| /xsupgrade plan pool-bench | 4 | 4 |');
  });
});

describe('outbox priority bench (issue 10 point 10)', () => {
  it('the approval request overtakes the queued plan replies with priority, and waits behind them in FIFO', async () => {
    const rows = await benchOutbox({ queued: 6, scale: 500 });
    const [priority, fifo] = rows;
    expect(priority).toMatchObject({ ordering: 'priority', queuedBefore: 6 });
    // the header and (at most) the plan reply already in flight go first
    expect(priority.sentBefore).toBeLessThanOrEqual(2);
    expect(fifo).toMatchObject({ ordering: 'fifo', sentBefore: 7 });
    expect(formatOutboxBench(rows)).toContain('| priority | 6 |');
  });
});

describe('read bench (issue 13)', () => {
  it('reads a tiny pool over both transports with the same round trips, and prints the side-by-side table', async () => {
    const { benchRead, formatReadBench } = await import('../../bench/read');
    const r = await benchRead({ sizes: [2], vmsPerHost: 2, repeat: 1, warmUp: 2, print: false, ackEveryMs: 5, ackPlans: 2 });
    expect(r.rows).toHaveLength(1);
    // help probes while a plan of the pool is read: every one acknowledged (how many were sent depends on timing)
    expect(r.rows[0]!.ack!.acked).toBe(r.rows[0]!.ack!.probes);
    expect(r.rows[0]!.ack!.plans).toBe(2);
    // the run's CPU needs the simulator in a child process, i.e. the compiled bench: under ts-jest it says so
    expect(r.rows[0]!.runCpuPerHost).toBeUndefined();
    expect(r.runCpuSkipped).toMatch(/compiled simulator/);
    expect(r.rows[0]!.roundTrips).toBe(14); // one get_all_records per class the planner reads (networks, PIFs and VIFs since issue 12)
    expect(r.rows[0]!.vms).toBe(4);
    // XenAPI.py, where installed, read in the same rounds as the bot (a python3 that stays, one read per line)
    if (r.python === 'not installed') expect(r.rows[0]!.pythonMs).toBeUndefined();
    else expect(r.rows[0]!.pythonMs).toBeGreaterThan(0);
    const text = formatReadBench(r);
    expect(text).toContain('bot, XML-RPC');
    expect(text).toContain('bot ÷ XenAPI.py, JSON-RPC');
    expect(text).toMatch(/\| 2 \| 4 \| 14 \|/);
    expect(text).toContain('help ack p99 / max during plans (acked/sent, plans)');
    // the cold first read is shown beside the steady state, and how the figures were taken
    expect(Number.isFinite(r.rows[0]!.xmlFirstMs) && Number.isFinite(r.rows[0]!.jsonFirstMs)).toBe(true);
    expect(text).toContain('bot, first read (XML / JSON)');
    expect(text).toContain('the best of 1 read after 2 warm-up reads per client');
  });
});
