/**
 * Evacuate (R3.7) with a migration already in flight off the host: the VM is still resident_on the host being
 * emptied, with pool_migrate in its current_operations (an operator's, or the bot's own whose reply was lost). A
 * second VM.pool_migrate would be refused with OTHER_OPERATION_IN_PROGRESS (reference G1) and fail the step: the
 * migration in flight is followed to its end instead, and the VM is judged by where it is then.
 */
import { XenApiClient } from '../../src/xenapi';
import { outsideClient, planAndStart, startHarness, waitForStepEnd, type Harness } from './sim-harness';

jest.setTimeout(120_000);

it("a VM someone else is migrating off the host when evacuate starts is followed: the bot sends no second migration and the step does not fail", async () => {
  let h: Harness | undefined;
  let outside: XenApiClient | undefined;
  let started = false;
  h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    // slow live migrations (32 GiB db-01: about 3 s of real time), so that one is still in flight when the step reads
    edit: (s) => void (s.timings.migrationSecondsPerGiB = 300),
    checkpoint: async (label) => {
      if (label !== 'before:xs-a1:evacuate' || started) return;
      started = true;
      // an operator moves db-01 off the master by hand (XenCenter, xe vm-migrate) just as the bot reaches it
      outside = await outsideClient(h!);
      const db = h!.sim.inspect().vms.find((v) => v.name === 'db-01')!.ref;
      const a3 = h!.sim.hosts().find((x) => x.name === 'xs-a3')!.ref;
      await outside.call('Async.VM.pool_migrate', [db, a3, { live: 'true' }]);
    },
  });
  try {
    const run = await planAndStart(h);
    const after = await waitForStepEnd(h.store, run.id, 'xs-a1:evacuate');
    const evac = after.steps.find((s) => s.id === 'xs-a1:evacuate')!;
    expect(started).toBe(true);
    expect({ state: evac.state, error: evac.error?.message }).toEqual({ state: 'done', error: undefined });
    // db-01 ended on xs-a3, where the operator sent it; the bot sent no migration of its own for it
    const sent = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && /VM\.pool_migrate/.test(e.message) && /db-01/.test(e.message));
    expect(sent).toEqual([]);
  } finally {
    outside?.close();
    await h.close();
  }
});

it("the bot's own migration whose reply was lost is still in flight when the step re-runs: it is followed, not sent a second time, and the step does not fail", async () => {
  let h: Harness | undefined;
  h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    edit: (s) => {
      // one VM to move off the master (8 GiB: about 0.8 s of real time to migrate)
      s.timings.migrationSecondsPerGiB = 300;
      for (const v of s.vms) if (v.host === 'xs-a1' && v.name !== 'web-01') v.power = 'Halted';
    },
    checkpoint: async (label) => {
      // the reply of the bot's VM.pool_migrate is lost (a reset connection); the migration itself goes on
      if (label === 'before:xs-a1:evacuate') h!.sim.control.injectFault({ kind: 'connection-reset', method: 'Async.VM.pool_migrate', when: 'after' });
    },
  });
  try {
    const run = await planAndStart(h);
    expect(run.plan.steps.find((s) => s.id === 'xs-a1:evacuate')?.migrations?.map((m) => m.vmName) ?? run.plan.hosts[0]!.migrations.map((m) => m.vmName)).toEqual(['web-01']);
    const after = await waitForStepEnd(h.store, run.id, 'xs-a1:evacuate');
    const evac = after.steps.find((s) => s.id === 'xs-a1:evacuate')!;
    expect({ state: evac.state, error: evac.error?.message }).toEqual({ state: 'done', error: undefined });
    const sent = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && /VM\.pool_migrate web-01/.test(e.message));
    expect(sent).toHaveLength(1);
  } finally {
    await h.close();
  }
});
