/**
 * stop-vms taken up again (a restart, or the engine re-running it once the pool answers) with a stop recorded as
 * issued and no answer: the pool decides ("a call whose outcome is unknown is reconciled, never blindly re-sent").
 */
import { XenApiError } from '../../src/xenapi';
import { H2, NULL, stop, world, type VmState } from './stop-vms-world';

const VM = 'OpaqueRef:vm1';

/** vm1 on h2 as `vm` shows it, its suspend recorded as issued by an earlier run of the step */
function setup(vm: Omit<VmState, 'name'>, o: { task?: (ref: string) => void; getRecord?: (r: Record<string, unknown>, nth: number) => Record<string, unknown> } = {}) {
  const vms: Record<string, VmState> = { [VM]: { name: 'vm1', ...vm } };
  return world({
    vms,
    stops: [stop('vm1')],
    records: { [VM]: { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: false, issued: { method: 'VM.suspend', at: 1_000 } } },
    task: o.task ?? (() => Object.assign(vms[VM]!, { power_state: 'Suspended', resident_on: NULL })),
    getRecord: o.getRecord,
  });
}

describe('stop-vms: a stop recorded as issued, its answer never seen', () => {
  it('the suspend is still in progress: its task is followed, the VM counted stopped, nothing sent again', async () => {
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:task-1': 'suspend' } });
    await expect(t.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(t.sent).toEqual([]);
    expect(t.followed).toEqual(['OpaqueRef:task-1']);
    // found in current_operations, it may be another client's task (XenCenter following its own suspend): not destroyed
    expect(t.kept).toEqual(['OpaqueRef:task-1']);
    expect(t.rec(VM)).toMatchObject({ stopped: true, action: 'suspend' });
    expect(t.rec(VM).issued).toBeUndefined();
    expect(t.audit.some((m) => /vm1: the answer to VM\.suspend was lost; following its task OpaqueRef:task-1 .*not sent again/.test(m))).toBe(true);
  });

  it('the pool shows it Suspended: counted stopped as if the answer had come, nothing sent again', async () => {
    const t = setup({ power_state: 'Suspended', resident_on: NULL, current_operations: {} });
    await expect(t.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(t.sent).toEqual([]);
    expect(t.followed).toEqual([]);
    expect(t.rec(VM)).toMatchObject({ stopped: true, action: 'suspend' });
    expect(t.rec(VM).issued).toBeUndefined();
  });

  it('plainly Running with nothing in progress: the step says so and sends nothing; the record no longer says issued (Retry sends it)', async () => {
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: {} });
    await expect(t.stopVms()).rejects.toThrow(/vm1: .*answer to VM\.suspend .*lost.* the pool shows the VM still Running on h2 with no stop in progress/);
    expect(t.sent).toEqual([]);
    expect(t.rec(VM)).toMatchObject({ stopped: false });
    expect(t.rec(VM).issued).toBeUndefined();
  });

  it('the suspend in progress then fails: its error is the answer (a refusal), and nothing is sent again', async () => {
    const t = setup(
      { power_state: 'Running', resident_on: H2, current_operations: { 'OpaqueRef:task-1': 'suspend' } },
      { task: () => { throw new XenApiError('VDI_IO_ERROR', ['Device I/O errors'], 'Async.VM.suspend', 'h1'); } },
    );
    await expect(t.stopVms()).rejects.toMatchObject({ code: 'VDI_IO_ERROR' });
    expect(t.sent).toEqual([]);
    expect(t.rec(VM)).toMatchObject({ stopped: false });
    expect(t.rec(VM).issued).toBeUndefined();
  });

  it('a VM.get_record answer of the wrong shape is refused with the field named; nothing is sent and the stop stays in doubt', async () => {
    // the step's own read is sound; settle's is not
    const t = setup({ power_state: 'Running', resident_on: H2, current_operations: {} }, { getRecord: (r, nth) => (nth > 1 ? { ...r, power_state: 'Exploded' } : r) });
    await expect(t.stopVms()).rejects.toThrow(/VM\.get_record vm1: field power_state/);
    expect(t.sent).toEqual([]);
    expect(t.rec(VM).issued).toMatchObject({ method: 'VM.suspend' });
  });
});
