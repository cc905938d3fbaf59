/**
 * "Pause means paused" (README). A run a human paused between two hosts stays paused across a restart of the bot (or
 * the start of another replica: every replica runs recoverRuns at start). recoverRuns neither drives it nor tells its
 * thread it is resuming; its audit says it stays paused.
 */
import { openStore } from '../../src/store';
import { silentLogger } from '../../src/log';
import { Engine, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import { fastClock, makePlan, makeRun, recordingNotifier, scriptedSteps, testRunnerConfig } from './helpers';

describe('restart with a run paused between hosts', () => {
  it('the run stays paused, its thread is not told it resumes, and the audit says it stays paused', async () => {
    const clock = fastClock();
    const store = await openStore({ path: ':memory:', clock });
    try {
      const notifier = recordingNotifier();
      const { registry, seen } = scriptedSteps();
      const client = { reconnect: async () => undefined } as unknown as PoolClient;
      const rt: PoolRuntime = { steps: registry, deps: { client, store, clock, notifier, logger: silentLogger, config: testRunnerConfig('127.0.0.1') } };
      // h1 is done; a human paused the run before h2 (Hold)
      const run = makeRun(makePlan(['h1', 'h2']));
      for (const s of run.steps) if (s.id === 'backup' || s.id.startsWith('h1:')) s.state = 'done';
      run.approvals.push({ stepId: 'h1:approval', decision: 'approved', by: 'U2', at: 1 });
      run.state = 'paused';
      run.pausedBy = { userId: 'U0OPS', source: 'slack', at: 1 };
      await store.createRun(run);

      const engine = new Engine({ store, clock, notifier, logger: silentLogger, ownerId: 'runner-restarted', runtime: () => rt, leaseTtlMs: 3000 });
      expect(await engine.recoverRuns()).toEqual([]);
      await engine.whenIdle(run.id);
      await engine.shutdown();

      expect(seen).toEqual([]);
      expect((await store.getRun(run.id))!.state).toBe('paused');
      const said = notifier.calls.filter((c) => c.method === 'runEvent' && c.runId === run.id).map((c) => c.text);
      expect(said.filter((t) => /resuming/i.test(t ?? ''))).toEqual([]);
      const resume = (await store.listAudit(run.id)).filter((e) => e.kind === 'resume').map((e) => e.message);
      expect(resume).toEqual([expect.stringMatching(/stays paused at h2:disable \(pending\) until someone resumes it/)]);
    } finally {
      await store.close();
    }
  });

  it('a run paused mid-host (its gate approved before the Hold): the host in progress finishes, and the thread is told so', async () => {
    const clock = fastClock();
    const store = await openStore({ path: ':memory:', clock });
    try {
      const notifier = recordingNotifier();
      const { registry, seen } = scriptedSteps();
      const client = { reconnect: async () => undefined } as unknown as PoolClient;
      const rt: PoolRuntime = { steps: registry, deps: { client, store, clock, notifier, logger: silentLogger, config: testRunnerConfig('127.0.0.1') } };
      const run = makeRun(makePlan(['h1', 'h2']));
      for (const s of run.steps) if (s.id === 'backup' || s.id.startsWith('h1:') || ['h2:disable', 'h2:evacuate', 'h2:approval'].includes(s.id)) s.state = 'done';
      run.approvals.push({ stepId: 'h2:approval', decision: 'approved', by: 'U2', at: 1 });
      run.state = 'paused';
      run.pausedBy = { userId: 'U0OPS', source: 'slack', at: 2 };
      await store.createRun(run);

      const engine = new Engine({ store, clock, notifier, logger: silentLogger, ownerId: 'runner-restarted', runtime: () => rt, leaseTtlMs: 3000 });
      expect(await engine.recoverRuns()).toEqual([run.id]);
      await engine.whenIdle(run.id);
      await engine.shutdown();

      const after = (await store.getRun(run.id))!;
      expect(after.state).toBe('paused');
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((x) => x.id.startsWith('h2:'))).toBe(true);
      expect(after.steps.find((s) => s.id === 'pool-finish')!.state).toBe('pending');
      const said = notifier.calls.filter((c) => c.method === 'runEvent' && c.runId === run.id).map((c) => c.text);
      expect(said).toContainEqual(expect.stringMatching(/^The runner restarted; the run is paused: it finishes the host in progress, resuming at h2:\S+ \(pending\), then stays paused until someone resumes it/));
    } finally {
      await store.close();
    }
  });
});
