/**
 * A whole run on the simulator, then the Tools follow-up (issue 15): the checklist opens from the live pool once the
 * run is done on the final target, and follows a guest that installs new Tools some simulated time after the last
 * host came back (scenario installsToolsAfterSeconds). Time comes from the harness's scaled clock (src/clock.ts).
 */
import type { Run } from '../../src/domain/types';
import { createToolsFollowUp } from '../../src/tools/follow-up';
import { planAndStart, startHarness, waitForRun } from '../runner/sim-harness';

it('pool-a to 7.6: the checklist opens after the last host and loses app-01 once its guest reports 7.6 Tools', async () => {
  const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
    // 10 simulated hours (12 s real at the harness scale) after the last host is back: after the run ends even under load
    edit: (s) => {
      for (const v of s.vms) delete v.installsToolsAfterSeconds; // only app-01, at a known delay (the demo has others)
      s.vms.find((v) => v.name === 'app-01')!.installsToolsAfterSeconds = 10 * 3600;
    },
  });
  try {
    const run = await planAndStart(h);
    const done = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted']);
    expect(done.state).toBe('done');
    const checklists: Array<{ first: boolean; run: Run }> = [];
    const tools = createToolsFollowUp({
      store: h.store,
      clock: h.clock,
      pools: [h.pool],
      notifier: { toolsChecklist: async (r, first) => void checklists.push({ first, run: r }), runEvent: async () => undefined },
      client: (p) => h.core.toolsClient(p),
      settings: { checkEveryMs: 60_000 },
    });
    expect((await tools.tick()).opened).toEqual([run.id]);
    const opened = (await h.store.getRun(run.id))!.toolsFollowUp!;
    // the demo's guests with Tools below 7.6 (monitor-01 reports none, test-vm is halted with 7.1.1 Tools)
    expect(opened.pending.map((e) => e.vm)).toEqual(expect.arrayContaining(['app-01', 'db-01', 'mail-01', 'ci-runner']));
    expect(opened.pending.map((e) => e.vm)).not.toContain('monitor-01');
    expect(opened.needed).toBe('7.6.0');
    expect(checklists.map((c) => c.first)).toEqual([true]);

    // poll in real time, bounded by count: the harness clock runs 3000× faster, so 10 simulated hours pass in ~12 s
    let left = opened.pending.map((e) => e.vm);
    for (let i = 0; i < 2400 && left.includes('app-01'); i++) {
      await new Promise((r) => setTimeout(r, 25));
      await tools.tick();
      left = (await h.store.getRun(run.id))!.toolsFollowUp!.pending.map((e) => e.vm);
    }
    const now = (await h.store.getRun(run.id))!.toolsFollowUp!;
    expect(now.pending.map((e) => e.vm)).not.toContain('app-01');
    expect(now.done).toContain('app-01');
    expect(now.pending).toHaveLength(opened.pending.length - 1);
    expect(checklists.at(-1)).toMatchObject({ first: false });
  } finally {
    await h.close();
  }
}, 120_000);
