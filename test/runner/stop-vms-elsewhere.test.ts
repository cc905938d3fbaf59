/** A lost answer settled as "running on another host", and the step's final check and note. */
import { H2, H3, NULL, reset, stop, world } from './stop-vms-world';

describe('a settled VM turned out to be running elsewhere', () => {
  it('the final check passes (nothing left on h2), the VM is untouched and not restored', async () => {
    const w = world({
      vms: { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } },
      stops: [stop('vm1')],
      act: (_m, _ref, vm) => {
        Object.assign(vm, { resident_on: H3 }); // migrated away by someone while the answer was lost
        throw reset();
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.rec('OpaqueRef:vm1')).toMatchObject({ untouched: true });
    expect(w.sent).toEqual(['VM.suspend vm1']);
    await w.restoreVms();
    expect(w.sent).toEqual(['VM.suspend vm1']);
  });

  it('the step note says what happened: a suspend was sent and the VM turned up on h3, not "no VM to stop on h2"', async () => {
    const w = world({
      vms: { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } },
      stops: [stop('vm1')],
      act: (_m, _ref, vm) => {
        Object.assign(vm, { resident_on: H3 });
        throw reset();
      },
    });
    const out = await w.stopVms();
    expect(out.note).not.toMatch(/no VM to stop/);
  });

  it('a VM gone after a lost answer: untouched, final check passes', async () => {
    const vms: Parameters<typeof world>[0]['vms'] = { 'OpaqueRef:vm1': { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } };
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
    void NULL;
  });
});
