/**
 * Restore after an abort (src/runner/restore.ts) when a VM it should put back still has the run's stop in progress
 * (VM.current_operations shows the suspend the aborted run sent; a suspend of a large VM takes minutes, and the
 * replica that sent it is gone). The VM is still Running at that instant: were it skipped as "already running",
 * Restore would record itself `done` with nothing left, a second Restore would be refused ("already done"), and the
 * suspend, completing a moment later, would leave the VM suspended by the run with nobody told. Restore follows the
 * suspend to its end (its task kept: it may be another client's), then resumes the VM; or, when the stop cannot be
 * followed to its end, says the VM is still being stopped and does not call itself done.
 */
import { executeRestore, restoreOffer } from '../../src/runner/restore';
import type { PoolClient } from '../../src/runner/ports';
import type { RestoreRecord, Run } from '../../src/domain/types';
import { XenApiTimeoutError } from '../../src/xenapi';
import type { TaskWaitOptions } from '../../src/xenapi/types';
import { fastClock } from './helpers';
import { abortedAtH2StopVms, H1, H2 } from './restore-fixture';

const VM = 'OpaqueRef:vm-big';
const SUSPEND_TASK = 'OpaqueRef:task-suspend';

/** the suspend was sent (recorded `issued` before the call); the run was aborted while xapi carried it out */
const abortedRunWithSuspendIssued = (): Run =>
  abortedAtH2StopVms({ [VM]: { name: 'vm-big', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 0 } } }, 'failed');

function world() {
  const vm = { power_state: 'Running', resident_on: H2, current_operations: { [SUSPEND_TASK]: 'suspend' } as Record<string, string> };
  const sent: string[] = [];
  const finishSuspend = () => {
    if (!vm.current_operations[SUSPEND_TASK]) return;
    delete vm.current_operations[SUSPEND_TASK];
    Object.assign(vm, { power_state: 'Suspended', resident_on: 'OpaqueRef:NULL' });
  };
  const client = {
    masterAddress: '10.0.0.1',
    getAllRecords: async () => ({}),
    call: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      const host = (name: string, ref: string) => ({ uuid: `u-${name}`, name_label: name, address: `10.0.0.${name.slice(1)}`, enabled: true, metrics: `m-${ref}`, software_version: { product_version: '7.1.1' }, other_config: {} });
      switch (method) {
        case 'pool.get_all_records':
          return { 'OpaqueRef:pool': { name_label: 'pool-t', master: H1, ha_enabled: false, other_config: {} } } as T;
        case 'host.get_all_records':
          return { [H1]: host('h1', H1), [H2]: host('h2', H2) } as T;
        case 'host_metrics.get_all_records':
          return { [`m-${H1}`]: { live: true }, [`m-${H2}`]: { live: true } } as T;
        case 'VM.get_all_records':
          return { [VM]: { uuid: 'u-vm', name_label: 'vm-big', ...structuredClone(vm) } } as T;
        case 'VM.get_record':
          return { uuid: 'u-vm', name_label: 'vm-big', ...structuredClone(vm) } as T;
        case 'task.get_all_records':
          return (vm.current_operations[SUSPEND_TASK] ? { [SUSPEND_TASK]: { name_label: 'Async.VM.suspend', status: 'pending' } } : {}) as T;
        default:
          throw new Error(`unexpected call ${method} ${JSON.stringify(params)}`);
      }
    },
    callAsync: async <T>(method: string, params: unknown[] = []): Promise<T> => {
      sent.push(`${method} ${String(params[0])}`);
      if (vm.current_operations[SUSPEND_TASK]) throw Object.assign(new Error('OTHER_OPERATION_IN_PROGRESS'), { code: 'OTHER_OPERATION_IN_PROGRESS', params: ['VM', VM, 'suspend'] });
      if (method === 'VM.resume_on' && vm.power_state === 'Suspended') Object.assign(vm, { power_state: 'Running', resident_on: params[1] });
      return '' as T;
    },
    waitForTask: async <T>(task: string, _opts?: TaskWaitOptions): Promise<T> => {
      if (task === SUSPEND_TASK) finishSuspend();
      return '' as T;
    },
    reconnect: async () => undefined,
    dumpDatabase: async () => ({ path: '', bytes: 0, sha256: '' }),
  } satisfies PoolClient;

  return { vm, sent, client, finishSuspend };
}

async function restore(client: PoolClient) {
  const run = abortedRunWithSuspendIssued();
  const offer = restoreOffer(run)!;
  expect(offer.vms.map((v) => v.name)).toEqual(['vm-big']);
  const started: RestoreRecord = { by: 'UAPPROVER1', at: 0, state: 'running', did: [], left: [] };
  return executeRestore({ client, audit: async () => undefined, save: async () => undefined, clock: fastClock() }, run, offer, started);
}

it('a VM whose suspend by the run is still in progress: Restore follows the suspend (task kept) and then resumes the VM', async () => {
  const { vm, sent, client, finishSuspend } = world();
  const followed: Array<[string, TaskWaitOptions | undefined]> = [];
  const rec = await restore({ ...client, waitForTask: async <T>(task: string, opts?: TaskWaitOptions) => (followed.push([task, opts]), client.waitForTask<T>(task, opts)) });
  // the suspend the run sent completes right after Restore looked (a no-op when Restore followed it)
  finishSuspend();

  expect(followed).toEqual([[SUSPEND_TASK, expect.objectContaining({ keep: true })]]);
  expect(sent).toEqual([`VM.resume_on ${VM}`]);
  expect(vm.power_state).toBe('Running');
  expect(rec).toMatchObject({ state: 'done', did: ['vm-big resumed on h2'], left: [] });

  const vmBack = vm.power_state === 'Running';
  const said = [...rec.did, ...rec.left].join('\n');
  // either Restore put the VM back, or its record says vm-big was not put back (so Restore can be clicked again)
  expect({ vmBack, saysVm: /vm-big/.test(said), state: rec.state }).not.toEqual({ vmBack: false, saysVm: false, state: 'done' });
});

it('a VM whose suspend is still in progress past the time Restore follows it: Restore says it is still being stopped, sends nothing on top of it, and is not done', async () => {
  const { sent, client } = world();
  const rec = await restore({
    ...client,
    waitForTask: async () => {
      throw new XenApiTimeoutError(`task ${SUSPEND_TASK} still pending`, `task ${SUSPEND_TASK}`, 0);
    },
  });
  expect(sent).toEqual([]);
  expect(rec.state).toBe('partial');
  expect(rec.left).toEqual([`vm-big (Running) is still being stopped: suspend in progress (task ${SUSPEND_TASK}) after 30 min; it was not put back: check the pool before clicking Restore again`]);
});
