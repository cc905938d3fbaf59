/** The CLI commands of the runner, called in-process: rehearse, run --yes, status, abort. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ScaledClock } from '../../src/clock';
import { run as rehearse } from '../../src/cli/rehearse';
import { run as runCmd } from '../../src/cli/run';
import { run as status } from '../../src/cli/status';
import { run as abort } from '../../src/cli/abort';
import { loadScenario, startSimulator } from '../../src/sim';
import { poolConfigFor } from './sim-harness';
import type { PoolConfig } from '../../src/config/pools';
import { scenarioHops } from '../../src/core/scenario-mode';
import { bootFromMedia } from '../../src/core/rehearsal';

function captureConsole(onLine: (line: string) => void = () => undefined) {
  const lines: string[] = [];
  const push = (...a: unknown[]) => {
    const line = a.join(' ');
    lines.push(line);
    onLine(line);
  };
  const log = jest.spyOn(console, 'log').mockImplementation(push);
  const err = jest.spyOn(console, 'error').mockImplementation(push);
  return { lines, restore: () => (log.mockRestore(), err.mockRestore()) };
}

describe('xsupgrade rehearse', () => {
  it('runs a scenario end to end with gates auto-approved and prints the summary', async () => {
    const out = captureConsole();
    try {
      expect(await rehearse(['manifests/demo/pool-a.yaml', '--scale', '4000'])).toBe(0);
    } finally {
      out.restore();
    }
    const text = out.lines.join('\n');
    expect(text).toMatch(/rehearsal pool-a-\d{8}-1: done/);
    expect(text).toMatch(/migrations: {2}\d+/);
    expect(text).toMatch(/VMs stopped: 2/); // vm-licence-srv (local disk) and monitor-01 (no PV drivers)
    expect(text).toMatch(/shutdowns: {3}xs-a1×1, xs-a2×1, xs-a3×1/);
    expect(text).toMatch(/failures: {4}none/);
  });

  it('with --fail <host>: reports the failure, the recovery actions offered, and exits 1', async () => {
    const out = captureConsole();
    try {
      expect(await rehearse(['manifests/demo/pool-a.yaml', '--scale', '4000', '--fail', 'xs-a1'])).toBe(1);
    } finally {
      out.restore();
    }
    const text = out.lines.join('\n');
    expect(text).toMatch(/FAILED xs-a1:wait-host: .*not 7\.6\.0/);
    expect(text).toMatch(/recovery actions offered: retry, rollback-master, abort/);
    expect(text).toMatch(/rehearsal .*: aborted/);
  });

  it('refuses an unknown scenario or pool with a message naming it', async () => {
    const saved = process.env.XSUPGRADE_POOLS;
    delete process.env.XSUPGRADE_POOLS;
    try {
      await expect(rehearse(['no-such-pool'])).rejects.toThrow(/no-such-pool is not a file, and XSUPGRADE_POOLS is not set/);
    } finally {
      if (saved !== undefined) process.env.XSUPGRADE_POOLS = saved;
    }
  });
});

describe('xsupgrade run / status / abort', () => {
  const saved = { ...process.env };
  let dir = '';
  afterEach(() => {
    process.env = { ...saved };
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The CLI's environment: a pools file with `pool` alone, state and backups in the test's folder */
  const usePool = (pool: PoolConfig, password: string): void => {
    writeFileSync(join(dir, 'pools.yaml'), YAML.stringify({ pools: [pool] }));
    Object.assign(process.env, {
      XSUPGRADE_POOLS: join(dir, 'pools.yaml'),
      XSUPGRADE_STATE: join(dir, 'state.sqlite'),
      XSUPGRADE_BACKUPS: join(dir, 'backups'),
      XS_SIM_PASSWORD: password,
      XSUPGRADE_LOG_LEVEL: 'silent',
    });
  };

  it('run <pool> --yes upgrades a stand-alone host; status shows the run; abort of a finished run is refused', async () => {
    const sim = await startSimulator(loadScenario('manifests/demo/standalone.yaml'), { clock: new ScaledClock(4000) });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-cli-'));
    const pool = poolConfigFor(sim, 'automatic');
    usePool(pool, sim.password);
    const out = captureConsole();
    try {
      expect(await runCmd(['standalone', '--yes'])).toBe(0);
      const text = out.lines.join('\n');
      expect(text).toMatch(/gate xs-solo:approval approved \(--yes\)/);
      expect(text).toMatch(/done: done: every host on 7\.6\.0 and enabled/);
      // no scheduler ticks the Tools follow-up in a terminal run, and there is no thread: it names who keeps it (R5.1)
      expect(text).toMatch(/upgrade the XenServer Tools in: dev-box, fileserver, printserver \(R5\.1\); no Tools checklist follows from this process: `xsupgrade serve` on the same state keeps it/);
      expect(text).not.toMatch(/in this thread/);
      expect(sim.inspect().hosts[0]!.productVersion).toBe('7.6.0');
      out.lines.length = 0;
      expect(await status([])).toBe(0);
      const id = /^(standalone-\d{8}-1)\s+done/.exec(out.lines[0]!)?.[1];
      expect(id).toBeDefined();
      out.lines.length = 0;
      expect(await status([id!])).toBe(0);
      expect(out.lines.join('\n')).toMatch(/approved xs-solo:approval by cli:/);
      expect(await abort([id!])).toBe(1);
      expect(out.lines.join('\n')).toMatch(/already done/);
    } finally {
      out.restore();
      await sim.stop();
    }
  });

  it('run <pool> --yes goes through every hop of a multi-hop upgrade (R1.4): it exits 0 only once the pool is on the final target', async () => {
    const clock = new ScaledClock(4000);
    const scenario = loadScenario('manifests/demo/pool-legacy.yaml');
    const sim = await startSimulator(scenario, { clock });
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-cli-'));
    // hop 1 (to 7.1 CU1) automatic from the scenario's repository; hop 2 (to 7.6) manual: the test boots the installer
    const pool = poolConfigFor(sim, 'manual', { hops: scenarioHops(scenario) });
    usePool(pool, sim.password);
    // the operator at the console: boots each host of the manual hop from the installer when the run says so
    const out = captureConsole((line) => {
      const shutting = /: (\S+) is shutting down\. Boot it from/.exec(line);
      if (shutting) void bootFromMedia(sim, clock, shutting[1]!);
    });
    try {
      expect(await runCmd([pool.name, '--yes'])).toBe(0);
      const text = out.lines.join('\n');
      // hop 1 done, then hop 2's plan shown whole, then started
      const done1 = text.indexOf('hop 1 of 2 is done: the pool is not on 7.6 yet');
      const plan2 = text.search(/Plan for pool-legacy → XenServer 7\.6/);
      const start2 = text.indexOf('hop 2 of 2 started (--yes)');
      expect([done1, plan2, start2].every((i) => i >= 0)).toBe(true);
      expect(done1 < plan2 && plan2 < start2).toBe(true);
      expect(text).toMatch(/next hop planned from the live pool/i);
      expect(sim.inspect().hosts.map((h) => h.productVersion)).toEqual(['7.6.0', '7.6.0', '7.6.0']);
    } finally {
      out.restore();
      await sim.stop();
    }
  }, 240_000);
});
