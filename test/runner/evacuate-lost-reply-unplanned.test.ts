/**
 * Evacuate records each migration before sending it (`issued`), so that after a lost reply the re-run counts a VM
 * found off the host as the run's own migration. But the reconcile only walks the PLAN's migrations: a VM that was
 * not in the plan (it arrived on the host after planning: placement recomputed) whose migration was sent and whose
 * reply was lost is found off the host on the re-run and recorded nowhere — neither `moved` (the end's count of live
 * migrations, move-back's list for VMs the plan did not know) nor `elsewhere` (found by review; now it walks `issued` too).
 */
import { APPROVER, approveGates, approveUntilGate, outsideClient, planAndStart, startHarness, waitForRun } from './sim-harness';

jest.setTimeout(180_000);

it('a migration the bot sent for a VM not in the plan, its reply lost, is recorded as the run\'s migration after the re-run', async () => {
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
  try {
    const run = await planAndStart(h);
    const plannedOffA2 = (run.plan.steps.find((s) => s.id === 'xs-a2:evacuate')?.migrations ?? run.plan.hosts.find((x) => x.name === 'xs-a2')!.migrations).map((m) => m.vmName);
    expect(plannedOffA2).not.toContain('cache-01');
    await approveUntilGate(h, run.id, 'xs-a1:approval');
    // an operator puts cache-01 (planned on xs-a3) on xs-a2 while the run waits at the master's gate
    const c = await outsideClient(h);
    const cache = h.sim.inspect().vms.find((v) => v.name === 'cache-01')!.ref;
    const a2 = h.sim.hosts().find((x) => x.name === 'xs-a2')!.ref;
    await c.call('VM.pool_migrate', [cache, a2, { live: 'true' }]);
    c.close();
    const toMove = h.sim.inspect().vms.filter((v) => v.residentOn === 'xs-a2' && v.powerState === 'Running' && v.name !== 'vm-licence-srv');
    expect(toMove.map((v) => v.name)).toContain('cache-01');
    // every migration off xs-a2 goes through, but its reply is lost (a reset connection): the step re-runs
    h.sim.control.injectFault({ kind: 'connection-reset', method: 'Async.VM.pool_migrate', when: 'after', times: toMove.length } as never);

    await h.core.approve(run.id, 'xs-a1:approval', APPROVER);
    await approveGates(h, run.id);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
    const evac = end.steps.find((s) => s.id === 'xs-a2:evacuate')!;
    expect(evac.state).toBe('done');
    const sent = (await h.store.listAudit(run.id)).filter(
      (e) => e.kind === 'xenapi' && (e.detail as { method?: string; step?: string })?.method === 'VM.pool_migrate' && (e.detail as { step?: string }).step === 'xs-a2:evacuate',
    );
    expect(sent.some((e) => /cache-01/.test(e.message))).toBe(true); // the bot sent cache-01's migration
    const moved = Object.values((evac.data?.moved ?? {}) as Record<string, { name: string }>).map((m) => m.name);
    // every migration the bot sent off xs-a2 is in its records (the end's "N live migrations", move-back's list)
    expect(moved.sort()).toEqual(toMove.map((v) => v.name).sort());
  } finally {
    await h.close();
  }
});
