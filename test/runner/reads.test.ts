/**
 * A run reads only what each step needs (issue 13): per-host steps ask for one host's VMs
 * (VM.get_all_records_where) or the few VMs they act on (VM.get_record), never the whole VM list. Counted on the
 * simulator's call statistics over a whole run of pool-a with VMs brought home (every per-host step runs).
 */
import { syntheticScenario } from '../../bench/plan';
import { readLivePoolFor, vmsOn } from '../../src/runner/pool-state';
import { parseScenario, startSimulator } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';
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

describe('one host’s VMs (readLivePoolFor, what stop-vms, upgrade and evacuate’s after-check read)', () => {
  it.each(['jsonrpc', 'xmlrpc'] as const)('over %s: one VM.get_all_records_where for that host, no VM.get_all_records, exactly its VMs', async (transport) => {
    const sim = await startSimulator(parseScenario(syntheticScenario(4, 5), 'reads-per-host'));
    const client = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls, transport });
    try {
      await client.login();
      const host = sim.hosts()[2]!;
      const before = { ...sim.stats().calls };
      const pool = await readLivePoolFor(client, { residentOn: host.ref });
      const calls = sim.stats().calls;
      const delta = (m: string) => (calls[m] ?? 0) - (before[m] ?? 0);
      expect(delta('VM.get_all_records_where')).toBe(1);
      expect(delta('VM.get_all_records')).toBe(0);
      expect(delta('VM.get_record')).toBe(0);
      const expected = sim.inspect().vms.filter((v) => v.residentOn === host.name && v.powerState === 'Running').map((v) => v.ref).sort();
      expect(expected.length).toBeGreaterThan(0);
      expect(vmsOn(pool, host.ref).map((v) => v.ref).sort()).toEqual(expected);
      // nothing of the other hosts' VMs was decoded: every VM in the result is on this host
      expect(pool.vms.every((v) => v.residentOn === host.ref)).toBe(true);
      expect(pool.hosts).toHaveLength(4); // the hosts view is whole (3 small calls: pool, host, host_metrics)
    } finally {
      await client.logout().catch(() => undefined);
      await sim.stop();
    }
  });
});
