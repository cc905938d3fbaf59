/**
 * The read bench's simulator in a process of its own at nice 19 (bench/sim-process.ts, bench/read.ts): every thread
 * of that process, those it had before the simulator started and those made after (libuv's pool, on the first
 * file or crypto work), runs at the lowest priority, so on this machine it takes only the CPU the bot leaves idle.
 *
 * The child runs the compiled bench (dist/), as under npm run bench: without a build, or off Linux, the test says
 * why it does not run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';
import { syntheticScenario } from '../../bench/plan';

const dist = join(__dirname, '../../dist');
const compiledBench = join(dist, 'bench/sim-process.js');
const compiledSim = join(dist, 'src/sim/index.js');
const why = process.platform !== 'linux' ? 'not Linux' : !existsSync(compiledBench) || !existsSync(compiledSim) ? 'no compiled bench (npm run build)' : undefined;
const maybe = why ? it.skip : it;
if (why) console.log(`test/bench/sim-process: skipped (${why})`);

/** The nice value of every thread of process `pid` (field 19 of /proc/<pid>/task/<tid>/stat). */
function niceOfThreads(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('bench: the simulator in a process of its own', () => {
  maybe('runs every thread at the nice value asked for, also after it has served a read', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startInChildProcess } = require(compiledBench) as typeof import('../../bench/sim-process');
    const sim = await startInChildProcess(parseScenario(syntheticScenario(2, 2), 'nice-test'), compiledSim, undefined, 19);
    try {
      expect(sim.niced).toBe(true);
      const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, transport: 'xmlrpc' });
      await client.login();
      expect(Object.keys(await client.getAllRecords('host'))).toHaveLength(2);
      await client.logout();
      const nices = niceOfThreads(sim.pid);
      expect(nices.length).toBeGreaterThan(1);
      expect(new Set(nices)).toEqual(new Set([19]));
      // and the test's own process is left as it was
      expect(getPriority()).not.toBe(19);
    } finally {
      await sim.stop();
    }
  });

  maybe("without a nice value, leaves the process at its parent's priority", async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startInChildProcess } = require(compiledBench) as typeof import('../../bench/sim-process');
    const sim = await startInChildProcess(parseScenario(syntheticScenario(2, 2), 'nice-test'), compiledSim);
    try {
      expect(sim.niced).toBe(false);
      expect(new Set(niceOfThreads(sim.pid))).toEqual(new Set([getPriority()]));
    } finally {
      await sim.stop();
    }
  });
});
