/** The end-of-run audit (issue 11) as a pure function: the cases the simulator cannot (yet) produce on demand. */
import type { PoolSnapshot, Run } from '../../src/domain/types';
import { baselineOf } from '../../src/runner/baseline';
import { abortedOutcome, auditEnd, doneOutcome } from '../../src/runner/end-audit';
import { PoolBuilder } from '../planner/builder';
import { makePlan, makeRun } from './helpers';

const ref = (h: string) => `OpaqueRef:host-${h}`;

function before(): PoolSnapshot {
  return new PoolBuilder('pool-t')
    .host('h1', { master: true })
    .host('h2')
    .sr('shared-nfs', { shared: true })
    .sr('local-h2', { shared: false, host: 'h2' })
    .vm('app', { host: 'h2' })
    .vm('local-vm', { host: 'h2', disks: ['local-h2'] })
    .build();
}

function runOn(snapshot: PoolSnapshot): Run {
  const plan = makePlan(['h1', 'h2']);
  for (const h of plan.hosts) h.host = ref(h.name);
  for (const s of plan.steps) if (s.hostName) s.host = ref(s.hostName);
  const run = makeRun(plan);
  for (const s of run.steps) if (s.hostName) s.host = ref(s.hostName);
  return { ...run, baseline: baselineOf(snapshot), state: 'done' };
}

/** The pool after: every host on 7.6.0, with edits. */
function after(edit: (s: PoolSnapshot) => void = () => undefined): PoolSnapshot {
  const s = new PoolBuilder('pool-t')
    .host('h1', { master: true, version: '7.6.0' })
    .host('h2', { version: '7.6.0' })
    .sr('shared-nfs', { shared: true })
    .sr('local-h2', { shared: false, host: 'h2' })
    .vm('app', { host: 'h2' })
    .vm('local-vm', { host: 'h2', disks: ['local-h2'] })
    .build();
  edit(s);
  return s;
}

describe('auditEnd', () => {
  it('nothing left over: "done" with no exceptions', () => {
    const run = runOn(before());
    const a = auditEnd({ run, snapshot: after(), now: 1 });
    expect(a.leftovers).toEqual([]);
    expect(doneOutcome(run, a)).toMatch(/^done: every host on 7\.6\.0 and enabled; every VM that ran before runs$/);
  });

  it('forget & rejoin of a host holding a local-storage VM: the VM is lost with the reinstalled storage, never "running again" (issue 11.8)', () => {
    const run = runOn(before());
    run.steps.find((s) => s.id === 'h2:wait-host')!.data = { replaced: { from: ref('h2'), to: 'OpaqueRef:host-h2-new' } };
    const snap = after((s) => {
      s.hosts.find((h) => h.name === 'h2')!.ref = 'OpaqueRef:host-h2-new';
      s.vms.find((v) => v.name === 'app')!.residentOn = 'OpaqueRef:host-h2-new';
      const lost = s.vms.find((v) => v.name === 'local-vm')!;
      lost.powerState = 'Halted';
      lost.residentOn = null;
      s.srs.find((x) => x.name === 'local-h2')!.attachedHosts = []; // the old host's PBD went with its record
    });
    const a = auditEnd({ run, snapshot: snap, now: 1 });
    expect(a.vms).toEqual([
      expect.objectContaining({
        name: 'local-vm',
        cause: 'lost-local-storage',
        why: expect.stringMatching(/local storage of h2, which was reinstalled \(forget & rejoin, R4\.2\); the pool shows local-h2 attached to no host: the bot concludes they are gone/),
      }),
    ]);
    expect(a.hosts).toEqual([]);
    expect(doneOutcome(run, a)).toMatch(/^done with exceptions: local-vm \(Halted\)/);
  });

  it('a VM that no longer exists is named as gone', () => {
    const run = runOn(before());
    const a = auditEnd({ run, snapshot: after((s) => (s.vms = s.vms.filter((v) => v.name !== 'app'))), now: 1 });
    expect(a.vms).toEqual([expect.objectContaining({ name: 'app', cause: 'gone', now: 'gone' })]);
  });

  it('the pool not answering at the end is never "done" and never "nothing changed"', () => {
    const run = runOn(before());
    const a = auditEnd({ run, readError: 'connect ECONNREFUSED', now: 1 });
    expect(a.unreadable).toBe('connect ECONNREFUSED');
    expect(doneOutcome(run, a)).toMatch(/^done with exceptions: the pool did not answer at the end \(connect ECONNREFUSED\)/);
    expect(abortedOutcome('U1', a)).toMatch(/^aborted by U1; the pool did not answer/);
  });

  it('a run without a baseline (started by an older version) still names the VMs it stopped and says there is no record', () => {
    const run = { ...runOn(before()), baseline: undefined };
    run.steps.push({ id: 'h2:stop-vms', kind: 'stop-vms', host: ref('h2'), hostName: 'h2', state: 'done', attempts: 1, data: { stopped: { 'OpaqueRef:vm-local-vm': { name: 'local-vm', priorState: 'Running', host: ref('h2'), action: 'suspend' } } } });
    const a = auditEnd({ run, snapshot: after((s) => { const v = s.vms.find((x) => x.name === 'local-vm')!; v.powerState = 'Suspended'; v.residentOn = null; }), now: 1 });
    expect(a.noBaseline).toBe(true);
    expect(a.vms).toEqual([expect.objectContaining({ name: 'local-vm', cause: 'stopped-by-run' })]);
    expect(abortedOutcome('U1', a)).toMatch(/no record of the pool before the run/);
  });

  it('a stored baseline of the wrong shape is an error naming the field, not a silently wrong audit', () => {
    const run = runOn(before());
    (run.baseline as unknown as { hosts: unknown[] }).hosts = [{ ref: 'x', name: 'h1' }];
    expect(() => auditEnd({ run, snapshot: after(), now: 1 })).toThrow(/baseline: field hosts\.0\.product/);
  });
});
