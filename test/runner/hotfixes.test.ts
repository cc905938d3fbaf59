/**
 * R3.10 rehearsals on the simulator (real core, runner, client, XML-RPC and HTTPS uploads):
 *   - pool-h: 7.1 CU1 → 7.6 and every hotfix, one extra reboot per host, zero extra migrations (counted);
 *   - pool-p: hosts already on 7.6 (update-only run); a precheck failure stops the run with Retry / Skip update.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../src/sim';
import { writeHotfixRepository } from '../../src/sim/hotfixes';
import { APPROVER, REQUESTER, approveGates, planAndStart, startHarness, waitForRun, type Harness } from './sim-harness';

jest.setTimeout(180_000);

function repoFor(file: string): string {
  const sc = loadScenario(file);
  return writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-updates-')));
}

describe('pool-h: 7.1 CU1 → 7.6 with every hotfix (R3.10)', () => {
  let h: Harness;
  let repo: string;
  beforeAll(async () => {
    repo = repoFor('manifests/demo/pool-h.yaml');
    h = await startHarness('manifests/demo/pool-h.yaml', 'automatic', { pool: { updateRepository: repo } });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('plans the updates per host, prerequisites first, and costs no migration', async () => {
    const without = { ...h.pool };
    delete (h.pool as { updateRepository?: string }).updateRepository;
    const bare = await h.core.plan(h.pool.name, {}, REQUESTER);
    h.pool.updateRepository = without.updateRepository;
    const plan = await h.core.plan(h.pool.name, {}, REQUESTER);
    if (!bare.ok || !plan.ok) throw new Error('plan failed');
    const p = plan.value;
    expect(p.executable).toBe(true);
    expect(p.updates!.items.map((u) => u.name)).toEqual(['XS76E001', 'XS76E002', 'XS76E003', 'XS76E004']);
    expect(p.updates!.hosts.map((x) => [x.name, x.updates.length, x.restart])).toEqual([
      ['xs-h1', 4, 'host'],
      ['xs-h2', 4, 'host'],
      ['xs-h3', 4, 'host'],
    ]);
    expect(p.updates!.extraReboots).toBe(3);
    // the updates add no migration: the same placement as without them
    expect(p.migrations).toEqual(bare.value.migrations);
    expect(p.steps.filter((s) => s.kind === 'evacuate').map((s) => s.migrations?.length)).toEqual(bare.value.steps.filter((s) => s.kind === 'evacuate').map((s) => s.migrations?.length));
    // upload once, after the master is back on 7.6; each host's updates right after its wait-host, before enable
    const ids = p.steps.map((s) => s.id);
    expect(ids.filter((i) => i.endsWith('upload-updates'))).toEqual(['xs-h1:upload-updates']);
    for (const n of ['xs-h1', 'xs-h2', 'xs-h3']) {
      const at = ids.indexOf(`${n}:apply-updates`);
      expect(ids[at - 1]).toMatch(new RegExp(`^${n}:(wait-host|upload-updates)$`));
      expect(ids[at + 1]).toBe(`${n}:enable`);
    }
    expect(p.steps.find((s) => s.id === 'xs-h2:approval')!.description).toMatch(/then apply 4 updates \(1 reboot\) while it is empty \(R3\.10\)/);
    expect(p.prechecks.find((c) => c.id === 'updates')!.message).toMatch(/3 extra reboots, no extra migration/);
  });

  it('runs: every host ends with every update, one extra reboot each, zero extra migrations', async () => {
    const before = h.sim.stats();
    const run = await planAndStart(h);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 150_000);
    expect(done.state).toBe('done');
    expect(done.outcome).not.toMatch(/exceptions/);
    const stats = h.sim.stats();
    // the upgrade's reboot + one for all the updates, per host
    for (const n of ['xs-h1', 'xs-h2', 'xs-h3']) expect((stats.shutdowns[n] ?? 0) - (before.shutdowns[n] ?? 0)).toBe(2);
    // zero extra migrations: exactly the plan's, which equal the plan without updates (previous test)
    expect(stats.migrations - before.migrations).toBe(done.plan.migrations.planned);
    // uploaded once each
    expect(stats.calls['http:/import_raw_vdi']).toBe(4);
    expect(done.endAudit!.updates).toEqual(
      ['xs-h1', 'xs-h2', 'xs-h3'].map((name) => ({ name, has: ['XS76E001', 'XS76E002', 'XS76E003', 'XS76E004'], missing: [], skipped: [] })),
    );
    expect(stats.maxHostsDownAtOnce).toBe(1);
  });
});

describe('pool-p: update-only run, a precheck fails on one host (R3.10)', () => {
  let h: Harness;
  let repo: string;
  beforeEach(async () => {
    repo = repoFor('manifests/demo/pool-p.yaml');
  });
  afterEach(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('stops with the update named; Retry runs the precheck again and the run completes', async () => {
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', { pool: { updateRepository: repo } });
    const run = await planAndStart(h);
    expect(run.plan.hosts.every((x) => !x.alreadyDone)).toBe(true);
    const failed = await waitForRun(h.store, run.id, ['failed', 'done'], 120_000);
    expect(failed.state).toBe('failed');
    const step = failed.steps.find((s) => s.state === 'failed')!;
    expect(step.id).toBe('xs-p2:apply-updates');
    expect(step.error).toMatchObject({ code: 'UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', params: ['XS76E011', 'XS76E009'] });
    expect(step.error!.message).toMatch(/precheck of XS76E011 on xs-p2 failed/);
    const alert = h.notifier.calls.filter((c) => c.method === 'stepFailed').at(-1)!;
    expect(alert.actions).toEqual(['retry', 'skip-update', 'skip-host', 'abort']);
    // stale or unauthorised clicks change nothing
    expect((await h.core.recover(run.id, { action: 'skip-update', stepId: 'xs-p1:apply-updates' }, APPROVER)).ok).toBe(false);
    expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, REQUESTER)).ok).toBe(false);
    expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(true);
    expect((await h.core.recover(run.id, { action: 'retry', stepId: step.id }, APPROVER)).ok).toBe(false);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 120_000);
    expect(done.state).toBe('done');
    expect(done.endAudit!.updates!.map((u) => [u.name, u.missing])).toEqual([
      ['xs-p1', []],
      ['xs-p2', []],
      ['xs-p3', []],
    ]);
  });

  it('Skip update continues without it on that host; the end audit lists it as missing', async () => {
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', {
      pool: { updateRepository: repo },
      edit: (s) => void (s.faults[0]!.times = 50),
    });
    const run = await planAndStart(h);
    const failed = await waitForRun(h.store, run.id, ['failed', 'done'], 120_000);
    expect(failed.steps.find((s) => s.state === 'failed')!.id).toBe('xs-p2:apply-updates');
    expect((await h.core.recover(run.id, { action: 'skip-update', stepId: 'xs-p2:apply-updates' }, APPROVER)).ok).toBe(true);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 120_000);
    expect(done.state).toBe('done');
    expect(done.outcome).toMatch(/done with exceptions: .*xs-p2 lacks XS76E011 \(skipped by an approver\) \(R3\.10\)/);
    expect(done.endAudit!.updates!.find((u) => u.name === 'xs-p2')).toEqual({ name: 'xs-p2', has: expect.arrayContaining(['XS76E010']), missing: ['XS76E011'], skipped: ['XS76E011'] });
    expect(h.notifier.calls.some((c) => c.method === 'runEvent' && /XS76E011 skipped on xs-p2 by/.test(String(c.text)))).toBe(true);
  });
});
