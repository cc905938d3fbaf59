/**
 * Skip host at a failed restore-vms (src/core/run-decisions.ts stoppedVmsNow): the message says, from the pool read
 * at that moment, what became of the VMs the run stopped for the host (its stop-vms records that count as stopped by
 * the run, mayHaveStopped, as the end audit reads them); when the pool cannot be read it says so and words which stay
 * stopped as an inference.
 */
import { stoppedVmsNow } from '../../src/core/run-decisions';
import type { Run } from '../../src/domain/types';
import type { PoolClient } from '../../src/runner/ports';
import type { StoppedVm } from '../../src/runner/steps/stop-vms';
import { FakePool } from '../runner/fake-pool';
import { makePlan, makeRun } from '../runner/helpers';

const V = FakePool.vmRef;

function runWithStops(stopped: Record<string, StoppedVm>): Run {
  const run = makeRun(makePlan(['h1', 'h2']));
  run.steps.push({ id: 'h2:stop-vms', kind: 'stop-vms', host: FakePool.hostRef('h2'), hostName: 'h2', state: 'done', attempts: 1, data: { stopped } } as Run['steps'][number]);
  return run;
}

function clientOf(pool: FakePool | Error): PoolClient {
  return {
    masterAddress: '10.0.0.1',
    getAllRecords: async () => ({}),
    call: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      if (pool instanceof Error) throw pool;
      if (method === 'VM.get_record') {
        const rec = pool.wire('VM')[String(params[0])];
        if (!rec) throw Object.assign(new Error('HANDLE_INVALID'), { code: 'HANDLE_INVALID' });
        return rec as T;
      }
      const m = /^(\w+)\.get_all_records$/.exec(method);
      if (!m) throw new Error(`unexpected call ${method}`);
      return pool.wire(m[1]!) as T;
    },
    callAsync: async () => {
      throw new Error('nothing may be sent');
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  };
}

const rec = (name: string, extra: Partial<StoppedVm> = {}): StoppedVm => ({ name, priorState: 'Running', host: FakePool.hostRef('h2'), action: 'shutdown', stopped: true, ...extra });

it('names the VMs that stay stopped and those running again, as the pool shows them; not the VMs the run did not stop', async () => {
  const pool = new FakePool(
    [{ name: 'h1', master: true, srs: ['nfs'] }, { name: 'h2', srs: ['nfs'] }],
    [
      { name: 'back', host: 'h2', memGiB: 1, disks: ['nfs'] },
      { name: 'down', host: 'h2', memGiB: 1, disks: ['nfs'], power: 'Halted' },
      { name: 'was-off', host: 'h2', memGiB: 1, disks: ['nfs'], power: 'Halted' },
      { name: 'refused', host: 'h2', memGiB: 1, disks: ['nfs'], power: 'Halted' },
    ],
  );
  const run = runWithStops({
    [V('back')]: rec('back'),
    [V('down')]: rec('down'),
    [V('deleted')]: rec('deleted'),
    // already halted when the step looked, and a stop xapi refused: not stopped by the run
    [V('was-off')]: rec('was-off', { untouched: true }),
    [V('refused')]: rec('refused', { stopped: false }),
  });
  expect(await stoppedVmsNow(clientOf(pool), run, 'h2')).toBe(
    "Of the VMs this run stopped for it, the pool shows: down (Halted) stays stopped (start it yourself; the run's end lists it); back is running again; deleted no longer exists in the pool.",
  );
});

it('the pool cannot be read: says so, and which VMs stay stopped only as the bot\'s inference', async () => {
  const run = runWithStops({ [V('a')]: rec('a'), [V('b')]: rec('b'), [V('off')]: rec('off', { untouched: true }) });
  expect(await stoppedVmsNow(clientOf(new Error('connect ECONNREFUSED 10.0.0.1:443')), run, 'h2')).toBe(
    "The pool could not be read to see which of the VMs this run stopped for it (a, b) run again (connect ECONNREFUSED 10.0.0.1:443): the bot concludes that those restore-vms did not start stay stopped (start them yourself; the run's end lists the ones still down).",
  );
});
