/** R2.3 on the simulator: a VM suspended with a disc in its CD drive is cycled before any host goes down, so it resumes after the run. */
import { XenApiClient } from '../../src/xenapi';
import { approveGates, planAndStart, startHarness, waitForRun } from './sim-harness';

const withSuspendedCd = (s: { vms: unknown[] }) => {
  s.vms.push({ name: 'old-build', host: null, power: 'Suspended', memoryGiB: 4, disks: [{ sr: 'nfs-shared', sizeGiB: 20 }], cd: { iso: 'centos-7.iso' } });
};

describe('a VM suspended with a CD inserted (R2.3)', () => {
  it('is resumed on a host still on the old version, its disc ejected and suspended again before any host goes down; it resumes on 7.6 after the run', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { edit: withSuspendedCd as never });
    let client: XenApiClient | undefined;
    try {
      const plan = await h.core.plan(h.pool.name, {}, { userId: 'UREQUEST1', source: 'slack', channel: 'CPOOL', groups: [] });
      if (!plan.ok) throw new Error(plan.error);
      const check = plan.value.prechecks.find((p) => p.id === 'cd-in-suspended-vm')!;
      expect(check).toMatchObject({ rule: 'R2.3', severity: 'warning', fix: { kind: 'cycle-suspended-cds' } });
      expect(check.message).toMatch(/old-build \(suspended\) has ISO "centos-7.iso".*old-build resumed on xs-a\d, disc ejected, suspended again/);
      expect(plan.value.steps.find((s) => s.id === 'pool-prep')!.description).toMatch(/resume old-build on xs-a\d, eject its disc and suspend it again \(R2\.3\)/);

      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect({ state: done.state, failed: done.steps.filter((s) => s.state === 'failed').map((s) => [s.id, s.error]) }).toEqual({ state: 'done', failed: [] });
      expect(done.steps.find((s) => s.id === 'pool-prep')!.data?.cycled).toEqual({ [check.fix.kind === 'cycle-suspended-cds' ? check.fix.vms[0]!.vm : '']: 'done' });

      // the three side effects, in order, before the first host is disabled
      const acts = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi').map((e) => e.message);
      const at = (re: RegExp) => acts.findIndex((m) => re.test(m));
      expect(at(/^VM\.resume_on old-build on xs-a\d/)).toBeGreaterThanOrEqual(0);
      expect(at(/^VM\.resume_on old-build/)).toBeLessThan(at(/^VBD\.eject CD drive of old-build/));
      expect(at(/^VBD\.eject CD drive of old-build/)).toBeLessThan(at(/^VM\.suspend old-build/));
      expect(at(/^VM\.suspend old-build/)).toBeLessThan(at(/^host\.disable /));

      expect(h.sim.inspect().vms.find((v) => v.name === 'old-build')!.powerState).toBe('Suspended');
      // its suspended state survived the upgrade: it resumes on a 7.6 host
      client = new XenApiClient({ url: h.sim.masterUrl, username: h.sim.username, password: h.sim.password, tls: h.sim.tls, clock: h.clock });
      await client.login();
      const ref = Object.entries(await client.call<Record<string, { name_label: string }>>('VM.get_all_records')).find(([, v]) => v.name_label === 'old-build')![0];
      await client.callAsync('VM.resume', [ref, false, false]);
      expect(h.sim.inspect().vms.find((v) => v.name === 'old-build')!.powerState).toBe('Running');
    } finally {
      await client?.logout().catch(() => undefined);
      await h.close();
    }
  });

  it('a disc inserted after the plan into a VM the run suspends is ejected before the suspend (R2.3, R6.1): the VM resumes after its host\'s upgrade', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    const client = new XenApiClient({ url: h.sim.masterUrl, username: h.sim.username, password: h.sim.password, tls: h.sim.tls, clock: h.clock });
    try {
      const run = await planAndStart(h);
      await approveGates(h, run.id, 'xs-a1:approval'); // pool-prep has emptied the drives the plan saw
      await client.login();
      const vms = await client.call<Record<string, { name_label: string; VBDs: string[] }>>('VM.get_all_records');
      const licence = Object.values(vms).find((v) => v.name_label === 'vm-licence-srv')!;
      const vbds = await Promise.all(licence.VBDs.map(async (b) => [b, await client.call<{ type: string }>('VBD.get_record', [b])] as const));
      const cd = vbds.find(([, r]) => r.type === 'CD')![0];
      const vdis = await client.call<Record<string, { name_label: string }>>('VDI.get_all_records');
      const iso = Object.entries(vdis).find(([, v]) => v.name_label === 'centos-7.iso')![0];
      await client.call('VBD.insert', [cd, iso]);

      const done = await approveGates(h, run.id);
      expect({ state: done.state, failed: done.steps.filter((s) => s.state === 'failed').map((s) => `${s.id}: ${s.error?.message}`) }).toEqual({ state: 'done', failed: [] });
      expect(h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')).toMatchObject({ powerState: 'Running', residentOn: 'xs-a2' });
      const acts = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi').map((e) => e.message);
      const eject = acts.findIndex((m) => /^VBD\.eject CD drive of vm-licence-srv \(before its suspend, R2\.3\)/.test(m));
      expect(eject).toBeGreaterThanOrEqual(0);
      expect(eject).toBeLessThan(acts.findIndex((m) => /^VM\.suspend vm-licence-srv/.test(m)));
    } finally {
      await client.logout().catch(() => undefined);
      await h.close();
    }
  });
});

