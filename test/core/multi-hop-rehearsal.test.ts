/**
 * Multi-hop (R1.4) end to end on the simulator: the demo 6.5 pool goes to 7.6 in two hops — hop 1 to 7.1 CU1
 * (automatic, base ISO from a repository), then, re-planned from the live pool and started again, hop 2 to 7.6
 * (manual, the rehearsal plays the operator at the console). Tools are left alone until the last hop (R5.3).
 */
import { rehearse } from '../../src/core/rehearsal';
import { loadScenario } from '../../src/sim';

jest.setTimeout(240_000);

it('pool-legacy: 6.5 → 7.1 CU1 → 7.6 in two hops, re-planned between them; every host down once per hop, never two', async () => {
  const lines: string[] = [];
  const s = await rehearse({ scenario: loadScenario('manifests/demo/pool-legacy.yaml'), mode: 'manual', scale: 4000, out: (l) => lines.push(l) }, true);
  try {
    expect(s.failures).toEqual([]);
    expect(s.hops).toHaveLength(2);
    const [hop1, hop2] = s.hops!;
    expect([hop1!.state, hop2!.state]).toEqual(['done', 'done']);
    expect(hop1!.plan.target.product).toBe('7.1.1');
    expect(hop1!.plan.mode).toBe('automatic');
    expect(hop1!.plan.finalTarget).toBe('7.6');
    expect(hop2!.plan.target.product).toBe('7.6.0');
    expect(hop2!.plan.mode).toBe('manual');
    // the second plan was made from the pool as hop 1 left it: every host on 7.1.1, hop 1 shown done with its run
    expect(hop2!.plan.hosts.map((h) => h.from.product)).toEqual(['7.1.1', '7.1.1', '7.1.1']);
    expect(hop2!.plan.hops!.map((h) => [h.index, h.status, h.runId])).toEqual([
      [1, 'done', hop1!.id],
      [2, 'this', undefined],
    ]);
    expect(hop1!.nextHop).toMatchObject({ state: 'started', runId: hop2!.id, planId: hop2!.planHash, finalTarget: '7.6' });
    expect(lines.join('\n')).toMatch(/next hop planned from the live pool/);

    // every host on 7.6 at the end
    const hosts = s.sim.hosts();
    expect(hosts.map((h) => h.productVersion)).toEqual(['7.6.0', '7.6.0', '7.6.0']);
    // each host shut down exactly once per hop, never two down at once (R3.1)
    expect(s.hopShutdowns).toEqual([
      { 'xs-l1': 1, 'xs-l2': 1, 'xs-l3': 1 },
      { 'xs-l1': 2, 'xs-l2': 2, 'xs-l3': 2 },
    ]);
    expect(s.maxHostsDownAtOnce).toBe(1);
    // VMs all accounted for: every VM that ran before runs after, the halted one is still halted
    expect(hop2!.endAudit?.vms).toEqual([]);
    expect(hop2!.endAudit?.allOnTarget).toBe(true);
    const vms = s.sim.inspect().vms;
    expect(vms.filter((v) => v.powerState === 'Running').map((v) => v.name).sort()).toEqual(['erp-old', 'files-01', 'intranet-01', 'intranet-02', 'ldap-01', 'print-01']);
    expect(vms.find((v) => v.name === 'old-test')?.powerState).toBe('Halted');
    // R5.3: no Tools advice while a host was below 7.6; the last hop lists them
    expect(hop1!.plan.toolsUpgrade).toEqual([]);
    expect(JSON.stringify(hop1!.steps.map((x) => x.data ?? {}))).not.toMatch(/XenServer Tools in/);
    expect(hop2!.plan.toolsUpgrade.length).toBeGreaterThan(0);
  } finally {
    await s.sim.stop();
  }
});
