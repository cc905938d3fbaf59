/**
 * A run reads only what each step needs (issue 13): per-host steps ask for one host's VMs
 * (VM.get_all_records_where) or the few VMs they act on (VM.get_record), never the whole VM list. Counted on the
 * simulator's call statistics over a whole run of pool-a with VMs brought home (every per-host step runs).
 */
import { planAndStart, startHarness, waitForRun } from './sim-harness';

it('pool-a, automatic, policy original: the whole VM list is read once per host (evacuate’s placement check), not at every step', async () => {
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: { returnPolicy: 'original' } });
  try {
    const hosts = h.sim.hosts().length;
    const run = await planAndStart(h);
    const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
    expect(done.state).toBe('done');
    const calls = h.sim.stats().calls;
    // one per host in evacuate; the rest are once per run (plan, start's fresh read, the baseline before the first
    // change, pool-prep, pool-finish, the end-of-run audit). It was at least 5 per host before (evacuate, its
    // after-check, stop-vms twice, upgrade, …).
    expect(calls['VM.get_all_records']).toBeLessThanOrEqual(hosts + 6);
    // each host: evacuate's after-check, upgrade's take-down check, stop-vms' after-check
    expect(calls['VM.get_all_records_where']).toBeGreaterThanOrEqual(2 * hosts);
  } finally {
    await h.close();
  }
});
