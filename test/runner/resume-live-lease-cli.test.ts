/**
 * `xsupgrade resume <run> --yes` of a paused run whose pool lease is still held by the runner that just died (its
 * lease has not expired yet): the terminal waits for that lease to expire, takes the run over and drives it to its
 * end. It must not return silently to a wait that nothing will ever end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ScaledClock } from '../../src/clock';
import { run as resume } from '../../src/cli/resume';
import { createCore } from '../../src/core';
import { ConsoleNotifier } from '../../src/core/console';
import { silentLogger } from '../../src/log';
import { loadScenario, startSimulator } from '../../src/sim';
import { openStore } from '../../src/store';
import { recordingNotifier } from './helpers';
import { APPROVER, REQUESTER, poolConfigFor, waitForRun } from './sim-harness';

jest.setTimeout(240_000);

it.each([
  // resume un-pauses the run and asks the engine to drive it (core/run-decisions.ts resume)
  ['paused between two hosts', 'between-hosts'],
  // resume puts it back at its gate, the terminal approves it (--yes) and the engine is asked to drive it (approve)
  ['held at a gate', 'gate'],
] as const)('resume --yes of a run %s whose dead runner still holds the pool lease takes it over once it expires, and ends the run', async (_what, how) => {
  const saved = { ...process.env };
  const clock = new ScaledClock(4000);
  const sim = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-resume-lease-'));
  const pool = poolConfigFor(sim, 'automatic');
  const state = join(dir, 'state.sqlite');
  const env = { XS_SIM_PASSWORD: sim.password, XSUPGRADE_BACKUPS: join(dir, 'backups') };
  const lines: string[] = [];
  const capture = (...a: unknown[]) => void lines.push(a.join(' '));
  const spies: Array<{ mockRestore(): void }> = [jest.spyOn(console, 'log').mockImplementation(capture), jest.spyOn(console, 'error').mockImplementation(capture)];
  // the terminal's notifier, so that a resume that never ends can be let go at the end of the test
  const terminals: ConsoleNotifier[] = [];
  const until = ConsoleNotifier.prototype.until;
  spies.push(jest.spyOn(ConsoleNotifier.prototype, 'until').mockImplementation(function (this: ConsoleNotifier, id: string) {
    terminals.push(this);
    return until.call(this, id);
  }));
  let pending: Promise<number> | undefined;
  try {
    // runner "first" started the run; at the first gate the run was paused: either the gate was approved and the run
    // paused (host 1 finished, nothing else), or the gate itself was held
    const store = await openStore({ path: state, clock });
    const notifier = recordingNotifier({
      approvalNeeded: async (r, s) => {
        if (how === 'gate') return void (await core.hold(r.id, s.id, APPROVER));
        await core.approve(r.id, s.id, APPROVER);
        await core.hold(r.id, undefined, APPROVER);
      },
    });
    const core = await createCore({ pools: [pool], store, notifier, clock, logger: silentLogger, env, ownerId: 'first', leaseTtlMs: 60_000, pollMs: 2000 });
    const plan = await core.plan(pool.name, {}, REQUESTER);
    if (!plan.ok) throw new Error(plan.error);
    const started = await core.start(pool.name, { planHash: plan.value.id }, REQUESTER);
    if (!started.ok) throw new Error(started.error);
    const runId = started.value.id;
    await waitForRun(store, runId, ['paused']);
    await core.whenIdle(runId);
    await core.shutdown();
    // ... and then "first" died: its lease (taken just before, 5 s) outlives it
    const leaseMs = 5_000;
    expect(await store.acquireLease(pool.name, 'first', runId, leaseMs, Date.now())).toMatchObject({ ok: true });
    const expiresAt = Date.now() + leaseMs;
    const paused = (await store.getRun(runId))!;
    expect(paused.state).toBe('paused');
    expect(paused.steps.filter((s) => s.state === 'pending').length).toBeGreaterThan(0);
    await store.close();

    writeFileSync(join(dir, 'pools.yaml'), YAML.stringify({ pools: [pool] }));
    Object.assign(process.env, { XSUPGRADE_POOLS: join(dir, 'pools.yaml'), XSUPGRADE_STATE: state, XSUPGRADE_LOG_LEVEL: 'silent', XSUPGRADE_POLL_MS: '500', ...env });
    pending = resume([runId, '--yes']);
    let exit: number | undefined;
    void pending.then((code) => (exit = code));

    // within 30 s after the dead runner's lease expired, the terminal holds the lease (it drives the run) or has ended
    const watch = await openStore({ path: state, clock });
    try {
      const deadline = expiresAt + 30_000;
      for (;;) {
        const lease = await watch.getLease(pool.name);
        if (exit !== undefined || (lease && lease.owner !== 'first')) break;
        if (Date.now() > deadline) {
          const run = (await watch.getRun(runId))!;
          throw new Error(
            `30 s after the dead runner's lease expired, nothing drives run ${runId}: run ${run.state}, ` +
              `lease ${lease ? `${lease.owner} until ${new Date(lease.expiresAt).toISOString()}` : 'none'}, ` +
              `next ${run.steps.find((s) => s.state !== 'done' && s.state !== 'skipped')?.id}; the terminal printed:\n${lines.join('\n') || '(nothing)'}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await pending).toBe(0);
      pending = undefined;
      // the wait was said, not silent
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^the lease of pool ${pool.name} is held by first \\(run ${runId}\\) until \\S+: if that runner stopped, this terminal takes the run over when the lease expires`)));
      const done = (await watch.getRun(runId))!;
      expect(done.state).toBe('done');
      expect(sim.inspect().hosts.map((h) => h.productVersion)).toEqual(['7.6.0', '7.6.0', '7.6.0']);
      expect((await watch.listAudit(runId)).some((e) => e.kind === 'lease' && e.detail?.previousOwner === 'first')).toBe(true);
    } finally {
      await watch.close();
    }
  } finally {
    if (pending) {
      // let a resume that would wait forever go (its run "ends" for the terminal only, not done: exit 1), so that it closes its core
      for (const t of terminals) (t as unknown as { finished: Map<string, (r: unknown) => void> }).finished.forEach((f) => f({ state: 'paused' }));
      await pending.catch(() => undefined);
    }
    for (const s of spies) s.mockRestore();
    process.env = saved;
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
