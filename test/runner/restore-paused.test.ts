/**
 * Restore after an abort (src/runner/restore.ts) puts each VM the run stopped back as it was before the run, by the
 * same rule as restore-vms (R3.7/R6.2; stop-vms records its priorState): a VM that was Paused comes back Paused
 * (VM.resume_on / VM.start_on with start_paused=true, as real xapi honours it), never Running, and VM.unpause is never
 * sent. A VM found up in the other state (Paused though it was Running: someone paused it since the run stopped it;
 * or Running though it was Paused) is left as it is: not counted as put back, and Restore's not-done list says so.
 */
import type { RestoreRecord, Run } from '../../src/domain/types';
import { executeRestore, restoreOffer } from '../../src/runner/restore';
import type { PoolClient } from '../../src/runner/ports';
import type { StoppedVm } from '../../src/runner/steps/stop-vms';
import { fastClock } from './helpers';
import { abortedAtH2StopVms, H2, poolReads } from './restore-fixture';

const VM = 'OpaqueRef:vm1';
const NULL = 'OpaqueRef:NULL';

/** an aborted run whose h2:stop-vms stopped vm1 (its record `rec`); restore-vms of h2 not run */
const abortedRun = (rec: StoppedVm): Run => abortedAtH2StopVms({ [VM]: rec }, 'done');

/** a pool of h1, h2 and vm1 that honours start_paused as real xapi does; every call sent through Async. */
function world(vm: { power_state: string; resident_on: string }) {
  const sent: Array<{ method: string; params: unknown[] }> = [];
  const record = () => ({ uuid: 'u-vm1', name_label: 'vm1', ...vm, current_operations: {} });
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: async () => ({}),
    call: poolReads(() => ({ [VM]: record() })),
    callAsync: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      sent.push({ method, params });
      if (method === 'VM.unpause' && vm.power_state === 'Paused') Object.assign(vm, { power_state: 'Running' });
      else if ((method === 'VM.resume_on' && vm.power_state === 'Suspended') || (method === 'VM.start_on' && vm.power_state === 'Halted')) {
        Object.assign(vm, { power_state: params[2] === true ? 'Paused' : 'Running', resident_on: params[1] });
      } else throw Object.assign(new Error(`VM_BAD_POWER_STATE ${method}`), { code: 'VM_BAD_POWER_STATE' });
      return '' as T;
    },
    waitForTask: async <T>(): Promise<T> => '' as T,
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;
  return { vm, sent, client };
}

async function restore(w: ReturnType<typeof world>, rec: StoppedVm): Promise<RestoreRecord> {
  const run = abortedRun(rec);
  const offer = restoreOffer(run)!;
  expect(offer.vms.map((v) => v.name)).toEqual(['vm1']);
  const started: RestoreRecord = { by: 'UAPPROVER1', at: 0, state: 'running', did: [], left: [] };
  return executeRestore({ client: w.client, audit: async () => undefined, save: async () => undefined, clock: fastClock() }, run, offer, started);
}

describe('Restore after abort: a VM Paused before the run comes back Paused', () => {
  it.each([
    ['suspended', 'suspend', 'Suspended', 'VM.resume_on', 'resumed'],
    ['shut down', 'shutdown', 'Halted', 'VM.start_on', 'started'],
  ] as const)('%s by the run: %s with start_paused=true, and it is Paused again, not Running', async (_how, action, state, method, verb) => {
    const w = world({ power_state: state, resident_on: NULL });
    const rec = await restore(w, { name: 'vm1', priorState: 'Paused', host: H2, action, stopped: true });
    expect(w.sent).toEqual([{ method, params: [VM, H2, true, false] }]);
    expect(w.vm.power_state).toBe('Paused');
    expect(rec).toMatchObject({ state: 'done', did: [`vm1 ${verb} on h2 (paused, as before the run)`], left: [] });
  });

  it('found Paused already (as before the run): nothing is sent, above all no VM.unpause', async () => {
    const w = world({ power_state: 'Paused', resident_on: H2 });
    const rec = await restore(w, { name: 'vm1', priorState: 'Paused', host: H2, action: 'suspend', stopped: true });
    expect(w.sent).toEqual([]);
    expect(w.vm.power_state).toBe('Paused');
    expect(rec).toMatchObject({ state: 'done', did: [], left: [] });
  });

  it('a VM Running before the run is still resumed with start_paused=false and said resumed', async () => {
    const w = world({ power_state: 'Suspended', resident_on: NULL });
    const rec = await restore(w, { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: true });
    expect(w.sent).toEqual([{ method: 'VM.resume_on', params: [VM, H2, false, false] }]);
    expect(w.vm.power_state).toBe('Running');
    expect(rec).toMatchObject({ state: 'done', did: ['vm1 resumed on h2'], left: [] });
  });
});

describe('Restore after abort: a VM found up, but not as it was before the run, is left as it is and said so', () => {
  it('Running before the run, found Paused (someone paused it since): not unpaused, not counted put back, said in what was not put back', async () => {
    const w = world({ power_state: 'Paused', resident_on: H2 });
    const rec = await restore(w, { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: true });
    expect(w.sent).toEqual([]); // no VM.unpause
    expect(w.vm.power_state).toBe('Paused');
    expect(rec.did).toEqual([]);
    expect(rec.state).toBe('partial');
    expect(rec.left).toHaveLength(1);
    expect(rec.left[0]).toMatch(/^vm1 is Paused, though it was Running before the run suspended it\. /);
    expect(rec.left[0]).toMatch(/someone or something else put it in this one since.*left it as it is and does not count it as restored\. Unpause it \(xe vm-unpause\) if it should run\.$/);
  });

  it('Paused before the run, found Running (someone started or unpaused it since): not paused, not counted put back, said', async () => {
    const w = world({ power_state: 'Running', resident_on: H2 });
    const rec = await restore(w, { name: 'vm1', priorState: 'Paused', host: H2, action: 'shutdown', stopped: true });
    expect(w.sent).toEqual([]);
    expect(w.vm.power_state).toBe('Running');
    expect(rec).toMatchObject({ state: 'partial', did: [] });
    expect(rec.left).toEqual([expect.stringMatching(/^vm1 is Running, though it was Paused before the run shut it down\. .*Pause it yourself if it should stay paused\.$/)]);
  });
});
