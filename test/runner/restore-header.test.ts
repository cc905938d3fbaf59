/**
 * After Restore puts everything back, the run header (re-rendered on runUpdated) must not keep saying what the
 * abort's audit found before Restore ("still changed: xs-a1 disabled … HA off") next to the fresh audit's words.
 */
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { APPROVER, approveUntilGate, planAndStart, startHarness } from './sim-harness';

const textOf = (blocks: unknown) => JSON.stringify(blocks);

describe('run header after a Restore (found by review)', () => {
  it('abort at the master gate, Restore puts back host and HA: the header no longer says the host is disabled or HA off', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a1:approval');
      expect(h.sim.hosts().find((x) => x.name === 'xs-a1')!.enabled).toBe(false);
      const aborted = await h.core.abort(run.id, APPROVER);
      expect(aborted.ok).toBe(true);
      const restored = await h.core.restore(run.id, APPROVER);
      expect(restored.ok).toBe(true);
      const after = (await h.store.getRun(run.id))!;
      // what the live pool shows now: every change put back
      expect(h.sim.hosts().find((x) => x.name === 'xs-a1')!.enabled).toBe(true);
      expect(after.endAudit!.changed.filter((c) => /disabled|HA off/.test(c))).toEqual([]);

      // the header the notifier posts on runUpdated(final)
      const header = textOf(runHeaderMessage(after, h.pool).blocks);
      expect(header).not.toMatch(/xs-a1 disabled/);
      expect(header).not.toMatch(/HA off/);
      // it says what happened: the abort, then the pool after the Restore
      expect(after.outcome!.split('\n')[0]).toMatch(/^aborted by UAPPROVER1; after Restore by UAPPROVER1: still changed: 4 running VM\(s\) on another host than before \(live-migrated\)/);
      expect(header).toContain('after Restore by');
    } finally {
      await h.close();
    }
  });
});
