/**
 * At the end of a run the header is re-rendered with the end audit of the live pool. A host the audit finds disabled
 * (an operator disabled it after the run enabled it) must not keep its ✅ line: the header then reads "done with
 * exceptions" above three ✅ hosts, and the operator cannot tell from it which host is the exception.
 */
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { APPROVER, approveGates, approveUntilGate, outsideClient, planAndStart, startHarness, waitForRun } from '../runner/sim-harness';

describe('run header host lines at the end of a run', () => {
  it('xs-a2 disabled from outside after its upgrade: its header line is not ✅', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a3:approval');
      const c = await outsideClient(h);
      const a2 = h.sim.hosts().find((x) => x.name === 'xs-a2')!;
      expect(a2.enabled).toBe(true);
      await c.call('host.disable', [a2.ref]);
      await h.core.approve(run.id, 'xs-a3:approval', APPROVER);
      await approveGates(h, run.id);
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(done.state).toBe('done');
      expect(done.endAudit!.leftovers).toContain('xs-a2: disabled');

      const header = runHeaderMessage(done, h.pool);
      const lines = (header.blocks[1] as { text: { text: string } }).text.text.split('\n');
      const a2line = lines.find((l) => l.startsWith('`xs-a2`'))!;
      expect(a2line).toBeDefined();
      expect(a2line).not.toMatch(/✅/);
    } finally {
      await h.close();
    }
  });
});
