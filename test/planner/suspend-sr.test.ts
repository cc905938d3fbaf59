/**
 * R2.5/R6.1: a VM the plan would suspend needs a suspend SR its host can write to (xapi: VM.suspend_SR, else
 * pool.suspend_image_SR, else host.suspend_image_sr; none → VM_NO_SUSPEND_SR). The plan catches it up front and
 * shuts such VMs down instead, with a warning naming them, so the run does not meet the error mid-host.
 */
import type { PoolSnapshot } from '../../src/domain/types';
import { PoolBuilder } from './builder';
import { blockers, checks, only, plan } from './helpers';

const sr = (n: string): string => `OpaqueRef:sr-${n}`;

/** as the inventory reads it: every suspend SR field present, null when unset */
function withSuspendSrs(s: PoolSnapshot, poolSr: string | null, hostSrs: Record<string, string> = {}): PoolSnapshot {
  s.pool.suspendImageSr = poolSr;
  for (const h of s.hosts) h.suspendImageSr = hostSrs[h.name] ?? null;
  for (const v of s.vms) v.suspendSr = null;
  return s;
}

const standalone = (): PoolBuilder =>
  new PoolBuilder('solo')
    .host('xs-solo', { memGiB: 64 })
    .vm('fileserver', { host: 'xs-solo', memGiB: 8, disks: ['local-xs-solo'] })
    .vm('printserver', { host: 'xs-solo', memGiB: 2, disks: ['local-xs-solo'] });

describe('suspend SR (VM_NO_SUSPEND_SR caught by the plan)', () => {
  it('stand-alone host without any suspend SR: the VMs are shut down, the plan says why and warns naming them (R6.1)', () => {
    const p = plan(withSuspendSrs(standalone().build(), null));
    expect(p.executable).toBe(true);
    const stop = p.steps.find((s) => s.kind === 'stop-vms')!;
    expect(stop.description).toBe('Shut down fileserver, printserver (no suspend SR) (cannot stay running while xs-solo is down)');
    expect(stop.stops!.map((s) => s.action)).toEqual(['shutdown', 'shutdown']);
    expect(stop.stops![0]!.reason).toMatch(/^R6\.1 .*no suspend SR \(VM_NO_SUSPEND_SR\): shut down instead of suspended$/);
    expect(only(p, 'standalone')).toMatchObject({ fix: { kind: 'shutdown-vms' } });
    const w = only(p, 'no-suspend-sr');
    expect(w).toMatchObject({ rule: 'R6.1', severity: 'warning', subjects: { hosts: ['xs-solo'], vms: ['fileserver', 'printserver'] }, fix: { kind: 'manual' } });
    expect(w.message).toMatch(/fileserver, printserver cannot be suspended: the pool has no suspend SR \(pool\.suspend_image_SR is not set\)/);
    expect(w.fix).toMatchObject({ guidance: expect.stringMatching(/suspend-image-SR=/) });
  });

  it('the host\'s own suspend_image_sr is xapi\'s fallback: suspend stays the plan', () => {
    const p = plan(withSuspendSrs(standalone().build(), null, { 'xs-solo': sr('local-xs-solo') }));
    expect(p.steps.find((s) => s.kind === 'stop-vms')!.stops!.map((s) => s.action)).toEqual(['suspend', 'suspend']);
    expect(checks(p, 'no-suspend-sr')).toEqual([]);
  });

  it('a pool suspend SR the VM\'s host does not have attached does not count (R2.5): shut down, named host', () => {
    const s = new PoolBuilder()
      .sr('nfs-suspend', { shared: true })
      .host('h1', { detached: ['nfs-suspend'] })
      .host('h2')
      .vm('db', { host: 'h1', disks: ['local-h1'] })
      .vm('app', { host: 'h2', disks: ['local-h2'] })
      .build();
    const p = plan(withSuspendSrs(s, sr('nfs-suspend')));
    const actions = Object.fromEntries(p.hosts.flatMap((h) => h.stops).map((st) => [st.vmName, st.action]));
    expect(actions).toEqual({ db: 'shutdown', app: 'suspend' });
    const w = only(p, 'no-suspend-sr');
    expect(w).toMatchObject({ rule: 'R2.5', subjects: { hosts: ['h1'], vms: ['db'] } });
    expect(w.message).toMatch(/the pool's suspend SR nfs-suspend is not attached on h1/);
  });

  it('a VM that cannot be suspended for lack of a suspend SR and whose shutdown is blocked is a blocker (fails closed)', () => {
    const s = standalone().vm('pinned', { host: 'xs-solo', memGiB: 1, blocked: ['clean_shutdown', 'hard_shutdown'] }).build();
    const p = plan(withSuspendSrs(s, null));
    expect(blockers(p)).toContain('vm-cannot-stop');
    expect(only(p, 'vm-cannot-stop').message).toMatch(/pinned cannot migrate .*no suspend SR \(VM_NO_SUSPEND_SR\) and shutdown is blocked\) and can be neither suspended nor shut down/);
  });

  it('memory stops too: a VM suspended for lack of room (R2.2) is shut down when no suspend SR exists', () => {
    const s = new PoolBuilder().host('h1', { memGiB: 64 }).host('h2', { memGiB: 8 }).vmsOn('h1', 3, 4).build();
    const p = plan(withSuspendSrs(s, null));
    const stops = p.hosts.flatMap((h) => h.stops);
    expect(stops.length).toBeGreaterThan(0);
    expect(stops.every((st) => st.action === 'shutdown' && /^R2\.2 .*no suspend SR/.test(st.reason))).toBe(true);
    expect(only(p, 'no-suspend-sr').subjects.vms).toEqual(stops.map((st) => st.vmName));
  });

  it('a snapshot that did not read the suspend SR fields plans as before (suspend)', () => {
    const p = plan(standalone().build());
    expect(p.steps.find((s) => s.kind === 'stop-vms')!.stops!.map((s) => s.action)).toEqual(['suspend', 'suspend']);
    expect(checks(p, 'no-suspend-sr')).toEqual([]);
  });
});
