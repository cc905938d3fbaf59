import type { Plan, PoolSnapshot } from '../../src/domain/types';
import { prng } from '../../src/domain/prng';
import { compareVersions } from '../../src/domain/versions';
import { GiB, PoolBuilder } from './builder';
import { plan } from './helpers';

function randomPool(seed: number): PoolSnapshot {
  const r = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const n = 1 + Math.floor(r() * 7);
  const b = new PoolBuilder(`pool-${seed}`);
  const names = Array.from({ length: n }, (_, i) => `h${i}`);
  const half = r() < 0.25; // a half-upgraded pool: some hosts already on 7.6.0
  names.forEach((name, i) => {
    b.host(name, {
      master: i === (seed % n),
      memGiB: pick([16, 32, 64, 128]),
      version: half && r() < 0.4 ? '7.6.0' : pick(['7.1.1', '7.1.2', '7.0.0']),
    });
  });
  if (r() < 0.5) b.sr('shared-iscsi', { shared: true });
  const vmCount = Math.floor(r() * n * 10);
  const load = new Map<string, number>(names.map((h) => [h, 1]));
  for (let i = 0; i < vmCount; i++) {
    const host = pick(names);
    const mem = pick([1, 2, 4, 8, 16]);
    const cap = 128; // builder clamps free memory at 0; keep hosts plausible instead
    if ((load.get(host) ?? 0) + mem > cap) continue;
    load.set(host, (load.get(host) ?? 0) + mem);
    const diskSr = r() < 0.15 ? `local-${host}` : 'shared-nfs';
    b.vm(`vm${String(i).padStart(3, '0')}`, {
      host,
      memGiB: mem,
      disks: [diskSr],
      power: r() < 0.1 ? 'Halted' : 'Running',
      lacksFeature: r() < 0.05,
      affinity: r() < 0.2 ? pick(names) : undefined,
    });
  }
  const s = b.build();
  // hosts fuller than their memory: a real pool cannot be, so cap resident load at total memory
  for (const h of s.hosts) {
    const used = s.vms.filter((v) => v.residentOn === h.ref).reduce((x, v) => x + v.memoryNeeded, 0);
    if (used + GiB > h.memoryTotal) h.memoryTotal = used + GiB + pick([0, 2, 8]) * GiB;
    h.memoryFree = h.memoryTotal - GiB - used;
  }
  return s;
}

/** Replays the plan's steps on an independent model of the pool and returns every violation found. */
function replay(s: PoolSnapshot, p: Plan): string[] {
  const errors: string[] = [];
  const platform = new Map(s.hosts.map((h) => [h.ref, h.version.platform]));
  const free = new Map(s.hosts.map((h) => [h.ref, h.memoryFree]));
  const srs = new Map(s.hosts.map((h) => [h.ref, new Set(h.attachedSrs)]));
  const at = new Map(s.vms.filter((v) => v.residentOn).map((v) => [v.ref, v.residentOn!]));
  const vm = new Map(s.vms.map((v) => [v.ref, v]));
  const down = new Set<string>();
  for (const step of p.steps) {
    const host = step.host!;
    if (step.kind === 'disable') down.add(host);
    for (const m of step.kind === 'evacuate' || step.kind === 'move-back' ? step.migrations! : []) {
      const v = vm.get(m.vm)!;
      const where = `${step.id} ${v.name} ${m.from}→${m.to}`;
      if (at.get(m.vm) !== m.from) errors.push(`${where}: VM is not on its source`);
      if (compareVersions(platform.get(m.to), platform.get(m.from)) < 0) errors.push(`${where}: target older than source (R3.4)`);
      if (down.has(m.to)) errors.push(`${where}: target is disabled`);
      if (free.get(m.to)! < v.memoryNeeded) errors.push(`${where}: overcommits memory (${free.get(m.to)} < ${v.memoryNeeded})`);
      if (!v.disks.every((d) => srs.get(m.to)!.has(d.sr))) errors.push(`${where}: target cannot see the VM's SRs`);
      free.set(m.from, free.get(m.from)! + v.memoryNeeded);
      free.set(m.to, free.get(m.to)! - v.memoryNeeded);
      at.set(m.vm, m.to);
    }
    if (step.kind === 'stop-vms') {
      for (const st of step.stops!) {
        if (at.get(st.vm) !== host) errors.push(`${step.id}: stops ${st.vmName} which is not on ${host}`);
        at.delete(st.vm);
        free.set(host, free.get(host)! + vm.get(st.vm)!.memoryNeeded);
      }
    }
    if (step.kind === 'upgrade') {
      const left = [...at.entries()].filter(([, h]) => h === host).map(([v]) => vm.get(v)!.name);
      if (left.length) errors.push(`${step.id}: ${left.join(',')} still running on the host going down (R3.1)`);
      platform.set(host, p.target.platform);
    }
    if (step.kind === 'enable') down.delete(host);
    if (step.kind === 'restore-vms') {
      for (const st of step.stops!) {
        at.set(st.vm, host);
        free.set(host, free.get(host)! - vm.get(st.vm)!.memoryNeeded);
        if (free.get(host)! < 0) errors.push(`${step.id}: restoring ${st.vmName} overcommits memory`);
      }
    }
  }
  return errors;
}

describe('placement over random pools (seeded property test)', () => {
  const SEEDS = Array.from({ length: 400 }, (_, i) => i + 1);

  it.each([['none'], ['original']] as const)('never targets an older host, never overcommits memory, empties each host (policy %s)', (policy) => {
    let migrations = 0;
    for (const seed of SEEDS) {
      const s = randomPool(seed);
      const p = plan(s, { returnPolicy: policy, mode: 'manual' });
      const errors = replay(s, p);
      if (errors.length) throw new Error(`seed ${seed}: ${errors.slice(0, 3).join('; ')}`);
      expect(p.migrations.lowerBound).toBeLessThanOrEqual(p.migrations.planned);
      migrations += p.migrations.planned;
    }
    expect(migrations).toBeGreaterThan(1000); // the generator really produces migrations
  });

  it('the replay detects a violation (the check can fail)', () => {
    const s = new PoolBuilder().host('h1', { master: true, memGiB: 16 }).host('h2', { memGiB: 16 }).vmsOn('h1', 2, 4).build();
    const p = plan(s, { mode: 'manual' });
    const evac = p.steps.find((x) => x.id === 'h1:evacuate')!;
    expect(replay(s, p)).toEqual([]);
    // make h2 too small for what the plan sends it
    const tight = { ...s, hosts: s.hosts.map((h) => (h.name === 'h2' ? { ...h, memoryFree: 5 * GiB } : h)) };
    expect(replay(tight, p).join()).toMatch(/overcommits memory/);
    expect(evac.migrations).toHaveLength(2);
    // and a migration from an upgraded host back to an old one is caught
    const back = { ...p, steps: [...p.steps, { ...evac, id: 'x', migrations: [{ ...evac.migrations![0], from: evac.migrations![0].to, to: 'OpaqueRef:host-h1' }] }] };
    const s2 = { ...s, hosts: s.hosts.map((h) => (h.name === 'h1' ? { ...h, version: { ...h.version, platform: '2.0.0' } } : h)) };
    void s2;
    expect(replay(s, { ...back, target: { ...back.target, platform: '1.0.0' } }).join()).toMatch(/older than source/);
  });
});
