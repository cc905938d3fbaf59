/**
 * R4.3 Retry reconciles with the live pool first (issue 11 point 10): a host powered off while waiting for its gate
 * and powered on again comes back enabled (xapi enables a host when it boots), maybe with a VM moved onto it; the
 * upgrade then refuses to take it down. Retry disables it again, re-evacuates it, and the run completes.
 */
import { XenApiClient } from '../../src/xenapi';
import { APPROVER, approveGates, planAndStart, startHarness, waitForRun } from './sim-harness';

async function until(what: string, cond: () => boolean, realMs = 30_000): Promise<void> {
  const end = Date.now() + realMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Retry after a host was powered off and on before its upgrade', () => {
  it('disables and re-evacuates the re-enabled host (a VM moved onto it is re-placed), then upgrades it: no dead end', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    const client = new XenApiClient({ url: h.sim.masterUrl, username: h.sim.username, password: h.sim.password, tls: h.sim.tls, clock: h.clock });
    try {
      const started = await planAndStart(h);
      expect((await approveGates(h, started.id, 'xs-a2:approval')).steps.find((s) => s.state === 'awaiting-approval')!.id).toBe('xs-a2:approval');
      const xsA2 = () => h.sim.hosts().find((x) => x.name === 'xs-a2')!;
      expect(xsA2().enabled).toBe(false);

      // the machine loses power and is switched on again: xapi re-enables it at boot
      h.sim.control.powerOff('xs-a2');
      await until('xs-a2 off', () => xsA2().power === 'off');
      h.sim.control.powerOn('xs-a2');
      await until('xs-a2 back, enabled', () => xsA2().live && xsA2().enabled);
      // meanwhile someone moves a VM onto it (same version: allowed during the upgrade)
      await client.login();
      const recs = await client.call<Record<string, { name_label: string }>>('VM.get_all_records');
      const hosts = await client.call<Record<string, { name_label: string }>>('host.get_all_records');
      const vmRef = Object.entries(recs).find(([, v]) => v.name_label === 'cache-01')![0];
      const a2Ref = Object.entries(hosts).find(([, v]) => v.name_label === 'xs-a2')![0];
      await client.callAsync('VM.pool_migrate', [vmRef, a2Ref, { live: 'true' }]);
      expect(h.sim.inspect().vms.find((v) => v.name === 'cache-01')!.residentOn).toBe('xs-a2');

      expect((await h.core.approve(started.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, started.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toMatch(/^xs-a2:(stop-vms|upgrade)$/); // the first step after the gate that finds it enabled again (R3.3)
      expect(h.sim.stats().shutdowns['xs-a2'] ?? 0).toBe(0); // nothing was taken down with a VM on it
      expect(h.notifier.calls.filter((c) => c.method === 'stepFailed').pop()!.actions![0]).toBe('retry');

      expect((await h.core.recover(started.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(true);
      const done = await approveGates(h, started.id);
      expect({ state: done.state, failed: done.steps.filter((s) => s.state === 'failed').map((s) => `${s.id}: ${s.error?.message}`) }).toEqual({ state: 'done', failed: [] });
      expect(h.sim.inspect().hosts.every((x) => x.productVersion === '7.6.0' && x.enabled)).toBe(true);
      expect(h.sim.stats().shutdowns['xs-a2']).toBe(1);
      expect(h.sim.stats().maxHostsDownAtOnce).toBeLessThanOrEqual(1);
      expect(h.sim.inspect().vms.find((v) => v.name === 'cache-01')!.powerState).toBe('Running');
      // the retry re-ran the host's preparation against the live pool: disabled again, cache-01 migrated off
      const acts = (await h.store.listAudit(started.id)).filter((e) => e.kind === 'xenapi').map((e) => e.message);
      expect(acts.filter((m) => /^host\.disable xs-a2/.test(m))).toHaveLength(2);
      expect(acts.some((m) => /^VM\.pool_migrate cache-01 → xs-a[13]/.test(m))).toBe(true);
      expect(done.steps.find((s) => s.id === 'xs-a2:disable')!.attempts).toBe(2);
    } finally {
      await client.logout().catch(() => undefined);
      await h.close();
    }
  });
});
