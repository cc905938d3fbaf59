/**
 * Pool read benchmark (issue 13): for pools of 3, 16 and 64 hosts × 50 VMs, the snapshot the planner reads (one
 * `get_all_records` per class, 11 classes) by the bot over XML-RPC and over JSON-RPC, and the same 11 reads by the
 * vendor SDK's Python XenAPI.py (Debian python3-os-xenapi) against the same simulator; the ratio bot ÷ XenAPI.py;
 * and the longest event-loop block in the bot while it reads (perf_hooks.monitorEventLoopDelay: the largest delay
 * of a 1 ms timer, i.e. the longest stretch the loop could not run anything else).
 *
 * The simulator runs in a worker thread (the compiled one, under npm run bench) so its encoding work is not
 * counted against the bot; each figure is the best of `repeat` reads after one warm-up read per transport (the
 * simulator caches record encodings, so the first read of a pool also pays for those).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readSnapshot } from '../src/inventory';
import { parseScenario, type Scenario } from '../src/sim';
import { XenApiClient } from '../src/xenapi';
import { RECORD_CLASSES } from '../src/xenapi/records';
import { markdownTable, ms } from './harness';
import { syntheticScenario } from './plan';
import { compiledSimModule, startInProcess, startInWorker, type SimHandle } from './slack';

export interface ReadBenchRow {
  hosts: number;
  vms: number;
  roundTrips: number;
  xmlMs: number;
  jsonMs: number;
  /** undefined when XenAPI.py is not installed */
  pythonMs?: number;
  /** the longest event-loop block while the bot read, over both transports */
  xmlBlockMs: number;
  jsonBlockMs: number;
}

export interface ReadBenchResult {
  rows: ReadBenchRow[];
  python: string;
  simulator: 'worker' | 'in-process';
}

const PY_READ = `
import json, ssl, sys, time, xmlrpc.client
try:
    import XenAPI
except ImportError:
    from os_xenapi.client import XenAPI
url, user, pw = sys.argv[1:4]
classes = sys.argv[4].split(",")
s = XenAPI.Session(url, transport=xmlrpc.client.SafeTransport(context=ssl._create_unverified_context())) if url.startswith("https") else XenAPI.Session(url)
s.xenapi.login_with_password(user, pw, "1.0", "bench")
best = None
for _ in range(int(sys.argv[5])):
    t0 = time.perf_counter()
    n = 0
    for c in classes:
        n += len(getattr(s.xenapi, c).get_all_records())
    t = time.perf_counter() - t0
    best = t if best is None else min(best, t)
s.xenapi.logout()
print(json.dumps({"ms": best * 1000, "records": n}))
`;

/** The python3 that imports XenAPI.py, or undefined. */
function findPython(): string | undefined {
  for (const python of [process.env.XSUPGRADE_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(python, ['-c', 'from os_xenapi.client import XenAPI'], { stdio: 'ignore', timeout: 20_000 });
    if (r.status === 0) return python;
  }
  return undefined;
}

async function botRead(sim: SimHandle, transport: 'xmlrpc' | 'jsonrpc', repeat: number): Promise<{ ms: number; blockMs: number; roundTrips: number }> {
  const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, transport });
  try {
    await client.login();
    await readSnapshot(client); // warm-up: the simulator's encoding caches, the client's connections
    let best = Number.POSITIVE_INFINITY;
    let blockMs = 0;
    let roundTrips = 0;
    for (let i = 0; i < repeat; i++) {
      client.resetCallCount();
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const t0 = performance.now();
      await readSnapshot(client);
      best = Math.min(best, performance.now() - t0);
      h.disable();
      blockMs = Math.max(blockMs, h.max / 1e6);
      roundTrips = client.callCount;
    }
    return { ms: best, blockMs, roundTrips };
  } finally {
    await client.logout().catch(() => undefined);
  }
}

export async function benchRead(opts: { sizes?: number[]; vmsPerHost?: number; repeat?: number; print?: boolean } = {}): Promise<ReadBenchResult> {
  const sizes = opts.sizes ?? [3, 16, 64];
  const vmsPerHost = opts.vmsPerHost ?? 50;
  const repeat = opts.repeat ?? 2;
  const python = findPython();
  const simModule = compiledSimModule();
  const rows: ReadBenchRow[] = [];
  for (const hosts of sizes) {
    const scenario: Scenario = parseScenario(syntheticScenario(hosts, vmsPerHost), `bench-read-${hosts}`);
    const sim = simModule ? await startInWorker(scenario, simModule) : await startInProcess(scenario);
    try {
      const xml = await botRead(sim, 'xmlrpc', repeat);
      const json = await botRead(sim, 'jsonrpc', repeat);
      let pythonMs: number | undefined;
      if (python) {
        // asynchronous: an in-process simulator (under ts-jest) must keep answering while Python reads
        const { stdout: out } = await promisify(execFile)(python, ['-c', PY_READ, sim.masterUrl, sim.username, sim.password, RECORD_CLASSES.join(','), String(repeat)], {
          encoding: 'utf8',
          timeout: 10 * 60_000,
          maxBuffer: 1024 * 1024,
        });
        pythonMs = (JSON.parse(out.trim().split('\n').pop()!) as { ms: number }).ms;
      }
      rows.push({ hosts, vms: hosts * vmsPerHost, roundTrips: json.roundTrips, xmlMs: xml.ms, jsonMs: json.ms, pythonMs, xmlBlockMs: xml.blockMs, jsonBlockMs: json.blockMs });
    } finally {
      await sim.stop();
    }
  }
  const result: ReadBenchResult = { rows, python: python ? `${python} (XenAPI.py from ${pythonXenApiPath(python)})` : 'not installed', simulator: simModule ? 'worker' : 'in-process' };
  if (opts.print ?? true) console.log(formatReadBench(result));
  return result;
}

function pythonXenApiPath(python: string): string {
  try {
    return execFileSync(python, ['-c', 'from os_xenapi.client import XenAPI; print(XenAPI.__file__)'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

const ratio = (bot: number, py: number | undefined): string => (py === undefined ? '–' : `${(bot / py).toFixed(2)}×`);

export function formatReadBench(r: ReadBenchResult): string {
  const table = markdownTable(
    ['hosts', 'VMs', 'round trips', 'bot, XML-RPC', 'bot, JSON-RPC', 'XenAPI.py (XML-RPC)', 'bot ÷ XenAPI.py, XML-RPC', 'bot ÷ XenAPI.py, JSON-RPC', 'longest event-loop block (XML / JSON)'],
    r.rows.map((x) => [
      x.hosts,
      x.vms,
      x.roundTrips,
      ms(x.xmlMs),
      ms(x.jsonMs),
      x.pythonMs === undefined ? '–' : ms(x.pythonMs),
      ratio(x.xmlMs, x.pythonMs),
      ratio(x.jsonMs, x.pythonMs),
      `${ms(x.xmlBlockMs)} / ${ms(x.jsonBlockMs)}`,
    ]),
  );
  return [
    `Reading a pool (11 get_all_records) · simulator in ${r.simulator === 'worker' ? 'a worker thread' : 'the same process'} · python: ${r.python}`,
    '',
    table,
    '',
    'Goals at 64 hosts (issue 13): bot ÷ XenAPI.py ≤ 0.3 over XML-RPC, ≤ 0.1 over JSON-RPC; longest block < 50 ms.',
  ].join('\n');
}

if (require.main === module) {
  const full = process.argv.includes('--sizes') ? process.argv[process.argv.indexOf('--sizes') + 1]!.split(',').map(Number) : undefined;
  benchRead({ sizes: full }).catch((e) => {
    console.error(`bench/read: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
