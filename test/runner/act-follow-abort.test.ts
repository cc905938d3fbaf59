/**
 * A step's own slow action (ctx.act with async: a VM stop, start or migration the bot sends, followed by its task)
 * stops being followed when the run is aborted: the task wait is given the step's signal (TaskWaitOptions.signal),
 * so the step does not stay blocked on the pool for up to the wait's deadline (6 h by default) while the run is shown
 * as aborted. The call itself, once sent, is the pool's: nothing cancels it.
 */
import { openStore } from '../../src/store';
import { silentLogger } from '../../src/log';
import { auditor } from '../../src/runner/audit';
import { Engine, type PoolRuntime } from '../../src/runner/engine';
import type { PoolClient } from '../../src/runner/ports';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { FakePool } from './fake-pool';
import { fastClock, makePlan, makeRun, recordingNotifier, testRunnerConfig } from './helpers';

test('ctx.act of a slow call follows its task with the step\'s signal: an abort stops the following, the call was sent once', async () => {
  const clock = fastClock();
  const store = await openStore({ path: ':memory:', clock });
  const pool = new FakePool([{ name: 'h1', master: true, srs: ['nfs'] }], []);
  const sent: string[] = [];
  let following: TaskWaitOptions | undefined;
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: (cls) => pool.getAllRecords(cls),
    call: async <T>(): Promise<T> => undefined as T,
    // as the real client: the call is sent, then its task followed until it ends or the signal aborts
    callAsync: async <T>(method: string, _params: unknown[] = [], o: TaskWaitOptions = {}): Promise<T> => {
      sent.push(`Async.${method}`);
      following = o;
      return new Promise<T>((_, reject) => {
        if (!o.signal) return; // followed until the task ends: never, here
        o.signal.addEventListener('abort', () => reject(o.signal!.reason), { once: true });
      });
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  const notifier = recordingNotifier();
  const rt = { steps: {}, deps: { client, store, clock, notifier, logger: silentLogger, config: testRunnerConfig('10.0.0.1') } } as unknown as PoolRuntime;
  const engine = new Engine({ store, clock, notifier, logger: silentLogger, ownerId: 'runner-a', runtime: () => rt });
  const run = makeRun(makePlan(['h1']));
  await store.createRun(run);
  const lease = await store.acquireLease(run.pool, 'runner-a', run.id, 60_000, clock.now());
  if (!lease.ok) throw new Error('no lease');
  const stepId = run.steps[0]!.id;
  const controller = new AbortController();
  const ctx = engine.contextFor(run, stepId, controller.signal, rt, { store, audit: auditor(store, clock) });

  const acting = ctx.act('VM.clean_shutdown', ['OpaqueRef:vm1'], 'vm1', { async: true });
  const outcome = acting.then(
    () => 'returned',
    (err: unknown) => err,
  );
  await new Promise((r) => setTimeout(r, 20));
  expect(sent).toEqual(['Async.VM.clean_shutdown']);
  expect(following?.signal).toBeDefined();
  const reason = new Error('run aborted by an operator');
  controller.abort(reason);
  const ended = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('still following'), 1_000))]);
  expect(ended).toBe(reason);
  expect(sent).toEqual(['Async.VM.clean_shutdown']); // sent once, nothing cancelled or sent after
});
