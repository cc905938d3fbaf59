/**
 * Well-known XenAPI clients against the simulator (issue 12, "Done when"): Xen Orchestra's `xen-api` npm client
 * (JSON-RPC first, object cache through event.from, an Async call) and the vendor SDK's Python XenAPI.py
 * (XML-RPC, HOST_IS_SLAVE, records, a task). Each runs as a child process and prints what it saw.
 *
 * XenAPI.py needs python3 with Debian's python3-os-xenapi (.ci/run installs it). Without it the Python test is
 * skipped with the reason printed, unless XSUPGRADE_COMPAT_REQUIRED=1 (npm run test:compat), where it fails.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ScaledClock } from '../../src/clock';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { projectFile } from '../../bench/harness';

const run = promisify(execFile);

/** The python3 that can import XenAPI.py, or the reason there is none (checked once, before the tests are declared). */
function findXenApiPy(): { python: string } | { missing: string } {
  for (const python of [process.env.XSUPGRADE_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    try {
      execFileSync(python, ['-c', 'from os_xenapi.client import XenAPI'], { timeout: 20_000, stdio: 'ignore' });
      return { python };
    } catch {
      // try the next
    }
  }
  return { missing: 'no python3 can import XenAPI.py (Debian package python3-os-xenapi; .ci/run installs it)' };
}

const xenapiPy = findXenApiPy();
if ('missing' in xenapiPy) {
  if (process.env.XSUPGRADE_COMPAT_REQUIRED === '1') throw new Error(`XSUPGRADE_COMPAT_REQUIRED=1 but ${xenapiPy.missing}`);
  console.log(`SKIPPED the XenAPI.py compatibility test: ${xenapiPy.missing}`);
}

let sim: SimPool;

beforeEach(async () => {
  sim = await startSimulator(loadScenario(projectFile('manifests/demo/pool-a.yaml')), { clock: new ScaledClock(2000) });
});
afterEach(() => sim.stop());

function parseLast(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

test("Xen Orchestra's xen-api: connects (JSON-RPC), fills its object cache, runs an Async call to completion", async () => {
  const { stdout } = await run(process.execPath, [join(__dirname, 'xo-client.mjs'), sim.masterUrl, sim.username, sim.password], { timeout: 60_000 });
  const out = parseLast(stdout);
  expect(out.error).toBeUndefined();
  expect(out.ok).toBe(true);
  expect(out.pool).toBe('pool-a');
  expect(out.hosts).toEqual(sim.hosts().map((h) => h.name).sort());
  expect((out.vms as string[]).length).toBe(sim.inspect().vms.length);
  expect(out.result).toBe(''); // VM.pool_migrate returns void
  expect(out.residentAfter).toBe((out.migrated as { to: string }).to);
  expect(sim.stats().calls['event.from']).toBeGreaterThan(0);
  expect(sim.stats().calls['http:/jsonrpc']).toBeGreaterThan(0); // it spoke JSON-RPC, as it does with a real 7.1+
}, 90_000);

const withPython = 'python' in xenapiPy ? test : test.skip;

withPython('the vendor SDK XenAPI.py: logs in on a slave, follows HOST_IS_SLAVE, reads records, waits on a task', async () => {
  const found = xenapiPy as { python: string };
  const slave = sim.hosts().find((h) => h.role === 'slave')!;
  const { stdout } = await run(found.python, [join(__dirname, 'xenapi_py_client.py'), slave.url, sim.username, sim.password], { timeout: 60_000 });
  const out = parseLast(stdout);
  expect(out.error).toBeUndefined();
  expect(out.ok).toBe(true);
  expect(out.redirected).toBe(true);
  expect(out.hosts).toEqual(sim.hosts().map((h) => h.name).sort());
  expect(out.task_status).toBe('success');
  expect(out.resident_after).toBe((out.migrated as { to: string }).to);
  expect(sim.stats().calls['http:/jsonrpc']).toBeUndefined(); // XenAPI.py is XML-RPC only
}, 90_000);
