/**
 * move-back (return policy "original") with a migration already in flight: the bot's own migration home whose reply
 * was lost is still running when the step re-runs. As in evacuate (R3.7), a second VM.pool_migrate would be refused
 * with OTHER_OPERATION_IN_PROGRESS (reference G1) and fail the step: the migration in flight is followed to its end,
 * and the VM is judged by where it is then (home: nothing sent).
 */
import { planAndStart, startHarness, waitForStepEnd, type Harness } from './sim-harness';

jest.setTimeout(120_000);

it("the bot's own migration home whose reply was lost is still in flight when move-back re-runs: it is followed, not sent a second time", async () => {
  let h: Harness | undefined;
  h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    pool: { returnPolicy: 'original' },
    edit: (s) => {
      // one VM to move off the master and back (8 GiB: about 0.8 s of real time to migrate)
      s.timings.migrationSecondsPerGiB = 300;
      for (const v of s.vms) if (v.host === 'xs-a1' && v.name !== 'web-01') v.power = 'Halted';
    },
    checkpoint: async (label) => {
      // the reply of the bot's VM.pool_migrate home is lost (a reset connection); the migration itself goes on
      if (label === 'before:xs-a1:move-back') h!.sim.control.injectFault({ kind: 'connection-reset', method: 'Async.VM.pool_migrate', when: 'after' });
    },
  });
  try {
    const run = await planAndStart(h);
    const after = await waitForStepEnd(h.store, run.id, 'xs-a1:move-back');
    const back = after.steps.find((s) => s.id === 'xs-a1:move-back')!;
    expect({ state: back.state, error: back.error?.message }).toEqual({ state: 'done', error: undefined });
    // two migrations of web-01 in all: off the master (evacuate) and home (move-back), none sent twice
    const sent = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && /VM\.pool_migrate web-01/.test(e.message));
    expect(sent).toHaveLength(2);
    const web = h.sim.inspect().vms.find((v) => v.name === 'web-01')!;
    expect(web.residentOn).toBe('xs-a1');
  } finally {
    await h.close();
  }
});
