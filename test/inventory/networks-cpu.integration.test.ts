/**
 * Issue 12 points 3 and 5 on the simulator: networks (a VLAN on some hosts only, an internal network) and CPU
 * features. The inventory reads them, placement only targets hosts with a PIF on every network of the VM and every
 * CPU feature it booted with, the plan names the VMs that cannot move anywhere and why, and the run on the
 * simulator completes without a single VM_REQUIRES_NETWORK or VM_INCOMPATIBLE_WITH_THIS_HOST.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ScaledClock } from '../../src/clock';
import { planLivePool } from '../../src/inventory/live-plan';
import { loadUpgradePaths } from '../../src/planner';
import { startSimulator, type ScenarioInput } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';
import { planAndStart, runningVmPlacement, startHarness, waitForRun } from '../runner/sim-harness';

const REPO = 'http://repo.example.com/xenserver/7.6/';
const WIDE = 'ffffffff-ffffffff-ffffffff-ffffffff';
const V = { productVersion: '7.1.1', platformVersion: '2.1.1', build: 'ely', memoryGiB: 64 };
const scenario: ScenarioInput = {
  pool: { name: 'netcpu', password: 'pw' },
  hosts: [
    { name: 'h1', master: true, ...V },
    { name: 'h2', ...V },
    // a newer CPU: VMs booted here use features the others do not offer
    { name: 'h3', ...V, cpuFeatures: WIDE },
  ],
  srs: [{ name: 'nfs', type: 'nfs', shared: true }],
  networks: [
    { name: 'vlan20', vlan: 20, hosts: ['h1', 'h2'] },
    { name: 'vlan30', vlan: 30, hosts: ['h2'] },
    { name: 'private', internal: true },
  ],
  vms: [
    { name: 'on-vlan20', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }], networks: ['vlan20'] },
    { name: 'only-vlan30', host: 'h2', memoryGiB: 2, disks: [{ sr: 'nfs' }], networks: ['vlan30'] },
    { name: 'internal', host: 'h1', memoryGiB: 2, disks: [{ sr: 'nfs' }], networks: ['private'] },
    { name: 'wide-cpu', host: 'h3', memoryGiB: 2, disks: [{ sr: 'nfs' }] },
    { name: 'plain', host: 'h3', memoryGiB: 2, disks: [{ sr: 'nfs' }], cpuFlags: '1fcbfbff-f7fa3203-2d93fbff-00000023' },
  ],
  repositories: [{ url: REPO, version: '7.6.0', platform: '2.7.0', build: 'lima' }],
};

describe('networks and CPU features in the plan (issue 12 points 3, 5)', () => {
  it('targets only hosts with the networks and CPU features; names the VMs that cannot move anywhere and why', async () => {
    const clock = new ScaledClock(1000);
    const sim = await startSimulator(scenario, { clock });
    const client = new XenApiClient({ url: sim.masterUrl, username: 'root', password: 'pw', tls: sim.tls, clock });
    try {
      const { plan, snapshot } = await planLivePool(
        client,
        { pool: 'netcpu', target: '7.6', mode: 'automatic', returnPolicy: 'none', paths: loadUpgradePaths(), repositoryUrl: REPO },
        clock,
      );
      const vm = (n: string) => snapshot.vms.find((x) => x.name === n)!;
      const host = (n: string) => snapshot.hosts.find((x) => x.name === n)!;
      expect(snapshot.networks!.map((n) => [n.name, n.hosts.map((h) => snapshot.hosts.find((x) => x.ref === h)!.name).sort()])).toEqual([
        ['Pool-wide network associated with eth0', ['h1', 'h2', 'h3']],
        ['private', []],
        ['vlan20', ['h1', 'h2']],
        ['vlan30', ['h2']],
      ]);
      expect(vm('on-vlan20').networks).toHaveLength(1);
      expect(host('h3').cpuFeatures).toBe(WIDE);
      expect(vm('wide-cpu').cpuFlags).toBe(WIDE);

      const migrationsOf = (name: string) => plan.steps.flatMap((s) => s.migrations ?? []).filter((m) => m.vmName === name);
      // the VLAN is on h1 and h2 only: never to h3
      expect(migrationsOf('on-vlan20').map((m) => m.toName)).toEqual(['h2', 'h1']); // off h1, then off h2 back to upgraded h1
      const stops = plan.hosts.flatMap((h) => h.stops.map((s) => s.vmName));
      expect(stops.sort()).toEqual(['internal', 'only-vlan30', 'wide-cpu']);
      const net = plan.prechecks.filter((p) => p.id === 'vm-network');
      expect(net.flatMap((p) => p.subjects.vms).sort()).toEqual(['internal', 'only-vlan30']);
      expect(net.map((p) => p.message).join('\n')).toMatch(/no allowed host has a PIF on its network .*VM_REQUIRES_NETWORK/);
      const cpu = plan.prechecks.find((p) => p.id === 'vm-cpu-features')!;
      expect(cpu).toMatchObject({ rule: 'R3.4', subjects: { hosts: ['h3'], vms: ['wide-cpu'] } });
      expect(cpu.message).toMatch(/wide-cpu on h3 → will be suspended .*no allowed host offers every CPU feature it booted with \(VM_INCOMPATIBLE_WITH_THIS_HOST\)/);
      // a VM booted with a subset of the features moves as usual
      expect(migrationsOf('plain')).toHaveLength(1);
      expect(plan.executable).toBe(true);
    } finally {
      client.close();
      await sim.stop();
    }
  });

  it('the simulator refuses what the plan avoids, and the run completes without either error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netcpu-'));
    const file = join(dir, 'netcpu.yaml');
    writeFileSync(file, YAML.stringify(scenario));
    const h = await startHarness(file, 'automatic', { pool: { upgrade: { mode: 'automatic', repositoryUrl: REPO } } });
    try {
      const s = await h.sim.inspect();
      const ref = (n: string) => s.vms.find((x) => x.name === n)!.ref;
      const hostRef = (n: string) => h.sim.hosts().find((x) => x.name === n)!.ref;
      const xc = new XenApiClient({ url: h.sim.masterUrl, username: 'root', password: 'pw', tls: h.sim.tls, clock: h.clock });
      try {
        await expect(xc.call('VM.pool_migrate', [ref('on-vlan20'), hostRef('h3'), {}])).rejects.toMatchObject({ code: 'VM_REQUIRES_NETWORK' });
        await expect(xc.call('VM.pool_migrate', [ref('wide-cpu'), hostRef('h1'), {}])).rejects.toMatchObject({ code: 'VM_INCOMPATIBLE_WITH_THIS_HOST' });
        await expect(xc.call('VM.pool_migrate', [ref('internal'), hostRef('h2'), {}])).resolves.toBe('');
        await xc.call('VM.pool_migrate', [ref('internal'), hostRef('h1'), {}]);
      } finally {
        await xc.logout();
      }
      const before = runningVmPlacement(h.sim);
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
      expect(done.steps.filter((x) => x.state === 'failed').map((x) => `${x.id}: ${x.error?.message}`)).toEqual([]);
      expect(done.state).toBe('done');
      expect(Object.keys(runningVmPlacement(h.sim)).sort()).toEqual(Object.keys(before).sort());
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
