import { PoolBuilder, threeHostPool } from './builder';
import { blockers, checks, only, plan } from './helpers';

describe('prechecks: each names its rule, severity and fix', () => {
  it('a healthy 7.1.1 pool is executable with notes for R1.1, R2.1, R2.2, R3.9 and R5.1', () => {
    const p = plan(threeHostPool().build());
    expect(blockers(p)).toEqual([]);
    expect(p.executable).toBe(true);
    expect(only(p, 'version-path')).toMatchObject({ rule: 'R1.1', severity: 'info' });
    expect(only(p, 'backup')).toMatchObject({ rule: 'R2.1', severity: 'info' });
    expect(only(p, 'memory')).toMatchObject({ rule: 'R2.2', severity: 'info' });
    expect(only(p, 'repository')).toMatchObject({ rule: 'R3.9', severity: 'info' });
    const tools = only(p, 'tools');
    expect(tools).toMatchObject({ rule: 'R5.1', severity: 'info' });
    expect(tools.message).toMatch(/R5\.3/);
    expect(tools.subjects.vms).toHaveLength(11);
    expect(p.toolsUpgrade).toHaveLength(11);
  });

  it('R1.2: 7.1 without CU1 is refused with the way out', () => {
    const p = plan(new PoolBuilder().host('h1', { version: '7.1.0' }).host('h2', { version: '7.1.0' }).build());
    const c = only(p, 'version-path');
    expect(c).toMatchObject({ rule: 'R1.2', severity: 'blocker', subjects: { hosts: ['h1', 'h2'] } });
    expect(c.fix).toEqual({ kind: 'manual', guidance: expect.stringMatching(/Cumulative Update 1/) });
    expect(p.executable).toBe(false);
  });

  it('R1.4: other versions refused naming both ways out; a newer host is refused too', () => {
    const p = plan(new PoolBuilder().host('h1', { version: '7.2.0' }).host('h2', { version: '8.0.0' }).build());
    const refused = only(p, 'version-path');
    expect(refused).toMatchObject({ rule: 'R1.4', severity: 'blocker', subjects: { hosts: ['h1'] } });
    expect(refused.fix.kind === 'manual' && refused.fix.guidance).toMatch(/clean install/);
    expect(only(p, 'version-newer')).toMatchObject({ rule: 'R1.4', severity: 'blocker', subjects: { hosts: ['h2'] } });
  });

  it('R1.3: 7.4/7.5 take the update ISO in update mode; automatic mode is refused for them', () => {
    const pool = new PoolBuilder().host('h1', { version: '7.5.0' }).host('h2', { version: '7.5.0' }).vmsOn('h1', 2).build();
    const upd = plan(pool, { mode: 'update' });
    expect(only(upd, 'version-path')).toMatchObject({ rule: 'R1.3', severity: 'info' });
    expect(only(upd, 'update-mode')).toMatchObject({ rule: 'R1.3', severity: 'info' });
    expect(upd.executable).toBe(true);
    expect(upd.steps.find((s) => s.id === 'h1:upgrade')!.description).toMatch(/update ISO/);
    const auto = plan(pool, { mode: 'automatic' });
    expect(only(auto, 'upgrade-mode')).toMatchObject({ rule: 'R1.3', severity: 'blocker' });
  });

  it('R1.1: a 7.0 pool in update mode is refused (needs the base ISO)', () => {
    const p = plan(new PoolBuilder().host('h1', { version: '7.0.0' }).host('h2', { version: '7.0.0' }).build(), { mode: 'update' });
    expect(only(p, 'upgrade-mode')).toMatchObject({ rule: 'R1.1', severity: 'blocker' });
  });

  it('R2.8: an unknown target is a blocker naming the known ones', () => {
    const p = plan(threeHostPool().build(), { target: '9.1' });
    expect(only(p, 'target-unknown')).toMatchObject({ rule: 'R2.8', severity: 'blocker' });
    expect(only(p, 'target-unknown').message).toMatch(/7\.6 \(XenServer 7\.6\)/);
    expect(p.steps).toEqual([]);
  });

  it('R2.4: HA enabled → warning with fix disable-ha, disabled in pool-prep and re-enabled in pool-finish', () => {
    const p = plan(threeHostPool().withHa().build());
    expect(only(p, 'ha-enabled')).toMatchObject({ rule: 'R2.4', severity: 'warning', fix: { kind: 'disable-ha' } });
    const prep = p.steps.find((s) => s.id === 'pool-prep')!;
    expect(prep.fixes).toContainEqual({ kind: 'disable-ha' });
    expect(p.steps[p.steps.length - 1].id).toBe('pool-finish');
    expect(p.steps[p.steps.length - 1].description).toMatch(/re-enable HA/);
    expect(p.executable).toBe(true);
  });

  it('R2.3: CDs not empty → eject-cds naming VMs and ISOs; physical drive too; a suspended VM is cycled (resume, eject, suspend) in pool-prep', () => {
    const s = threeHostPool()
      .sr('iso-local', { shared: false, host: 'xs-a2', type: 'iso' })
      .vm('vm-build-07', { host: 'xs-a2', cd: { iso: 'tools-7.1.iso', sr: 'iso-local' } })
      .vm('vm-phys', { host: 'xs-a3', cd: 'physical' })
      .vm('vm-sleepy', { power: 'Suspended', host: null, cd: { iso: 'debian.iso', sr: 'iso-local' } })
      .build();
    const p = plan(s);
    const cd = only(p, 'cd-inserted');
    expect(cd).toMatchObject({ rule: 'R2.3', severity: 'warning', subjects: { vms: ['vm-build-07', 'vm-phys'] } });
    expect(cd.message).toContain('vm-build-07 has ISO "tools-7.1.iso" on local SR iso-local');
    expect(cd.message).toContain('vm-phys has a host physical drive');
    expect(cd.fix).toEqual({ kind: 'eject-cds', vbds: ['OpaqueRef:cd-vm-build-07', 'OpaqueRef:cd-vm-phys'] });
    expect(p.steps.find((x) => x.id === 'pool-prep')!.fixes).toContainEqual(cd.fix);
    const cycle = only(p, 'cd-in-suspended-vm');
    expect(cycle).toMatchObject({ rule: 'R2.3', severity: 'warning', fix: { kind: 'cycle-suspended-cds' } });
    expect(p.steps.find((x) => x.id === 'pool-prep')!.fixes).toContainEqual(cycle.fix);
    // its ISO is on xs-a2's local SR: only xs-a2 can resume it (xapi checks the CD's SR too: VM_REQUIRES_SR)
    expect(cycle.fix.kind === 'cycle-suspended-cds' && cycle.fix.vms.map((v) => v.hostName)).toEqual(['xs-a2']);
  });

  it('R2.7: a SAN-boot host to upgrade is a blocker', () => {
    const p = plan(new PoolBuilder().host('h1').host('h2', { sanBoot: true }).build());
    expect(only(p, 'san-boot')).toMatchObject({ rule: 'R2.7', severity: 'blocker', subjects: { hosts: ['h2'] } });
  });

  it('R2.7: SAN boot is known only from the pools file (sanBootHosts); the plan says XenAPI cannot detect it', () => {
    const pool = new PoolBuilder().host('h1').host('h2').build();
    const undeclared = plan(pool);
    expect(undeclared.executable).toBe(true);
    expect(only(undeclared, 'san-boot-declared')).toMatchObject({ rule: 'R2.7', severity: 'info' });
    expect(only(undeclared, 'san-boot-declared').message).toMatch(/XenAPI cannot detect boot from SAN: R2\.7 is enforced only for hosts declared in the pools file \(sanBootHosts: none\)/);

    const declared = plan(pool, { sanBootHosts: ['h2'] });
    expect(only(declared, 'san-boot')).toMatchObject({ severity: 'blocker', subjects: { hosts: ['h2'] } });
    expect(only(declared, 'san-boot').message).toMatch(/h2 boots from SAN \(declared in the pools file\)/);
    expect(declared.executable).toBe(false);
  });

  it('R2.7: a declared SAN-boot host that is not in the pool (a typo) blocks rather than leaving it unprotected', () => {
    const p = plan(new PoolBuilder().host('h1').host('h2').build(), { sanBootHosts: ['h-2'] });
    expect(only(p, 'san-boot-unknown')).toMatchObject({ rule: 'R2.7', severity: 'blocker', subjects: { hosts: ['h-2'] } });
    expect(p.executable).toBe(false);
  });

  it('R2.5/R2.6: a VM on local storage is suspended while its host upgrades (warning, approval)', () => {
    const p = plan(threeHostPool().vm('vm-licence-srv', { host: 'xs-a2', disks: ['local-xs-a2'] }).build());
    const c = only(p, 'vm-local-storage');
    expect(c).toMatchObject({ rule: 'R2.5', severity: 'warning', subjects: { hosts: ['xs-a2'], vms: ['vm-licence-srv'] } });
    expect(c.message).toMatch(/suspended while xs-a2 upgrades/);
    expect(c.message).toMatch(/R2\.6/);
    expect(c.fix).toEqual({ kind: 'suspend-vms', vms: ['OpaqueRef:vm-vm-licence-srv'] });
    const stop = p.steps.find((s) => s.id === 'xs-a2:stop-vms')!;
    expect(stop.stops).toEqual([expect.objectContaining({ vmName: 'vm-licence-srv', action: 'suspend', reason: expect.stringMatching(/^R2\.5 .*local-xs-a2/) })]);
    expect(p.steps.find((s) => s.id === 'xs-a2:restore-vms')).toBeDefined();
    expect(p.executable).toBe(true);
  });

  it('VMs lacking the feature or with PCI passthrough are shut down; migrate-blocked VMs suspended', () => {
    const p = plan(
      threeHostPool()
        .vm('vm-hvm', { host: 'xs-a1', lacksFeature: true })
        .vm('vm-gpu', { host: 'xs-a3', pci: true })
        .vm('vm-pinned', { host: 'xs-a3', blocked: ['pool_migrate'] })
        .build(),
    );
    expect(only(p, 'vm-lacks-feature')).toMatchObject({ rule: 'R3.7', severity: 'warning', fix: { kind: 'shutdown-vms', vms: ['OpaqueRef:vm-vm-hvm'] } });
    expect(only(p, 'vm-pci-passthrough')).toMatchObject({ fix: { kind: 'shutdown-vms', vms: ['OpaqueRef:vm-vm-gpu'] } });
    expect(only(p, 'vm-migrate-blocked')).toMatchObject({ fix: { kind: 'suspend-vms', vms: ['OpaqueRef:vm-vm-pinned'] } });
  });

  it('a VM that cannot move and can be neither suspended nor shut down is a blocker (fails closed)', () => {
    const p = plan(threeHostPool().vm('vm-stuck', { host: 'xs-a2', pci: true, blocked: ['clean_shutdown', 'hard_shutdown'] }).build());
    expect(only(p, 'vm-cannot-stop')).toMatchObject({ rule: 'R3.7', severity: 'blocker', subjects: { vms: ['vm-stuck'] } });
  });

  it('hosts not live, disabled, or with detached PBDs are blockers', () => {
    const p = plan(
      new PoolBuilder().host('h1').host('h2', { live: false }).host('h3', { enabled: false }).host('h4', { detached: ['shared-nfs'] }).build(),
    );
    expect(only(p, 'host-not-live')).toMatchObject({ rule: 'R3.1', severity: 'blocker', subjects: { hosts: ['h2'] } });
    expect(only(p, 'host-disabled')).toMatchObject({ rule: 'R3.7', severity: 'blocker', subjects: { hosts: ['h3'] } });
    const pbd = only(p, 'pbd-detached');
    expect(pbd).toMatchObject({ rule: 'R2.5', severity: 'blocker', subjects: { hosts: ['h4'] } });
    expect(pbd.message).toContain('shared-nfs');
  });

  it('other tasks running (R3.6) and an active run (R3.1) are blockers', () => {
    const p = plan(threeHostPool().task('VM.export').build(), { activeRunId: 'pool-a-20261125-1' });
    expect(only(p, 'tasks-running')).toMatchObject({ rule: 'R3.6', severity: 'blocker' });
    expect(only(p, 'tasks-running').message).toContain('VM.export (40%)');
    expect(only(p, 'active-run')).toMatchObject({ rule: 'R3.1', severity: 'blocker' });
    expect(only(p, 'active-run').message).toContain('pool-a-20261125-1');
  });

  it('a pool already in rolling-upgrade mode is a warning (resume)', () => {
    const p = plan(threeHostPool().rollingUpgrade().build());
    expect(only(p, 'rolling-upgrade-mode')).toMatchObject({ rule: 'R3.5', severity: 'warning' });
  });

  describe('automatic mode: repository testUrl per host (R3.9)', () => {
    const s = threeHostPool().build();
    it('a failing host is a blocker carrying the plugin error', () => {
      const testResults = Object.fromEntries(s.hosts.map((h) => [h.ref, h.name === 'xs-a2' ? { ok: false, error: 'INVALID_VER' } : { ok: true }]));
      const p = plan(s, { repository: { url: 'http://user:secret@repo/x/', testResults } });
      const c = only(p, 'repository');
      expect(c).toMatchObject({ rule: 'R3.9', severity: 'blocker', subjects: { hosts: ['xs-a2'] } });
      expect(c.message).toMatch(/INVALID_VER \(the repository holds a version older than the host\)/);
      expect(c.message).not.toContain('secret');
    });
    it('a host without a result fails closed; no URL at all is a blocker', () => {
      const p = plan(s, { repository: { url: 'http://repo/x/', testResults: {} } });
      expect(only(p, 'repository-untested')).toMatchObject({ severity: 'blocker', subjects: { hosts: ['xs-a1', 'xs-a2', 'xs-a3'] } });
      expect(only(plan(s, { repository: undefined }), 'repository')).toMatchObject({ severity: 'blocker' });
    });
    it('manual mode needs no repository: a reminder of what the operator does', () => {
      const p = plan(s, { mode: 'manual', repository: undefined });
      expect(only(p, 'manual-mode')).toMatchObject({ rule: 'R3.9', severity: 'info' });
      expect(only(p, 'manual-mode').message).toMatch(/choose Upgrade/);
      expect(checks(p, 'repository')).toEqual([]);
      expect(p.executable).toBe(true);
    });
  });

  it('duplicate host names and VMs on unknown hosts fail closed', () => {
    const s = threeHostPool().build();
    s.hosts[2] = { ...s.hosts[2], name: 'xs-a2' };
    s.vms[0] = { ...s.vms[0], residentOn: 'OpaqueRef:ghost' };
    const p = plan(s);
    expect(only(p, 'host-names-unique').severity).toBe('blocker');
    expect(only(p, 'inventory-inconsistent').severity).toBe('blocker');
  });

  it('blockers come first, then warnings, then notes', () => {
    const p = plan(threeHostPool().withHa().host('xs-a9', { sanBoot: true }).build());
    const sev = p.prechecks.map((c) => c.severity);
    expect(sev).toEqual([...sev].sort((a, b) => ['blocker', 'warning', 'info'].indexOf(a) - ['blocker', 'warning', 'info'].indexOf(b)));
    expect(sev[0]).toBe('blocker');
  });
});

describe('a check that cannot decide fails closed', () => {
  it('an exception inside a check becomes a blocker naming the check', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { runPrechecks } = require('../../src/planner/prechecks');
    const s = threeHostPool().build();
    const good = plan(s);
    expect(good.executable).toBe(true);
    const ctx = {
      opts: { pool: 'pool-a', target: '7.6', mode: 'manual', returnPolicy: 'none', paths: require('./helpers').PATHS },
      target: require('../../src/planner/paths').findTarget(require('./helpers').PATHS, '7.6'),
      paths: new Map(s.hosts.map((h) => [h.ref, { kind: 'base-iso', rule: 'R1.1', note: '' }])),
      order: s.hosts,
      placement: { order: s.hosts.map((h) => h.ref), perHost: undefined, planned: 0, lowerBound: 0, movedTwice: 0 },
      mobility: new Map(),
      hosts: new Map(s.hosts.map((h) => [h.ref, h])),
      vms: new Map(s.vms.map((v) => [v.ref, v])),
      srs: new Map(s.srs.map((x) => [x.ref, x])),
      hostName: (r: string) => r,
    };
    const out = runPrechecks(s, ctx, []);
    const failed = out.find((c: { id: string }) => c.id === 'check-failed:vm-stops');
    expect(failed).toMatchObject({ severity: 'blocker', rule: 'R2.2' });
    expect(failed.message).toMatch(/could not decide .*refusing rather than guessing/);
    expect(out[0].severity).toBe('blocker');
  });
});

describe('Paused VMs (R3.7): xapi migrates and suspends only Running VMs', () => {
  it('a Paused VM on a host to upgrade blocks the plan, named with the way out, and is never planned as a migration or a stop', () => {
    const p = plan(threeHostPool().vm('frozen', { host: 'xs-a2', power: 'Paused', memGiB: 2 }).build());
    const c = only(p, 'vm-paused');
    expect(c).toMatchObject({ rule: 'R3.7', severity: 'blocker', subjects: { hosts: ['xs-a2'], vms: ['frozen'] } });
    expect(c.message).toMatch(/frozen on xs-a2 is Paused: xapi migrates and suspends only Running VMs/);
    expect(c.fix.kind === 'manual' && c.fix.guidance).toMatch(/xe vm-unpause.*xe vm-shutdown/);
    expect(p.executable).toBe(false);
    const ref = 'OpaqueRef:vm-frozen';
    expect(p.steps.flatMap((s) => s.migrations ?? []).map((m) => m.vm)).not.toContain(ref);
    expect(p.steps.flatMap((s) => s.stops ?? []).map((m) => m.vm)).not.toContain(ref);
    expect(p.hosts.flatMap((h) => [...h.migrations, ...h.stops]).map((m) => m.vm)).not.toContain(ref);
  });

  it('Running VMs next to it are still planned; without a Paused VM there is no such blocker', () => {
    const p = plan(threeHostPool().build());
    expect(checks(p, 'vm-paused')).toEqual([]);
    const paused = plan(threeHostPool().vm('frozen', { host: 'xs-a2', power: 'Paused', memGiB: 2 }).build());
    const moved = (x: typeof p) => x.steps.flatMap((s) => s.migrations ?? []).map((m) => m.vmName);
    expect(moved(paused)).toEqual(expect.arrayContaining(['xs-a2-vm01', 'xs-a2-vm02', 'xs-a2-vm03', 'xs-a2-vm04']));
    expect(moved(p)).toEqual(expect.arrayContaining(['xs-a2-vm01', 'xs-a2-vm02', 'xs-a2-vm03', 'xs-a2-vm04']));
  });
});

describe('R2.3: a VM suspended with a disc in', () => {
  const withSleepy = (o: Parameters<ReturnType<typeof threeHostPool>['vm']>[1] = {}) =>
    threeHostPool().vm('vm-sleepy', { power: 'Suspended', host: null, cd: { iso: 'debian.iso', sr: 'shared-nfs' }, ...o });

  it('is resumed on a host still on the old version (its affinity host when it can), disc ejected, suspended again — approved with the plan, before the first host', () => {
    const p = plan(withSleepy({ affinity: 'xs-a3' }).build());
    const c = only(p, 'cd-in-suspended-vm');
    expect(c.fix).toEqual({
      kind: 'cycle-suspended-cds',
      vms: [{ vm: 'OpaqueRef:vm-vm-sleepy', vmName: 'vm-sleepy', host: 'OpaqueRef:host-xs-a3', hostName: 'xs-a3', vbds: ['OpaqueRef:cd-vm-sleepy'] }],
    });
    expect(c.message).toMatch(/vm-sleepy \(suspended\) has ISO "debian.iso".*may fail to resume after the upgrade → before the first host goes down: vm-sleepy resumed on xs-a3, disc ejected, suspended again/);
    expect(p.executable).toBe(true);
    const steps = p.steps.map((s) => s.id);
    expect(steps.indexOf('pool-prep')).toBeLessThan(steps.findIndex((id) => id.endsWith(':disable')));
  });

  it('blocks the plan with the way out when it could not be suspended again, or no host can resume it', () => {
    const blocked = plan(withSleepy({ blocked: ['suspend'] }).build());
    const b = only(blocked, 'cd-in-suspended-vm-stuck');
    expect(b).toMatchObject({ rule: 'R2.3', severity: 'blocker', subjects: { vms: ['vm-sleepy'] } });
    expect(b.message).toMatch(/resume or suspend is in its blocked_operations/);
    expect(b.fix.kind === 'manual' && b.fix.guidance).toMatch(/resume the VM .* eject the disc \(`xe vbd-eject`\)/);
    expect(blocked.executable).toBe(false);
    const tooBig = plan(withSleepy({ memGiB: 500 }).build());
    expect(only(tooBig, 'cd-in-suspended-vm-stuck').message).toMatch(/no host still on its old version .* memory to resume it/);
    expect(checks(tooBig, 'cd-in-suspended-vm')).toEqual([]);
  });
});

describe('R3.9 automatic mode: the RPU hotfix XenCenter requires (issue 12 point 7)', () => {
  const refs = (p: ReturnType<typeof threeHostPool>) => p.build().hosts.map((h) => h.ref);
  it('blocks when a host lacks RPU004 (7.1), naming it and the way out', () => {
    const pool = threeHostPool();
    const [a1, a2, a3] = refs(pool);
    const snapshot = pool.build();
    const testResults = Object.fromEntries(snapshot.hosts.map((h) => [h.ref, { ok: true }]));
    const p = plan(snapshot, { repository: { url: 'http://repo.example/xs76/', testResults, hotfixes: { [a1!]: ['RPU004'], [a2!]: [], [a3!]: ['RPU004', 'XS71ECU1009'] } } });
    const c = only(p, 'rpu-hotfix');
    expect(c).toMatchObject({ rule: 'R3.9', severity: 'blocker', subjects: { hosts: ['xs-a2'] } });
    expect(c.message).toMatch(/RPU004 missing on xs-a2/);
    expect(c.fix).toMatchObject({ kind: 'manual', guidance: expect.stringMatching(/apply RPU004 .*or use manual mode/) });
    expect(p.executable).toBe(false);
  });

  it('passes when every host has it; manual mode does not need it; an unreadable list blocks', () => {
    const snapshot = threeHostPool().build();
    const testResults = Object.fromEntries(snapshot.hosts.map((h) => [h.ref, { ok: true }]));
    const all = Object.fromEntries(snapshot.hosts.map((h) => [h.ref, ['RPU004']]));
    expect(plan(snapshot, { repository: { url: 'http://r/', testResults, hotfixes: all } }).prechecks.filter((c) => c.id.startsWith('rpu-hotfix'))).toEqual([]);
    expect(plan(snapshot, { mode: 'manual', repository: undefined }).prechecks.filter((c) => c.id.startsWith('rpu-hotfix'))).toEqual([]);
    const unreadable = plan(snapshot, { repository: { url: 'http://r/', testResults, hotfixError: 'HOST_OFFLINE' } });
    expect(only(unreadable, 'rpu-hotfix-unknown')).toMatchObject({ severity: 'blocker' });
  });
});
