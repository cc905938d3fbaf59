import type { Plan } from '../../src/domain/types';
import { PoolBuilder, threeHostPool } from './builder';
import { checks, only, plan } from './helpers';

const hostOrder = (p: Plan): string[] => p.hosts.filter((h) => !h.alreadyDone).map((h) => h.name);
const stepIds = (p: Plan): string[] => p.steps.map((s) => s.id);

describe('buildPlan', () => {
  it('orders the master first (R3.2) with the per-host steps of contracts §4, pool steps around them', () => {
    const p = plan(new PoolBuilder().host('b-host').host('a-host').host('master', { master: true }).vmsOn('master', 2).vmsOn('a-host', 1).build());
    expect(hostOrder(p)[0]).toBe('master');
    const ids = stepIds(p);
    expect(ids[0]).toBe('backup');
    expect(ids[ids.length - 1]).toBe('pool-finish');
    expect(ids.slice(1, 8)).toEqual(['master:disable', 'master:evacuate', 'master:approval', 'master:upgrade', 'master:wait-host', 'master:enable', expect.stringMatching(/:disable$/)]);
    expect(p.steps.find((s) => s.id === 'master:disable')!.description).toMatch(/never maintenance mode.*R3\.3/);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of p.steps) expect(s.expectedSeconds).toBeGreaterThanOrEqual(0);
    expect(p.estimateSeconds).toBe(p.steps.reduce((n, s) => n + s.expectedSeconds, 0));
    for (const h of p.hosts) for (const id of h.stepIds) expect(ids).toContain(id);
  });

  it('places every running VM of each host, preferring upgraded hosts so no VM moves twice', () => {
    const p = plan(threeHostPool().build());
    const [a1, a2, a3] = ['xs-a1', 'xs-a2', 'xs-a3'].map((n) => p.hosts.find((h) => h.name === n)!);
    expect(a1.migrations).toHaveLength(4);
    // xs-a1 is upgraded first; after it, VMs of the next hosts go to upgraded hosts only
    const upgradedBefore = new Set<string>();
    for (const h of p.hosts) {
      if (upgradedBefore.size > 0) for (const m of h.migrations) expect(upgradedBefore).toContain(m.toName);
      upgradedBefore.add(h.name);
    }
    // xs-a2 and xs-a3 carry their own 7 VMs plus the master's 4, parked there while the master upgraded
    expect(a2.migrations.length + a3.migrations.length).toBe(11);
    // the master's 4 VMs can only go to old hosts, so they move twice: 11 + 4 = 15, which is also the bound
    expect(p.migrations).toEqual({ planned: 15, lowerBound: 15 });
  });

  it('a VM never migrates from an upgraded host to an older one (R3.4)', () => {
    const p = plan(threeHostPool().build());
    const order = hostOrder(p);
    for (const h of p.hosts) {
      for (const m of h.migrations) {
        // a migration from the host being upgraded (old) goes to any host; the target was never older than the source
        const fromIdx = order.indexOf(p.hosts.find((x) => x.host === m.from)!.name);
        const toIdx = order.indexOf(m.toName);
        const fromUpgraded = fromIdx < order.indexOf(h.name);
        if (fromUpgraded) expect(toIdx).toBeLessThan(order.indexOf(h.name));
      }
    }
  });

  it('memory forces suspensions: the plan says which VMs (R2.2)', () => {
    // two 32 GiB hosts, each 75% full: N-1 hosts cannot hold every running VM
    const s = new PoolBuilder().host('h1', { memGiB: 32, master: true }).host('h2', { memGiB: 32 }).vmsOn('h1', 6, 4).vmsOn('h2', 6, 4).build();
    const p = plan(s);
    const mem = checks(p, 'memory');
    expect(mem.length).toBeGreaterThan(0);
    const c = mem[0];
    expect(c).toMatchObject({ rule: 'R2.2', severity: 'warning', fix: { kind: 'suspend-vms' } });
    expect(c.message).toMatch(/suspended while h1 upgrades/);
    expect(p.executable).toBe(true);
    const h1 = p.hosts.find((h) => h.name === 'h1')!;
    // h2 has 32 − 1 − 24 = 7 GiB free: one 4 GiB VM fits, five are suspended
    expect(h1.migrations).toHaveLength(1);
    expect(h1.stops).toHaveLength(5);
    expect(h1.stops.every((s) => s.action === 'suspend' && /^R2\.2/.test(s.reason))).toBe(true);
  });

  it('stand-alone host (R6): every running VM suspended or shut down, restored after', () => {
    const s = new PoolBuilder().host('solo').vmsOn('solo', 2).vm('vm-hvm', { host: 'solo', lacksFeature: true }).vm('vm-cd', { host: 'solo', cd: { iso: 'x.iso', sr: 'shared-nfs' } }).build();
    const p = plan(s);
    const [suspend, shutdown] = checks(p, 'standalone');
    expect(suspend).toMatchObject({ rule: 'R6.1', severity: 'warning', fix: { kind: 'suspend-vms' } });
    expect(suspend.subjects.vms).toEqual(['solo-vm01', 'solo-vm02', 'vm-cd']);
    // the HVM guest without drivers cannot suspend (VM_LACKS_FEATURE): shut down instead
    expect(shutdown).toMatchObject({ rule: 'R6.1', severity: 'warning', fix: { kind: 'shutdown-vms', vms: ['OpaqueRef:vm-vm-hvm'] } });
    expect(p.hosts[0].stops.find((s) => s.vmName === 'vm-hvm')!.reason).toMatch(/^R6\.1 .*VM_LACKS_FEATURE/);
    const note = only(p, 'standalone-host');
    expect(note.rule).toBe('R6.2');
    expect(note.message).toMatch(/CD drives of vm-cd are emptied before they are suspended \(R6\.1, R2\.3\)/);
    expect(p.migrations.planned).toBe(0);
    expect(stepIds(p)).toEqual([
      'backup',
      'pool-prep',
      'solo:disable',
      'solo:evacuate',
      'solo:approval',
      'solo:stop-vms',
      'solo:upgrade',
      'solo:wait-host',
      'solo:enable',
      'solo:restore-vms',
      'pool-finish',
    ]);
    expect(p.executable).toBe(true);
  });

  it('half-upgraded pool, master done: resumes with the old hosts, VMs go to upgraded hosts', () => {
    const s = new PoolBuilder()
      .host('h1', { master: true, version: '7.6.0' })
      .host('h2', { version: '7.6.0' })
      .host('h3')
      .host('h4')
      .vmsOn('h3', 3)
      .vmsOn('h4', 2)
      .rollingUpgrade()
      .build();
    const p = plan(s);
    expect(only(p, 'host-done')).toMatchObject({ severity: 'info', subjects: { hosts: ['h1', 'h2'] } });
    expect(only(p, 'partially-upgraded').message).toMatch(/resumes/);
    expect(hostOrder(p)).toEqual(['h3', 'h4']);
    expect(p.hosts.filter((h) => h.alreadyDone).map((h) => h.name)).toEqual(['h1', 'h2']);
    expect(p.migrations).toEqual({ planned: 5, lowerBound: 5 });
    for (const m of p.hosts.find((h) => h.name === 'h3')!.migrations) expect(['h1', 'h2']).toContain(m.toName);
    for (const m of p.hosts.find((h) => h.name === 'h4')!.migrations) expect(['h1', 'h2', 'h3']).toContain(m.toName);
    expect(stepIds(p).some((id) => id.startsWith('h1:'))).toBe(false);
  });

  it('half-upgraded pool, master still old: the master goes first', () => {
    const s = new PoolBuilder().host('h1', { master: true }).host('h2', { version: '7.6.0' }).host('h3').vmsOn('h1', 2).build();
    const p = plan(s);
    expect(hostOrder(p)).toEqual(['h1', 'h3']);
    expect(only(p, 'partially-upgraded').message).toMatch(/master h1 is not: the master goes first \(R3\.2\)/);
    // h2 is already on 7.6: the master's VMs go there and never move again
    expect(p.hosts.find((h) => h.name === 'h1')!.migrations.map((m) => m.toName)).toEqual(['h2', 'h2']);
  });

  it('every host on the target: nothing to do', () => {
    const p = plan(new PoolBuilder().host('h1', { version: '7.6.0' }).build());
    expect(only(p, 'pool-up-to-date').severity).toBe('info');
    expect(p.steps).toEqual([]);
  });

  it('return policy original: VMs move back after their host returns, capacity checked', () => {
    const p = plan(threeHostPool().build(), { returnPolicy: 'original' });
    const backs = p.steps.filter((s) => s.kind === 'move-back');
    expect(backs.length).toBeGreaterThan(0);
    for (const b of backs) for (const m of b.migrations!) expect(m.to).toBe(b.host);
    const none = plan(threeHostPool().build(), { returnPolicy: 'none' });
    expect(none.steps.some((s) => s.kind === 'move-back')).toBe(false);
    expect(p.migrations.planned).toBeGreaterThan(0);
    expect(p.migrations.lowerBound).toBeLessThanOrEqual(p.migrations.planned);
  });

  it('return policy original does not overfill a host: VMs that do not fit stay away', () => {
    // h1 small: after its upgrade, its big VM and the ones moved there do not all fit back
    const s = new PoolBuilder().host('h1', { master: true, memGiB: 16 }).host('h2', { memGiB: 64 }).vm('big', { host: 'h1', memGiB: 14 }).vmsOn('h2', 2, 4).build();
    const p = plan(s, { returnPolicy: 'original' });
    // big moves h1 → h2; when h2 is evacuated, big and h2's VMs go to h1 (15 GiB free): only big fits
    const h2 = p.hosts.find((h) => h.name === 'h2')!;
    expect(h2.stops.length).toBeGreaterThan(0);
  });

  it('is deterministic: the same snapshot gives the same plan id; the id ignores createdAt; any change changes it', () => {
    const a = plan(threeHostPool().build(1));
    const b = plan(threeHostPool().build(2));
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    expect(b.id).toBe(a.id);
    expect(b).toEqual({ ...a, createdAt: 2 });
    // the snapshot's host and VM order does not matter
    const shuffled = threeHostPool().build(1);
    shuffled.hosts.reverse();
    shuffled.vms.reverse();
    expect(plan(shuffled).id).toBe(a.id);
    const c = plan(threeHostPool().vm('extra', { host: 'xs-a2' }).build(1));
    expect(c.id).not.toBe(a.id);
  });

  it('orders hosts after the master to minimise migrations', () => {
    // master nearly empty; h-big heavy, h-small light: upgrading the light host first lets the upgraded
    // capacity grow before the heavy host's VMs need room
    const s = new PoolBuilder()
      .host('h0', { master: true, memGiB: 16 })
      .host('h1-heavy', { memGiB: 64 })
      .host('h2-light', { memGiB: 64 })
      .vmsOn('h1-heavy', 12, 4)
      .vmsOn('h2-light', 2, 4)
      .build();
    const p = plan(s);
    expect(hostOrder(p)).toEqual(['h0', 'h2-light', 'h1-heavy']);
    expect(p.migrations.planned).toBe(p.migrations.lowerBound);
  });
});

describe('the gate and the upgrade step say how the mode takes a host down (src/runner/steps/upgrade.ts)', () => {
  it.each([
    ['manual', /^Approval: shut down h1 and upgrade it to 7\.6\.0/, /^Shut h1 down \(host\.shutdown\); an operator boots it from the .* media and chooses Upgrade \(R3\.7, R3\.9\)$/],
    ['automatic', /^Approval: reboot h1 into the installer and upgrade it to 7\.6\.0/, /then reboot it into the installer \(host\.reboot\)$/],
  ] as const)('%s mode', (mode, gate, upgrade) => {
    const p = plan(new PoolBuilder().host('h1').host('h2').vmsOn('h1', 2).build(), { mode });
    expect(p.steps.find((s) => s.id === 'h1:approval')!.description).toMatch(gate);
    expect(p.steps.find((s) => s.id === 'h1:upgrade')!.description).toMatch(upgrade);
  });

  it('update mode (R1.3)', () => {
    const p = plan(new PoolBuilder().host('h1', { version: '7.5.0' }).host('h2', { version: '7.5.0' }).vmsOn('h1', 2).build(), { mode: 'update' });
    expect(p.steps.find((s) => s.id === 'h1:approval')!.description).toMatch(/^Approval: upgrade h1 to 7\.6\.0 with the update ISO and reboot it/);
    expect(p.steps.find((s) => s.id === 'h1:upgrade')!.description).toMatch(/update ISO .*then reboot it \(R1\.3\)$/);
  });
});
