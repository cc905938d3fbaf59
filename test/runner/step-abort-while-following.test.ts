/**
 * A step that follows a task in progress (a stop, start or migration whose answer was lost or that another client
 * sent, a slow call's task) and the run is aborted: the engine aborts the step's signal, then waits for the step to
 * return before it lets go of the run and the pool's lease. The step must stop following at once (ending as
 * interrupted, with the signal's reason), not block on the pool until the task ends or the wait's deadline (6 h
 * by default) while the run is shown as aborted. The task is the pool's: it is left running, neither cancelled nor
 * destroyed. Restore after abort likewise leaves no wait behind once its lease is lost.
 *
 * The real XenApiClient against the fake xapi of test/xenapi: every request it sends is recorded there.
 */
import type { PlanStep, RestoreRecord, Run, StepRecord } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { RunInterrupted } from '../../src/runner/errors';
import { longCall } from '../../src/runner/long-call';
import type { StepDeps } from '../../src/runner/ports';
import { executeRestore } from '../../src/runner/restore';
import type { StepContext } from '../../src/runner/step';
import { followMigrationInFlight } from '../../src/runner/steps/common';
import { createRestoreVmsStep } from '../../src/runner/steps/restore-vms';
import { createStopVmsStep, type StoppedVm } from '../../src/runner/steps/stop-vms';
import { XenApiClient } from '../../src/xenapi';
import { XapiFailure, startFakePool, type FakePool } from '../xenapi/helpers/fake-pool';
import { fastClock, recordingNotifier } from './helpers';

const H1 = 'OpaqueRef:h1';
const H2 = 'OpaqueRef:h2';
const H3 = 'OpaqueRef:h3';
const VM = 'OpaqueRef:vm1';
const NULL = 'OpaqueRef:NULL';

let pool: FakePool;
let client: XenApiClient;

/** A pool of h1 (master), h2 (the step's host, disabled) and h3, with vm1 as given; VM reads answered from the store. */
beforeEach(async () => {
  pool = await startFakePool({ hosts: 1 });
  pool.add('pool', 'OpaqueRef:pool', { uuid: 'u-pool', name_label: 'pool-t', master: H1, ha_enabled: false, other_config: {} });
  for (const [ref, name, enabled] of [[H1, 'h1', true], [H2, 'h2', false], [H3, 'h3', true]] as const) {
    pool.add('host', ref, { uuid: `u-${name}`, name_label: name, address: `10.0.0.${name.slice(1)}`, enabled, metrics: `${ref}-m`, software_version: { product_version: '8.2.1' }, other_config: {}, resident_VMs: [] });
    pool.add('host_metrics', `${ref}-m`, { live: true });
  }
  pool.on('VM.get_record', ([ref]) => {
    const rec = pool.record(String(ref));
    if (!rec) throw new XapiFailure(['HANDLE_INVALID', 'VM', String(ref)]);
    return rec;
  });
  pool.on('VM.get_all_records_where', () => ({}));
  pool.on('VM.get_VBDs', () => []);
  client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' } });
  await client.login();
});

afterEach(async () => {
  client.close();
  await pool.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How `p` ends within `ms` real ms: its value or error, else 'still following'. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'still following'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still following'>((r) => (timer = setTimeout(() => r('still following'), ms)));
  try {
    return await Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** vm1 with `op` in progress under a task that never ends; the task's ref */
function vmBusy(powerState: string, residentOn: string, op: string): string {
  const task = pool.createTask(`Async.VM.${op}`);
  pool.add('VM', VM, { uuid: 'u-vm1', name_label: 'vm1', power_state: powerState, resident_on: residentOn, current_operations: { [task]: op } });
  return task;
}

/** A step context on h2 whose signal the test aborts as the engine does (interrupt: RunInterrupted); what it sends is recorded. */
function stepContext(kind: string, data: Record<string, unknown>, planExtra: Partial<PlanStep> = {}) {
  const controller = new AbortController();
  const acted: string[] = [];
  const audit: string[] = [];
  const saved: Array<Record<string, unknown>> = [];
  const planStep = { id: `h2:${kind}`, kind, host: H2, hostName: 'h2', description: kind, expectedSeconds: 1, ...planExtra } as PlanStep;
  const step: StepRecord = { id: planStep.id, kind, host: H2, hostName: 'h2', state: 'running', attempts: 1, data } as StepRecord;
  const run = { id: 'pool-t-1', plan: { steps: [planStep], hosts: [] }, steps: [step] } as unknown as Run;
  const ctx = {
    run,
    step,
    planStep,
    log: silentLogger,
    signal: controller.signal,
    resolveHost: (r: string) => r,
    assertLive: async () => controller.signal.throwIfAborted(),
    act: async (method: string, params: unknown[]) => void acted.push(`${method} ${String(params[0])}`),
    audit: async (message: string) => void audit.push(message),
    say: async () => undefined,
    saveData: async (patch: Record<string, unknown>) => {
      controller.signal.throwIfAborted();
      saved.push(structuredClone(patch));
      step.data = { ...step.data, ...structuredClone(patch) };
    },
    checkpoint: async () => undefined,
    dataOf: (id: string) => run.steps.find((s) => s.id === id)?.data,
  } as unknown as StepContext;
  const deps = { client, clock: fastClock(), config: { pollMs: 10_000 }, notifier: recordingNotifier(), logger: silentLogger } as unknown as StepDeps;
  return { ctx, deps, controller, acted, audit, saved, step };
}

/**
 * Starts `running`, waits until it follows `task` by events, aborts as the engine does, and checks: it ends within
 * a second with the interruption; nothing more goes to the pool; the task is still pending, not cancelled or destroyed.
 */
async function abortWhileFollowing(running: () => Promise<unknown>, controller: AbortController, task: string): Promise<void> {
  const done = running();
  for (let i = 0; i < 100 && !pool.requests.some((r) => r.method === 'event.from' && JSON.stringify(r.params[1]) === JSON.stringify([`task/${task}`])); i++) await sleep(10);
  await sleep(100); // several polls of the task in (30 real ms each)
  const reason = new RunInterrupted('run pool-t-1 aborted');
  controller.abort(reason);
  expect(await within(done, 1_000)).toEqual({ error: reason });
  await sleep(50); // the poll in flight when the abort came may reach the fake pool's record just after
  const sent = pool.requests.length;
  await sleep(300); // a wait still going polls every 30 real ms
  expect(pool.requests.slice(sent).map((r) => r.method)).toEqual([]);
  expect(pool.requests.filter((r) => /^task\.(cancel|destroy)|^Async\.task/.test(r.method))).toEqual([]);
  expect(pool.record(task)?.status).toBe('pending');
}

test('stop-vms following a suspend in progress (issued before a restart): an abort ends the step at once as interrupted; nothing else sent', async () => {
  const task = vmBusy('Running', H2, 'suspend');
  const stopped: Record<string, StoppedVm & { issued: { method: string; at: number } }> = {
    [VM]: { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } },
  };
  const t = stepContext('stop-vms', { stopped }, { stops: [{ vm: VM, vmName: 'vm1', host: H2, action: 'suspend', reason: 'R2.5 disks on a local SR' }] });
  await abortWhileFollowing(() => createStopVmsStep(t.deps).execute(t.ctx), t.controller, task);
  expect(t.audit.join('\n')).toMatch(/following its task .* still in progress/);
  expect(t.acted).toEqual([]);
});

test('restore-vms following a resume in progress: an abort ends the step at once as interrupted; no start or resume sent', async () => {
  const task = vmBusy('Suspended', NULL, 'resume');
  const stopped: Record<string, StoppedVm> = { [VM]: { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: true } };
  const t = stepContext('restore-vms', {});
  (t.ctx.dataOf as unknown) = (id: string) => (id === 'h2:stop-vms' ? { stopped } : undefined);
  await abortWhileFollowing(() => createRestoreVmsStep(t.deps).execute(t.ctx), t.controller, task);
  expect(t.audit.join('\n')).toMatch(/following its resume in progress/);
  expect(t.acted).toEqual([]);
});

test('a migration in progress followed before evacuating or moving back (followMigrationInFlight): an abort ends it at once', async () => {
  const task = vmBusy('Running', H2, 'pool_migrate');
  const t = stepContext('evacuate', {});
  await abortWhileFollowing(() => followMigrationInFlight(client, t.ctx, { vm: VM, vmName: 'vm1', to: H3, toName: 'h3' }), t.controller, task);
});

test("a slow call's task followed again on a re-run (longCall): an abort ends it at once, and the record keeps the task for the next run", async () => {
  const task = pool.createTask('Async.host.call_plugin');
  const issued = { method: 'host.call_plugin', issuedAt: Date.now() - 60_000, task };
  const t = stepContext('upgrade', { main: issued });
  const reconcile = jest.fn(async () => 'unknown' as const);
  const call = { key: 'main', method: 'host.call_plugin', params: [H2, 'prepare_host_upgrade.py', 'main', {}], target: 'h2', budgetMs: 3_600_000, reconcile, checkBeforeRetry: 'Check h2.' };
  await abortWhileFollowing(() => longCall(t.deps, t.ctx, call), t.controller, task);
  expect(t.step.data?.main).toEqual(issued);
  expect(reconcile).not.toHaveBeenCalled();
});

test('Restore after abort following a start in progress: once its lease is lost it stops, and leaves no wait polling the pool behind', async () => {
  const task = vmBusy('Halted', NULL, 'start');
  const lost = new AbortController();
  const restoring = executeRestore(
    { client, audit: async () => undefined, save: async () => undefined, leaseLost: async () => "the pool's lease passed to runner-b", clock: fastClock(), signal: lost.signal },
    { id: 'pool-t-1', endedAt: Date.now() } as unknown as Run,
    { host: { ref: H2, name: 'h2' }, enableHost: false, vms: [{ ref: VM, name: 'vm1', priorState: 'Running', host: H2, action: 'shutdown', stopped: true }] },
    { state: 'running', by: 'U1', did: [], left: [] } as unknown as RestoreRecord,
  );
  for (let i = 0; i < 100 && !pool.requests.some((r) => r.method === 'event.from' && JSON.stringify(r.params[1]) === JSON.stringify([`task/${task}`])); i++) await sleep(10);
  await sleep(100);
  lost.abort(new Error('lease renewal refused'));
  const outcome = await within(restoring, 1_000);
  expect(outcome).toMatchObject({ value: { state: 'partial', left: [expect.stringMatching(/lease passed to runner-b: Restore stopped while following start of vm1/)] } });
  await sleep(50); // the poll in flight when the abort came may reach the fake pool's record just after
  const sent = pool.requests.length;
  await sleep(300); // a wait still going polls every 30 real ms
  // before TaskWaitOptions.signal, the wait left behind went on polling event.from until the task ended (30 min deadline)
  expect(pool.requests.slice(sent).map((r) => r.method)).toEqual([]);
  expect(pool.requests.filter((r) => /^task\.(cancel|destroy)/.test(r.method))).toEqual([]);
  expect(pool.record(task)?.status).toBe('pending');
});
