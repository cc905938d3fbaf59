/**
 * The header's pool line about HA (R2.4). When pool.disable_ha is refused, the run fails at pool-prep with HA still
 * on; the header (re-rendered for the failure) must not tell the operator "HA disabled for the run".
 */
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { planAndStart, startHarness, waitForRun } from '../runner/sim-harness';

describe('header HA words when HA was never disabled', () => {
  it('pool.disable_ha refused: the run fails at pool-prep, HA is on, and the header does not say HA is disabled', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      autoApprove: false,
      faults: [{ kind: 'api-error', method: 'pool.disable_ha', code: 'INTERNAL_ERROR', times: 20 }],
    });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['failed', 'awaiting-approval']);
      expect(failed.state).toBe('failed');
      expect(failed.steps.find((s) => s.state === 'failed')?.id).toBe('pool-prep');
      expect(h.sim.inspect().pool.haEnabled).toBe(true); // what the pool shows

      const header = JSON.stringify(runHeaderMessage(failed, h.pool).blocks);
      expect(header).not.toMatch(/HA disabled/);
    } finally {
      await h.close();
    }
  });
});
