/**
 * The approval request says what happened to the host's VMs ("`xs-a2` is disabled: N VMs live-migrated to …"), and
 * the end of the run says "N live migrations", "counted from the run's records (never from the plan)". When an
 * operator moved one of the host's VMs away by hand between the plan and the host's evacuation, neither may claim
 * that migration as the bot's: the bot did not do it, and the VM is not where the plan said it would go (found by
 * review: both did).
 */
import { approvalMessage } from '../../src/slack/blocks/approval';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { APPROVER, approveGates, approveUntilGate, outsideClient, planAndStart, startHarness, waitForRun } from './sim-harness';

const textOf = (blocks: unknown) => JSON.stringify(blocks);

async function operatorMovesMail01(h: Awaited<ReturnType<typeof startHarness>>) {
  const run = await planAndStart(h);
  const planned = run.plan.hosts.find((x) => x.name === 'xs-a2')!;
  expect(planned.migrations.find((m) => m.vmName === 'mail-01')?.toName).toBe('xs-a1');
  await approveUntilGate(h, run.id, 'xs-a1:approval');
  // an operator, outside the bot, while the run waits at the master's gate
  const c = await outsideClient(h);
  const mail = h.sim.inspect().vms.find((v) => v.name === 'mail-01')!.ref;
  const a3 = h.sim.hosts().find((x) => x.name === 'xs-a3')!.ref;
  await c.call('VM.pool_migrate', [mail, a3, { live: 'true' }]);
  expect(h.sim.inspect().vms.find((v) => v.name === 'mail-01')!.residentOn).toBe('xs-a3');
  const atGate = await approveUntilGate(h, run.id, 'xs-a2:approval');
  const migrations = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && (e.detail as { method?: string })?.method === 'VM.pool_migrate');
  const offA2 = migrations.filter((e) => (e.detail as { step?: string }).step === 'xs-a2:evacuate').map((e) => e.message);
  expect(offA2.some((m) => /mail-01/.test(m))).toBe(false); // the bot never migrated mail-01
  return { run, atGate, offA2 };
}

describe('VMs moved by hand before the evacuation', () => {
  it('approval request: the VMs said live-migrated off xs-a2 are those the bot migrated, not the plan\'s list', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const { atGate, offA2 } = await operatorMovesMail01(h);
      // what the approvers read before they approve ("5 VMs live-migrated to xs-a1 (5)": mail-01 is on xs-a3, moved by hand)
      const msg = textOf(approvalMessage(atGate, atGate.steps.find((s) => s.id === 'xs-a2:approval')!, h.pool).blocks);
      const line = /`xs-a2` is disabled[^\\]*/.exec(msg)?.[0] ?? '';
      expect(line).not.toBe('');
      expect(line).toContain(`${offA2.length} VMs live-migrated`);
      expect(line).toContain('mail-01 already on xs-a3 (moved outside the run)');
    } finally {
      await h.close();
    }
  });

  it('end of run: "N live migrations" counts the live migrations the bot carried out, not one done by hand', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const { run } = await operatorMovesMail01(h);
      await h.core.approve(run.id, 'xs-a2:approval', APPROVER);
      await approveGates(h, run.id);
      const done = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(done.state).toBe('done');
      const calls = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && (e.detail as { method?: string })?.method === 'VM.pool_migrate').length;
      const summary = textOf(runEndMessages(done, h.pool, { toolsFollowUp: true }).summary.blocks);
      expect(summary).toContain(`${calls} live migrations`);
    } finally {
      await h.close();
    }
  });
});
