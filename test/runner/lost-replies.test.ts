/**
 * A side effect that went through but whose reply was lost (on a real pool: the client's 60 s request
 * timeout on a slow synchronous call, e.g. PBD.plug on iSCSI/NFS, or a reset keep-alive socket) is reported as a
 * failure of that side effect, and the run stopped although the pool showed the effect done (found by review). Now the pool is read again.
 */
import { outsideClient, planAndStart, runningVmPlacement, startHarness, waitForRun } from './sim-harness';

const POOL_A = 'manifests/demo/pool-a.yaml';

it('PBD.plug that attached the SR but whose reply was lost: the run must not stop saying the storage is detached', async () => {
  const h = await startHarness(POOL_A, 'automatic', {
    faults: [
      { kind: 'pbd-plug-fails', host: 'xs-a2', sr: 'nfs-shared' }, // xapi's own re-plug at boot fails once
      { kind: 'connection-reset', method: 'PBD.plug', when: 'after' }, // the bot's plug works; its reply is lost
    ],
  });
  try {
    const run = await planAndStart(h);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
    const failed = end.steps.find((s) => s.state === 'failed');
    // evidence: every PBD of xs-a2 is attached (the bot's PBD.plug ran)
    const c = await outsideClient(h);
    const hosts = await c.call<Record<string, { name_label: string }>>('host.get_all_records');
    const a2 = Object.entries(hosts).find(([, x]) => x.name_label === 'xs-a2')![0];
    const pbds = Object.values(await c.call<Record<string, { host: string; currently_attached: boolean }>>('PBD.get_all_records')).filter((p) => p.host === a2);
    c.close();
    expect(pbds.every((p) => p.currently_attached)).toBe(true);
    expect({ state: end.state, failed: failed?.id, error: failed?.error?.message }).toEqual({ state: 'done', failed: undefined, error: undefined });
  } finally {
    await h.close();
  }
});

it('Async.VM.pool_migrate whose reply was lost: evacuate is level-triggered, yet the run stops saying the migration failed', async () => {
  const h = await startHarness(POOL_A, 'automatic', {
    faults: [{ kind: 'connection-reset', method: 'Async.VM.pool_migrate', when: 'after' }],
  });
  try {
    const run = await planAndStart(h);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
    const failed = end.steps.find((s) => s.state === 'failed');
    if (failed) {
      // evidence: the VM the alert names as failed runs on another host (the migration went through)
      await new Promise((r) => setTimeout(r, 500));
      expect(runningVmPlacement(h.sim)['build-agent']).not.toBe('xs-a1');
    }
    expect({ state: end.state, failed: failed?.id, error: failed?.error?.message }).toEqual({ state: 'done', failed: undefined, error: undefined });
  } finally {
    await h.close();
  }
});
