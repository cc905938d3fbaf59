/**
 * A human's decision and its audit event are one write (store updateRun / createRun with `audit`): if the bot dies
 * right after a start, a hold, a resume, an approval, an abort or a Restore, the audit log still says who made it.
 * Here the audit log cannot be appended to apart from a decision (as if the process had died before a second
 * write): every decision is audited all the same.
 */
import type { AuditEvent } from '../../src/domain/types';
import { APPROVER, REQUESTER, planAndStart, startHarness, waitForRun, type Harness } from '../runner/sim-harness';

const HUMANS = new Set([APPROVER.userId, REQUESTER.userId]);

/** appendAudit fails for every event a human's action writes apart from its decision */
function noSeparateHumanAudit(h: Harness): AuditEvent[] {
  const refused: AuditEvent[] = [];
  const append = h.store.appendAudit.bind(h.store);
  h.store.appendAudit = async (e, opts) => {
    if (HUMANS.has(e.actor)) {
      refused.push(e);
      throw new Error('the bot died here');
    }
    return append(e, opts);
  };
  return refused;
}

describe('a decision is audited in the same write as the decision', () => {
  it('start, hold, resume and approve: each in the audit log with who made it', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const refused = noSeparateHumanAudit(h);
      const run = await planAndStart(h);
      await waitForRun(h.store, run.id, ['awaiting-approval']);
      expect((await h.core.hold(run.id, 'xs-a1:approval', APPROVER)).ok).toBe(true);
      expect((await h.core.resume(run.id, APPROVER)).ok).toBe(true);
      await waitForRun(h.store, run.id, ['awaiting-approval']);
      expect((await h.core.approve(run.id, 'xs-a1:approval', APPROVER)).ok).toBe(true);

      const human = (await h.store.listAudit(run.id)).filter((e) => HUMANS.has(e.actor)).map((e) => `${e.kind} ${e.actor}: ${e.message}`);
      expect(human).toEqual([
        expect.stringMatching(new RegExp(`^state ${REQUESTER.userId}: run ${run.id} started by `)),
        expect.stringMatching(new RegExp(`^approval ${APPROVER.userId}: xs-a1:approval held by `)),
        expect.stringMatching(new RegExp(`^state ${APPROVER.userId}: run resumed by `)),
        expect.stringMatching(new RegExp(`^approval ${APPROVER.userId}: xs-a1:approval approved by `)),
      ]);
      // none of them went through a separate append
      expect(refused).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('a recovery action (Retry after a failed install): audited with the step and who chose it', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'install-fails', host: 'xs-a1', when: 'before', times: 1 }] });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      const refused = noSeparateHumanAudit(h);
      expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(true);
      const audit = (await h.store.listAudit(run.id)).filter((e) => e.actor === APPROVER.userId && e.kind === 'recovery');
      expect(audit).toEqual([expect.objectContaining({ message: `retry on ${step.id} by ${APPROVER.userId}`, detail: { action: 'retry', stepId: step.id } })]);
      expect(refused).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('abort: the abort is audited even when the bot dies before its report is written', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      await waitForRun(h.store, run.id, ['awaiting-approval']);
      const refused = noSeparateHumanAudit(h);
      await expect(h.core.abort(run.id, APPROVER)).rejects.toThrow('the bot died here');
      const audit = (await h.store.listAudit(run.id)).filter((e) => e.actor === APPROVER.userId);
      expect(audit.map((e) => e.message)).toEqual([`run aborted by ${APPROVER.userId}`]);
      expect((await h.store.getRun(run.id))!.state).toBe('aborted');
      // what was lost is the report of what the abort left, written after the pool was read again
      expect(refused.map((e) => e.message)).toEqual([`report of the abort by ${APPROVER.userId}`]);
    } finally {
      await h.close();
    }
  });
});
