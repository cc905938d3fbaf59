/**
 * R4.1 roll back the master. The click is taken while the pool cannot be read (recovery.ts checkAgainstPool: the
 * master is down, which is the situation R4.1 is for); once the master is back on its old version the procedure
 * checks the members again and refuses when one already runs the target (recovery-procedures.ts, aheadRefusal).
 * The roll-back has sent nothing to the pool then (phase await-original): the alert that follows offers Retry (fix the
 * master's upgrade), Roll back master (again, once those hosts are on the old version) and Abort, and its message
 * names exactly those. A stale alert is still refused by its attempt, and a roll-back chosen again resumes its phase.
 */
import { openStore } from '../../src/store';
import { silentLogger } from '../../src/log';
import { Engine, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import { checkAgainstPool, checkRequest, recoveryMutation, validActions, type RecoveryState } from '../../src/runner/recovery';
import type { StepRecord } from '../../src/domain/types';
import { FakePool } from './fake-pool';
import { fastClock, makePlan, makeRun, recordingNotifier, scriptedSteps, testRunnerConfig } from './helpers';

const H = FakePool.hostRef;

it('roll back refused by the procedure because a member already runs the target: the new alert offers exactly the actions its message names, Retry included', async () => {
  const clock = fastClock();
  const store = await openStore({ path: ':memory:', clock });
  // the master h1 is back live on its old version 7.1.1; the member h2 was upgraded to 7.6.0 meanwhile (by hand)
  const pool = new FakePool([{ name: 'h1', master: true, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'], product: '7.6.0', platform: '2.7.0' }], []);
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: (cls) => pool.getAllRecords(cls),
    call: async <T>(method: string): Promise<T> => {
      const m = /^(\w+)\.get_all_records$/.exec(method);
      if (!m) throw new Error(`unexpected call ${method}`);
      return pool.wire(m[1]!) as T;
    },
    callAsync: async () => {
      throw new Error('nothing may be sent');
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  const notifier = recordingNotifier();
  const { registry } = scriptedSteps();
  const rt: PoolRuntime = { steps: registry, deps: { client, store, clock, notifier, logger: silentLogger, config: testRunnerConfig('10.0.0.1') } };
  const engine = new Engine({ store, clock, notifier, logger: silentLogger, ownerId: 'runner-a', runtime: () => rt });
  try {
    const plan = makePlan(['h1', 'h2']);
    for (const s of plan.steps) if (s.hostName) s.host = H(s.hostName);
    for (const hp of plan.hosts) hp.host = H(hp.name);
    const run = makeRun(plan);
    // the master's install failed: the run stopped at h1:wait-host, no member upgraded by the run
    run.state = 'failed';
    for (const s of run.steps) if (s.id === 'backup' || ['h1:disable', 'h1:evacuate', 'h1:approval', 'h1:upgrade'].includes(s.id)) s.state = 'done';
    const failed = run.steps.find((s) => s.id === 'h1:wait-host')!;
    Object.assign(failed, { state: 'failed', attempts: 1, error: { message: 'h1 did not come back on 7.6.0', code: 'UPGRADE_NOT_APPLIED' } });
    await store.createRun(run);
    // the operator chose "roll back the master" (accepted while the pool could not be read)
    await store.updateRun(run.id, recoveryMutation({ action: 'rollback-master', stepId: failed.id, attempt: 1 }, 'UAPPROVER1', { revision: run.revision }));

    engine.drive(run.id);
    await engine.whenIdle(run.id);

    const after = (await store.getRun(run.id))!;
    const step = after.steps.find((s) => s.id === failed.id)!;
    expect(after.state).toBe('failed');
    // the procedure stopped before it changed anything: still waiting for the original version, guidance given once
    expect(step.data?.recovery).toMatchObject({ action: 'rollback-master', phase: 'await-original', guided: true });
    const alert = notifier.calls.filter((c) => c.method === 'stepFailed').pop()!;
    expect(alert.actions).toEqual(['retry', 'rollback-master', 'abort']);
    // the message names exactly the actions offered
    expect(step.error?.message).toBe(
      "rollback refused: h2 already run XenServer 7.6; a master rolled back below its members breaks the pool (R4.1). Decide: fix the master's upgrade and retry, or reinstall h2 on the old version, then roll back the master again, or abort the run",
    );
    // the roll back offered again is refused by the same check while h2 runs the target, with the same ways out
    const again = await checkAgainstPool(rt, after, step, { action: 'rollback-master', stepId: step.id, attempt: step.attempts });
    expect(again).toEqual({ ok: false, code: 'conflict', error: step.error?.message });

    // the alert before the procedure (attempt 1) is stale: refused
    expect(checkRequest(after, { action: 'retry', stepId: step.id, attempt: 1 })).toMatchObject({ ok: false, code: 'conflict' });
    // Retry from the new alert is accepted: the wait for the master on the target runs again, out of the roll-back
    const retried = structuredClone(after);
    recoveryMutation({ action: 'retry', stepId: step.id, attempt: step.attempts }, 'UAPPROVER1', { revision: after.revision })(retried);
    const r = retried.steps.find((s) => s.id === step.id)!;
    expect({ state: r.state, recovery: r.data?.recovery, run: retried.state }).toEqual({ state: 'pending', recovery: undefined, run: 'running' });
    // Roll back chosen again from the new alert resumes the procedure where it was (guidance not given twice)
    const resumed = structuredClone(after);
    recoveryMutation({ action: 'rollback-master', stepId: step.id, attempt: step.attempts }, 'UAPPROVER1', { revision: after.revision })(resumed);
    expect(resumed.steps.find((s) => s.id === step.id)!.data?.recovery).toMatchObject({ action: 'rollback-master', phase: 'await-original', guided: true });
  } finally {
    await engine.shutdown();
    await store.close();
  }
});

it('a roll-back that failed after it re-enabled the master on its old version offers only finishing it or Abort', () => {
  const plan = makePlan(['h1', 'h2']);
  const run = makeRun(plan);
  run.state = 'failed';
  const step = run.steps.find((s) => s.id === 'h1:wait-host')!;
  const failedIn = (phase: RecoveryState['phase']): StepRecord => ({
    ...step,
    state: 'failed',
    attempts: 2,
    data: { recovery: { action: 'rollback-master', phase, by: 'UAPPROVER1', guided: true } satisfies RecoveryState },
  });
  expect(validActions(run, failedIn('await-original'))).toEqual(['retry', 'rollback-master', 'abort']);
  expect(validActions(run, failedIn('enable'))).toEqual(['rollback-master', 'abort']);
  expect(validActions(run, failedIn('restore'))).toEqual(['rollback-master', 'abort']);
});
