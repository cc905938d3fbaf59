/**
 * stop-vms when the stop call never reached xapi: the connection to the master was refused, or its name did not
 * resolve, before anything was sent. Unlike a lost answer, the outcome is known: nothing was carried out. The step
 * fails as the pool being unavailable (the engine reconnects and runs it again, and the stop is sent then), with
 * nothing left "issued" and no "its answer was lost" in the audit. A refused connection while the task of a stop that
 * was sent is followed is still a lost answer: the VM is read again.
 */
import { XenApiConnectionError } from '../../src/xenapi';
import { isPoolUnavailable } from '../../src/runner/errors';
import { H2, NULL, stop, world, type VmState } from './stop-vms-world';

const VM = 'OpaqueRef:vm1';
const refused = (method: string) => new XenApiConnectionError(`cannot reach h1: ECONNREFUSED (${method})`, 'h1', method, 'ECONNREFUSED');
const running = (): Record<string, VmState> => ({ [VM]: { name: 'vm1', power_state: 'Running', resident_on: H2, current_operations: {} } });

describe('stop-vms: the stop call never reached xapi', () => {
  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])('%s on Async.VM.suspend: unavailable, nothing issued, no lost answer said, and the next run of the step sends it', async (code) => {
    const vms = running();
    let refuse = true;
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (method, _ref, vm) => {
        if (refuse) throw new XenApiConnectionError(`cannot reach h1: ${code} (Async.${method})`, 'h1', `Async.${method}`, code);
        Object.assign(vm, { power_state: 'Suspended', resident_on: NULL });
      },
    });
    const err = await w.stopVms().catch((e: unknown) => e);
    expect(isPoolUnavailable(err)).toBe(true);
    expect((err as Error).message).not.toMatch(/in doubt|answer/);
    expect(w.rec(VM)).toMatchObject({ stopped: false });
    expect(w.rec(VM).issued).toBeUndefined();
    expect(w.audit.filter((m) => /lost/.test(m))).toEqual([]);

    // the engine runs the step again once the master answers: the suspend is sent (a second time on the wire, the first time it reached xapi)
    refuse = false;
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.suspend vm1', 'VM.suspend vm1']);
    expect(w.rec(VM)).toMatchObject({ stopped: true, action: 'suspend' });
  });

  it('ECONNREFUSED while the suspend that was sent is followed (event.from): a lost answer, the VM read again', async () => {
    const vms = running();
    const w = world({
      vms,
      stops: [stop('vm1')],
      act: (_method, _ref, vm) => {
        Object.assign(vm, { power_state: 'Suspended', resident_on: NULL }); // carried out; its task's events lost
        throw refused('event.from');
      },
    });
    await expect(w.stopVms()).resolves.toMatchObject({ status: 'done' });
    expect(w.sent).toEqual(['VM.suspend vm1']);
    expect(w.rec(VM)).toMatchObject({ stopped: true, action: 'suspend' });
    expect(w.audit.some((m) => /VM\.suspend vm1: its answer was lost; the pool shows it Suspended/.test(m))).toBe(true);
  });
});
