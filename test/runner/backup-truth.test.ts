/**
 * Issue 11.6: in a pool already in mixed mode, pool-dump-database returns a stub (every table empty). That dump is
 * never presented as a backup: the plan says so before the start and points to the last usable backup the bot took;
 * the run records it as holding no pool data and the end of the run does not offer it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { APPROVER, approveUntilGate, planAndStart, startHarness } from './sim-harness';

describe('the backup is what it claims (issue 11.6)', () => {
  it('a mixed pool: the plan says no usable backup can be taken and names the last one; the stub is never called a backup', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      // run 1 takes a real backup, upgrades the master, is aborted at xs-a2's gate and restored: the pool is mixed
      const first = await planAndStart(h);
      await approveUntilGate(h, first.id, 'xs-a2:approval');
      expect((await h.core.abort(first.id, APPROVER)).ok).toBe(true);
      expect((await h.core.restore(first.id, APPROVER)).ok).toBe(true);
      const firstBackup = (await h.store.getRun(first.id))!.steps.find((s) => s.kind === 'backup')!.data!;
      expect(firstBackup).toMatchObject({ mixedMode: false, holdsPoolData: true });
      expect(readFileSync(firstBackup.path as string, 'utf8')).toContain('<row ');

      const plan = await h.core.plan('pool-a', {}, APPROVER);
      if (!plan.ok) throw new Error(plan.error);
      const note = plan.value.prechecks.find((p) => p.id === 'backup')!;
      expect(note.severity).toBe('warning');
      expect(note.message).toMatch(/no usable backup of the pool database can be taken now: the pool is in mixed mode/);
      expect(note.message).toContain(`The last usable backup of pool-a the bot took is ${firstBackup.path as string} (run ${first.id})`);
      expect(note.message).not.toMatch(/is backed up/);
      const step = plan.value.steps.find((s) => s.kind === 'backup')!;
      expect(step.description).toMatch(/stub with no pool data — not a backup; the last usable backup is /);

      // run 2 dumps the stub: recorded as holding no pool data, never offered as a backup
      const second = await h.core.start('pool-a', { planHash: plan.value.id.slice(0, 12) }, { ...APPROVER, userId: 'UREQUEST1' });
      if (!second.ok) throw new Error(second.error);
      await approveUntilGate(h, second.value.id, 'xs-a2:approval');
      const run2 = (await h.store.getRun(second.value.id))!;
      const stub = run2.steps.find((s) => s.kind === 'backup')!;
      expect(stub.data).toMatchObject({ mixedMode: true, holdsPoolData: false });
      expect(existsSync(stub.data!.path as string)).toBe(true);
      expect(stub.data!.note).toMatch(/^no usable backup: the dump .* holds no pool data/);
      expect((await h.core.abort(second.value.id, APPROVER)).ok).toBe(true);
      const aborted = (await h.store.getRun(second.value.id))!;
      expect(aborted.endAudit!.backup).toMatchObject({ usable: false });
      expect(aborted.endAudit!.backup.why).toMatch(/is not a backup: the pool was in mixed mode/);
    } finally {
      await h.close();
    }
  });
});
