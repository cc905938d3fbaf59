/**
 * stop-vms: stops whose answer was lost, settled from the pool (fallbacks, a VM gone or running elsewhere, what the
 * failure says), and restore-vms reading what stop-vms recorded.
 */
import type { StepOutcome } from '../../src/runner/step';
import { XenApiError } from '../../src/xenapi';
import { H2, H3, NULL, reset, stop, world, type VmState } from './stop-vms-world';

describe('stop-vms: lost answers', () => {
  it('a Paused VM whose stop answer was lost: the failure says what the pool showed (Paused), not "still Running"', async () => {
    const w = world({
      vms: { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Paused', resident_on: H2, current_operations: {} } },
      stops: [stop('vm1')],
      records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Paused', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
    });
    const err = (await w.stopVms().catch((e) => e)) as Error & { observed?: string[] };
    expect(err).toBeInstanceOf(Error);
    // observed facts: the pool shows vm1 Paused on h2
    expect(err.message).not.toMatch(/still Running/);
    expect(err.message).toMatch(/Paused/);
    expect((err.observed ?? []).join(' ')).toMatch(/Paused/);
  });

  it('restart with VM.suspend issued; the suspend in progress then fails with VM_NO_SUSPEND_SR: the usual fallback (clean shutdown) applies, as on a live lost answer', async () => {
    const vms = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:task-1': 'suspend' } as Record<string, string> } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
      task: () => {
        throw new XenApiError('VM_NO_SUSPEND_SR', ['OpaqueRef:vm1'], 'Async.VM.suspend', 'h1');
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.clean_shutdown vm1']);
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ action: 'shutdown', stopped: true });
  });

  it('control: the same failure on a live lost answer does fall back to a clean shutdown', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (method, _ref, vm) => {
        if (method === 'VM.suspend') {
          vm.current_operations['OpaqueRef:task-1'] = 'suspend';
          throw reset();
        }
        Object.assign(vm, { power_state: 'Halted', resident_on: NULL });
      },
      task: () => {
        throw new XenApiError('VM_NO_SUSPEND_SR', ['OpaqueRef:vm1'], 'Async.VM.suspend', 'h1');
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.suspend vm1', 'VM.clean_shutdown vm1']);
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ action: 'shutdown', stopped: true });
  });

  it('lost answer, the VM meanwhile migrated to h3 (Running there); later shut down there by someone: restore-vms does not start it as if the run had stopped it', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_method, _ref, vm) => {
        Object.assign(vm, { resident_on: H3 }); // xapi refused (a migration was under way), the refusal lost
        throw reset();
      },
    });
    // the final check passes (nothing left on h2), and the note says what happened: a suspend was sent and the VM
    // turned up on h3, not "no VM to stop on h2"
    const out = await w.stopVms();
    expect(out).toMatchObject({ status: 'done' });
    expect((out as Extract<StepOutcome, { status: 'done' }>).note).not.toMatch(/no VM to stop/);
    expect(w.sent).toEqual(['VM.suspend vm1']);
    // not stopped by the run: recorded as untouched, as a VM that was not running here when the step began
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ untouched: true });
    expect(w.rec('OpaqueRef:vm1').stopped).toBeUndefined();
    // someone halts it on h3 during the upgrade: the run never stopped it
    Object.assign(vms['OpaqueRef:vm1']!, { power_state: 'Halted', resident_on: NULL });
    w.sent.length = 0;
    await w.restoreVms();
    expect(w.sent).toEqual([]);
  });

  it('lost answer, the pool shows the VM Running on h3: the audit says where it runs (observed), not just "Running"', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_method, _ref, vm) => {
        Object.assign(vm, { resident_on: H3 });
        throw reset();
      },
    });
    await w.stopVms();
    const line = w.audit.find((m) => /answer was lost/.test(m))!;
    expect(line).toMatch(/h3|OpaqueRef:h3|elsewhere|another host/);
  });

  it('lost answer, the VM no longer exists: restore-vms does not fail on a VM the run never stopped', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: () => {
        delete vms['OpaqueRef:vm1'];
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ untouched: true });
    await expect(w.restoreVms()).resolves.toMatchObject({ status: 'done' });
  });

  it('restart with VM.suspend issued, a pool_migrate in progress: the failure says what is in progress', async () => {
    const w = world({
      vms: { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:t9': 'pool_migrate' } } },
      stops: [stop('vm1')],
      records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
    });
    const err = (await w.stopVms().catch((e) => e)) as Error & { observed?: string[] };
    expect(w.sent).toEqual([]);
    expect(`${err.message} ${(err.observed ?? []).join(' ')}`).toMatch(/pool_migrate|migrat/);
  });

  it('halted after a suspend request whose answer was lost: recorded as shutdown', async () => {
    const vms: Record<string, VmState> = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_m, _r, vm) => {
        Object.assign(vm, { power_state: 'Halted', resident_on: NULL });
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ action: 'shutdown', stopped: true });
    expect(w.rec('OpaqueRef:vm1').issued).toBeUndefined();
  });

  it('two VMs: vm1 refused, vm2 answer lost and the pool unreadable: vm2 stays issued, nothing sent twice', async () => {
    const vms: Record<string, VmState> = {
      'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} },
      'OpaqueRef:vm2': { name: 'vm2', power_state: 'Running', resident_on: H2, current_operations: {} },
    };
    let down = false;
    const w = world({
      vms,
      stops: [stop('vm1'), stop('vm2')],
      act: (_m, ref) => {
        if (ref === 'OpaqueRef:vm1') throw new XenApiError('VM_BAD_POWER_STATE', [], 'Async.VM.suspend', 'h1');
        down = true;
        throw reset();
      },
      failGetRecord: () => (down ? reset() : undefined),
    });
    const err = await w.stopVms().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(w.rec('OpaqueRef:vm2').issued).toMatchObject({ method: 'VM.suspend' });
    expect(w.rec('OpaqueRef:vm1').issued).toBeUndefined();
  });
});
