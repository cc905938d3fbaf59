/**
 * `xsupgrade resume <run> --yes` on hop 1 of a multi-hop upgrade (R1.4): once that hop is done it goes on to the
 * next one, as `xsupgrade run` does, and exits 0 only with the pool on the final target.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ScaledClock } from '../../src/clock';
import { run as resume } from '../../src/cli/resume';
import { createCore } from '../../src/core';
import { bootFromMedia } from '../../src/core/rehearsal';
import { scenarioHops } from '../../src/core/scenario-mode';
import { silentLogger } from '../../src/log';
import { loadScenario, startSimulator } from '../../src/sim';
import { openStore } from '../../src/store';
import { recordingNotifier } from './helpers';
import { APPROVER, REQUESTER, poolConfigFor, waitForRun } from './sim-harness';

jest.setTimeout(240_000);

it('resume --yes of a held first hop goes through the second hop too, and exits 0 only with every host on 7.6', async () => {
  const saved = { ...process.env };
  const clock = new ScaledClock(4000);
  const scenario = loadScenario('manifests/demo/pool-legacy.yaml');
  const sim = await startSimulator(scenario, { clock });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-resume-hops-'));
  const pool = poolConfigFor(sim, 'manual', { hops: scenarioHops(scenario) });
  const state = join(dir, 'state.sqlite');
  const env = { XS_SIM_PASSWORD: sim.password, XSUPGRADE_BACKUPS: join(dir, 'backups') };
  const lines: string[] = [];
  const capture = (...a: unknown[]) => {
    const line = a.join(' ');
    lines.push(line);
    // the operator at the console boots each host of the manual hop from the installer when the run says so
    const shutting = /: (\S+) is shutting down\. Boot it from/.exec(line);
    if (shutting) void bootFromMedia(sim, clock, shutting[1]!);
  };
  const spies = [jest.spyOn(console, 'log').mockImplementation(capture), jest.spyOn(console, 'error').mockImplementation(capture)];
  try {
    // hop 1 started elsewhere and held at its first gate, in the state file the terminal opens
    const store = await openStore({ path: state, clock });
    const notifier = recordingNotifier({ approvalNeeded: async (r, s) => void (await core.hold(r.id, s.id, APPROVER)) });
    const core = await createCore({ pools: [pool], store, notifier, clock, logger: silentLogger, env, ownerId: 'first', leaseTtlMs: 60_000, pollMs: 2000 });
    const plan = await core.plan(pool.name, {}, REQUESTER);
    if (!plan.ok) throw new Error(plan.error);
    expect(plan.value.target.product).toBe('7.1.1');
    const started = await core.start(pool.name, { planHash: plan.value.id }, REQUESTER);
    if (!started.ok) throw new Error(started.error);
    await waitForRun(store, started.value.id, ['paused']);
    await core.shutdown();
    await store.close();

    writeFileSync(join(dir, 'pools.yaml'), YAML.stringify({ pools: [pool] }));
    Object.assign(process.env, { XSUPGRADE_POOLS: join(dir, 'pools.yaml'), XSUPGRADE_STATE: state, XSUPGRADE_LOG_LEVEL: 'silent', ...env });
    expect(await resume([started.value.id, '--yes'])).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/hop 1 of 2 is done: the pool is not on 7\.6 yet/);
    expect(text).toMatch(/hop 2 of 2 started \(--yes\)/);
    expect(sim.inspect().hosts.map((h) => h.productVersion)).toEqual(['7.6.0', '7.6.0', '7.6.0']);
  } finally {
    for (const s of spies) s.mockRestore();
    process.env = saved;
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
