/**
 * restore-vms when the VM it is about to start or resume already has that very operation in progress
 * (VM.current_operations): typically the resume_on of the previous attempt, whose answer was lost, still running on
 * xapi (a resume of a large VM takes minutes), and the operator pressed Retry. Real xapi refuses a second resume with
 * OTHER_OPERATION_IN_PROGRESS. As stop-vms does for a stop in progress, restore-vms follows it through its task (kept:
 * it may be another client's) and sends nothing on top of it.
 */
import { H2, world, type VmState } from './stop-vms-world';

it('a resume already in progress on the suspended VM (the previous attempt\'s, answer lost): restore-vms follows it, it does not send a second VM.resume_on', async () => {
  const vms: Record<string, VmState> = {
    'OpaqueRef:vm1': { name: 'vm1', power_state: 'Suspended', resident_on: 'OpaqueRef:NULL', current_operations: { 'OpaqueRef:task-resume': 'resume' } },
  };
  const w = world({
    vms,
    stops: [],
    records: { 'OpaqueRef:vm1': { name: 'vm1', priorState: 'Running', host: H2, action: 'suspend', stopped: true } },
    // the resume in progress, once followed, ends with the VM running on h2
    task: (ref) => {
      if (ref === 'OpaqueRef:task-resume') Object.assign(vms['OpaqueRef:vm1']!, { power_state: 'Running', resident_on: H2 });
    },
  });
  const outcome = await w.restoreVms().catch((e: Error) => e.message);
  // real xapi would answer a second resume_on with OTHER_OPERATION_IN_PROGRESS: nothing must be sent on top of it
  expect(w.sent).toEqual([]);
  expect(w.followed).toContain('OpaqueRef:task-resume');
  expect(w.kept).toContain('OpaqueRef:task-resume');
  expect(w.audit.join('\n')).toMatch(/vm1: a start or resume is already in progress on it; following its resume in progress \(task OpaqueRef:task-resume\), not sent again/);
  expect(outcome).toMatchObject({ status: 'done', note: '1 VM(s) restored on h2' });
});
