/**
 * how the records stop-vms writes (untouched / stopped / issued) are read again by stop-vms itself on a
 * Retry or re-run, by restore-vms, by the end audit and by the abort report.
 */
import type { PoolSnapshot, Run } from '../../src/domain/types';
import { baselineOf } from '../../src/runner/baseline';
import { auditEnd } from '../../src/runner/end-audit';
import { stoppedNotRestored } from '../../src/runner/report';
import { restoreOffer } from '../../src/runner/restore';
import { XenApiError } from '../../src/xenapi';
import { PoolBuilder } from '../planner/builder';
import { makePlan, makeRun } from '../runner/helpers';
import { H2, H3, NULL, reset, stop, world, type VmState } from './stop-vms-world';

const APP = 'OpaqueRef:vm-app';
const hostRef = (h: string) => `OpaqueRef:host-${h}`;

/** a run on h1/h2 whose baseline shows `app` Running on h2, with the given stop-vms records for h2 */
function runWith(stopped: Record<string, unknown>): Run {
  const before = new PoolBuilder('pool-t').host('h1', { master: true }).host('h2').vm('app', { host: 'h2' }).build();
  const plan = makePlan(['h1', 'h2']);
  for (const h of plan.hosts) h.host = hostRef(h.name);
  for (const s of plan.steps) if (s.hostName) s.host = hostRef(s.hostName);
  const run = makeRun(plan);
  for (const s of run.steps) if (s.hostName) s.host = hostRef(s.hostName);
  const at = run.steps.findIndex((s) => s.id === 'h2:approval');
  run.steps.splice(at, 0, { id: 'h2:stop-vms', kind: 'stop-vms', host: hostRef('h2'), hostName: 'h2', state: 'done', attempts: 1, data: { stopped: structuredClone(stopped) } });
  return { ...run, baseline: baselineOf(before), state: 'aborted' };
}

/** the pool at the end: both hosts on the target, `app` in the given power state */
function endPool(power: 'Halted' | 'Suspended' | 'Running'): PoolSnapshot {
  const s = new PoolBuilder('pool-t').host('h1', { master: true, version: '7.6.0' }).host('h2', { version: '7.6.0' }).vm('app', { host: 'h2' }).build();
  const app = s.vms.find((v) => v.name === 'app')!;
  app.powerState = power;
  if (power !== 'Running') app.residentOn = null;
  return s;
}

describe('stop-vms records read again', () => {
  it('a VM recorded untouched after a lost answer (it ran on h3), back on h2 at the Retry and suspended by the run: restore-vms resumes it', async () => {
    const vms: Record<string, VmState> = { [APP]: { name: 'vm-app', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm-app')],
      act: (_m, _r, vm) => {
        Object.assign(vm, { resident_on: H3 }); // migrated away meanwhile, the refusal lost
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.rec(APP)).toMatchObject({ untouched: true, priorState: 'Running' });

    // a later step fails; the VM has come back to h2 (HA / an operator); Retry re-runs stop-vms (preparationToRecheck)
    Object.assign(vms[APP]!, { resident_on: H2 });
    const w2 = world({ vms, stops: [stop('vm-app')], records: { [APP]: w.rec(APP) } });
    await expect(w2.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w2.sent).toEqual(['VM.suspend vm-app']);
    expect(vms[APP]!.power_state).toBe('Suspended');
    // the run did stop it this time: its record must say so
    expect(w2.rec(APP)).toMatchObject({ stopped: true });
    expect(w2.rec(APP).untouched).toBeUndefined();

    w2.sent.length = 0;
    await w2.restoreVms();
    expect(w2.sent).toEqual(['VM.resume_on vm-app']);
  });

  it('the same VM (untouched, then suspended by the Retry) left suspended by an abort: the end audit, the abort report and the Restore offer name it as stopped by the run', async () => {
    const vms: Record<string, VmState> = { [APP]: { name: 'vm-app', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm-app')],
      records: { [APP]: { name: 'vm-app', priorState: 'Running', host: H2, action: 'suspend', untouched: true } },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.suspend vm-app']);
    const run = runWith(w.stopStep.data!.stopped as Record<string, unknown>);
    const audit = auditEnd({ run, snapshot: endPool('Suspended'), now: 1 });
    expect(audit.counts.stopped).toBe(1);
    expect(audit.vms).toEqual([expect.objectContaining({ name: 'app', cause: 'stopped-by-run' })]);
    expect(stoppedNotRestored(run).map((v) => v.name)).toEqual(['vm-app']);
    expect(restoreOffer(run)?.vms.map((v) => v.ref)).toEqual([APP]);
  });

  it('stopped by attempt 1, Running on h2 again at the Retry; the re-sent suspend is lost with the pool unreachable, then the re-run finds it Suspended: still stopped by the run, and restore-vms resumes it', async () => {
    const vms: Record<string, VmState> = { [APP]: { name: 'vm-app', power_state: 'Running', resident_on: H2, current_operations: {} } };
    let down = false;
    const w = world({
      vms,
      stops: [stop('vm-app')],
      records: { [APP]: { name: 'vm-app', priorState: 'Running', host: H2, action: 'suspend', stopped: true } },
      act: (_m, _r, vm) => {
        Object.assign(vm, { power_state: 'Suspended', resident_on: NULL }); // carried out…
        down = true; // …and the pool then unreachable
        throw reset();
      },
      failGetRecord: () => (down ? reset() : undefined),
    });
    await expect(w.stopVms()).rejects.toThrow();
    expect(w.rec(APP).issued).toMatchObject({ method: 'VM.suspend' });

    // the pool answers again: the engine re-runs the step, it settles from `issued`
    down = false;
    const w2 = world({ vms, stops: [stop('vm-app')], records: { [APP]: w.rec(APP) } });
    await expect(w2.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w2.sent).toEqual([]);
    expect(w2.rec(APP)).toMatchObject({ stopped: true, action: 'suspend' });
    expect(w2.rec(APP).untouched).toBeUndefined();

    await w2.restoreVms();
    expect(w2.sent).toEqual(['VM.resume_on vm-app']);
  });

  it('same as above, left suspended by an abort: the end audit counts it as stopped by the run, not "stopped from outside the bot"', async () => {
    const vms: Record<string, VmState> = { [APP]: { name: 'vm-app', power_state: 'Suspended', resident_on: NULL, current_operations: {} } };
    // the re-run after the pool came back: issued recorded on a record that said stopped: true
    const w = world({
      vms,
      stops: [stop('vm-app')],
      records: { [APP]: { name: 'vm-app', priorState: 'Running', host: H2, action: 'suspend', stopped: true, issued: { method: 'VM.suspend', at: 1_000 } } },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    const run = runWith(w.stopStep.data!.stopped as Record<string, unknown>);
    const audit = auditEnd({ run, snapshot: endPool('Suspended'), now: 1 });
    expect(audit.counts.stopped).toBe(1);
    expect(audit.vms).toEqual([expect.objectContaining({ name: 'app', cause: 'stopped-by-run' })]);
  });

  it('a stop xapi refused (outcome known, the VM kept running), then the VM halted by hand before the Retry: restore-vms does not start a VM the run did not stop', async () => {
    const vms: Record<string, VmState> = { [APP]: { name: 'vm-app', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm-app')],
      act: () => {
        throw new XenApiError('OTHER_OPERATION_IN_PROGRESS', ['VM', APP], 'Async.VM.suspend', 'h1');
      },
    });
    await expect(w.stopVms()).rejects.toThrow(/OTHER_OPERATION_IN_PROGRESS/);
    expect(w.rec(APP)).toMatchObject({ stopped: false });
    expect(w.rec(APP).issued).toBeUndefined(); // the answer came: the stop was not carried out

    // the operator shuts it down by hand, then Retry
    Object.assign(vms[APP]!, { power_state: 'Halted', resident_on: NULL });
    const w2 = world({ vms, stops: [stop('vm-app')], records: { [APP]: w.rec(APP) } });
    await expect(w2.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w2.rec(APP).stopped).not.toBe(true);
    await w2.restoreVms();
    expect(w2.sent).toEqual([]);
  });

  it('a stop xapi refused, the VM then halted by hand (no Retry, run aborted): the end audit does not say the run shut it down', () => {
    const run = runWith({ [APP]: { name: 'app', priorState: 'Running', host: hostRef('h2'), action: 'suspend', stopped: false } });
    const audit = auditEnd({ run, snapshot: endPool('Halted'), now: 1 });
    expect(audit.counts.stopped).toBe(0);
    expect(audit.vms).toEqual([expect.objectContaining({ name: 'app', cause: 'outside' })]);
  });
});

describe('controls (expected to pass)', () => {
  it('control: a record stopped: true is in the Restore offer of the same aborted run', () => {
    const run = runWith({ [APP]: { name: 'vm-app', priorState: 'Running', host: H2, action: 'suspend', stopped: true } });
    expect(restoreOffer(run)?.vms.map((v) => v.ref)).toEqual([APP]);
  });

  it('control: lost answer for the last VM, settled Suspended: the final check sees no VM left on h2 and the step is done', async () => {
    const vms: Record<string, VmState> = {
      'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} },
      [APP]: { name: 'vm-app', power_state: 'Running', resident_on: H2, current_operations: {} },
    };
    const w = world({
      vms,
      stops: [stop('vm1'), stop('vm-app')],
      act: (m, ref, vm) => {
        Object.assign(vm, { power_state: m === 'VM.suspend' ? 'Suspended' : 'Halted', resident_on: NULL });
        if (ref === APP) throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done', note: expect.stringMatching(/^2 VM/) });
    expect(w.sent).toEqual(['VM.suspend vm1', 'VM.suspend vm-app']);
    expect(w.rec(APP)).toMatchObject({ stopped: true, action: 'suspend' });
  });
});
