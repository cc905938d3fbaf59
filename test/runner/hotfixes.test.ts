/**
 * R3.10 rehearsals on the simulator (real core, runner, client, XML-RPC and HTTPS uploads):
 *   - pool-h: 7.1 CU1 → 7.6 and every hotfix, one extra reboot per host, zero extra migrations (counted);
 *   - pool-p: hosts already on 7.6 (update-only run); a precheck failure stops the run with Retry / Skip update.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, type Scenario } from '../../src/sim';
import { writeHotfixRepository } from '../../src/sim/hotfixes';
import { UPLOAD_TAG } from '../../src/runner/steps/upload-updates';
import { login, ok } from '../sim/helpers';
import { RunInterrupted } from '../../src/runner/errors';
import { APPROVER, REQUESTER, approveGates, planAndStart, startHarness, until, waitForRun, type Harness } from './sim-harness';

jest.setTimeout(180_000);

function repoFor(file: string): string {
  const sc = loadScenario(file);
  return writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-updates-')));
}

/** What the live pool holds of the updates: each one's vdi and hosts, and the VDIs the run's uploads tagged. */
async function updateFilesOf(h: Harness): Promise<{ updates: Array<{ name: string; vdi: string; hosts: string[] }>; tagged: string[]; vdis: string[] }> {
  const s = await login(h.sim.masterUrl);
  const updates = Object.values(await ok(h.sim.masterUrl, 'pool_update.get_all_records', [s])) as Array<{ name_label: string; vdi: string; hosts: string[] }>;
  const vdis = (await ok(h.sim.masterUrl, 'VDI.get_all_records', [s])) as Record<string, { other_config: Record<string, string> }>;
  return {
    updates: updates.map((u) => ({ name: u.name_label, vdi: u.vdi, hosts: u.hosts })).sort((a, b) => a.name.localeCompare(b.name)),
    tagged: Object.entries(vdis).filter(([, v]) => v.other_config[UPLOAD_TAG]).map(([ref]) => ref),
    vdis: Object.keys(vdis),
  };
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
    // nothing left over: after the last host, every uploaded ISO was pool_clean'ed off the SR; the updates stay
    // listed as applied on every host (host.updates), with a null vdi
    const files = await updateFilesOf(h);
    expect(files.tagged).toEqual([]);
    const hotfixes = files.updates.filter((u) => /^XS76E00/.test(u.name));
    expect(hotfixes.map((u) => [u.name, u.vdi, u.hosts.length])).toEqual(['XS76E001', 'XS76E002', 'XS76E003', 'XS76E004'].map((n) => [n, 'OpaqueRef:NULL', 3]));
    const s = await login(h.sim.masterUrl);
    for (const host of h.sim.hosts()) expect((await ok(h.sim.masterUrl, 'host.get_updates', [s, host.ref])).length).toBeGreaterThanOrEqual(4);
    const cleans = (await h.store.listAudit(run.id)).filter((a) => a.message.startsWith('pool_update.pool_clean'));
    expect(cleans.map((a) => a.message.split(' ')[1])).toEqual(['XS76E001', 'XS76E002', 'XS76E003', 'XS76E004']);
    expect(cleans.every((a) => (a.detail as { step?: string }).step === 'pool-finish')).toBe(true);
    expect(done.endAudit!.updateFiles).toEqual({ removed: ['XS76E001', 'XS76E002', 'XS76E003', 'XS76E004'], left: [] });
    expect(done.plan.steps.at(-1)!.description).toMatch(/remove from the SR the update ISOs the run uploads, once every host has them \(pool_update\.pool_clean/);
    // the upload's progress in the thread, once per quarter
    const progress = h.notifier.calls.filter((c) => c.method === 'runEvent' && /^Uploading XS76E001\.iso: /.test(c.text ?? '')).map((c) => c.text!.split(':')[1]!.trim().split(' ')[0]);
    expect(progress).toEqual(['25%', '50%', '75%']);
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
    // xs-p2 still needs XS76E011: its ISO stays on the SR (a cleaned update cannot be applied); XS76E010's is removed
    const files = await updateFilesOf(h);
    const u11 = files.updates.find((u) => u.name === 'XS76E011')!;
    expect(files.vdis).toContain(u11.vdi);
    expect(files.tagged).toEqual([u11.vdi]);
    expect(files.updates.find((u) => u.name === 'XS76E010')!.vdi).toBe('OpaqueRef:NULL');
    expect(done.endAudit!.updateFiles).toEqual({ removed: ['XS76E010'], left: [expect.stringMatching(/^XS76E011: its ISO is still on the SR \(VDI .+\): kept because xs-p2 still lacks it/)] });
    expect(done.outcome).toMatch(/XS76E011: its ISO is still on the SR .*kept because xs-p2 still lacks it; once applied there, remove it with xe update-pool-clean uuid=/);
    expect((await h.store.listAudit(run.id)).filter((a) => a.message.startsWith('pool_update.pool_clean')).map((a) => a.message.split(' ')[1])).toEqual(['XS76E010']);
    expect(h.notifier.calls.some((c) => c.method === 'runEvent' && /XS76E011 skipped on xs-p2 by/.test(String(c.text)))).toBe(true);
  });
});

/** A raw PUT /import_raw_vdi, cut after `cut` bytes when given (what a runner killed mid-upload leaves). */
function rawPut(masterUrl: string, path: string, body: Buffer, cut?: number): Promise<void> {
  const u = new URL(path, masterUrl);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: 'PUT', headers: { 'content-length': body.length }, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', (e) => (cut !== undefined ? resolve() : reject(e)));
    if (cut === undefined) req.end(body);
    else req.write(body.subarray(0, cut), () => setTimeout(() => (req.destroy(), resolve()), 50));
  });
}

describe('upload resume after a crash mid-upload (R3.10)', () => {
  let h: Harness;
  let repo: string;
  afterEach(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it.each(['uploading', 'uploaded'] as const)('crash while %s: nothing uploaded twice, a partial VDI destroyed', async (phase) => {
    repo = repoFor('manifests/demo/pool-p.yaml');
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', { pool: { updateRepository: repo }, autoApprove: false, edit: (s) => void (s.faults = []) });
    const run = await planAndStart(h);
    await waitForRun(h.store, run.id, ['awaiting-approval']);
    // what the crashed runner had done, exactly as it persists it: XS76E010 uploaded and introduced; XS76E011's VDI
    // created (tagged) and its PUT cut short ('uploading') or complete ('uploaded'), then the process died
    const [u10, u11] = run.plan.updates!.items;
    const s = await login(h.sim.masterUrl);
    const sr = (Object.values(await ok(h.sim.masterUrl, 'pool.get_all_records', [s]))[0] as { default_SR: string }).default_SR;
    const vdiFor = async (u: typeof u10) =>
      ok(h.sim.masterUrl, 'VDI.create', [s, { SR: sr, virtual_size: String(u!.size), type: 'user', name_label: `${u!.name}.iso`, sharable: false, read_only: false, other_config: { [UPLOAD_TAG]: `${run.id}/${u!.uuid}` } }]);
    const v10 = await vdiFor(u10);
    await rawPut(h.sim.masterUrl, `/import_raw_vdi?session_id=${s}&vdi=${v10}`, readFileSync(u10!.source));
    const up10 = await ok(h.sim.masterUrl, 'pool_update.introduce', [s, v10]);
    const v11 = await vdiFor(u11);
    await rawPut(h.sim.masterUrl, `/import_raw_vdi?session_id=${s}&vdi=${v11}`, readFileSync(u11!.source), phase === 'uploading' ? 100_000 : undefined);
    await h.store.updateRun(run.id, (r) => {
      const step = r.steps.find((x) => x.kind === 'upload-updates')!;
      step.data = { uploads: { [u10!.uuid]: { phase: 'introduced', vdi: v10, update: up10 }, [u11!.uuid]: { phase, vdi: v11 } } };
    });
    const putsBefore = h.sim.stats().calls['http:/import_raw_vdi'];
    const done = await approveGates(h, run.id);
    expect(done.state).toBe('done');
    const puts = h.sim.stats().calls['http:/import_raw_vdi']! - putsBefore!;
    // XS76E010 never again; XS76E011 once more only when its upload was cut short
    expect(puts).toBe(phase === 'uploading' ? 1 : 0);
    // at the end no upload of the run is left on the SR: the partial one destroyed, the others pool_clean'ed
    const files = await updateFilesOf(h);
    expect(files.tagged).toEqual([]);
    expect(files.updates.filter((u) => u.name.startsWith('XS76E01')).map((u) => u.vdi)).toEqual(['OpaqueRef:NULL', 'OpaqueRef:NULL']);
    const audit = await h.store.listAudit(run.id);
    expect(audit.some((a) => a.message.startsWith(`VDI.destroy ${v11}`))).toBe(phase === 'uploading');
    // the complete upload was introduced, not uploaded again, and is the one pool_clean removed
    expect(audit.some((a) => a.message.startsWith('pool_update.pool_clean XS76E011') && a.message.includes(v11))).toBe(phase === 'uploaded');
    expect(done.endAudit!.updates!.every((u) => u.missing.length === 0)).toBe(true);
  });
});

describe('guidance decides the restart (R3.10)', () => {
  let h: Harness;
  let repo: string;
  afterEach(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('restartXAPI only: a toolstack restart per host, no reboot, no migration', async () => {
    const edit = (s: Scenario) => {
      s.faults = [];
      for (const x of s.hotfixes) x.guidance = ['restartXAPI'];
    };
    const sc = loadScenario('manifests/demo/pool-p.yaml');
    edit(sc);
    repo = writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-updates-')));
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', { pool: { updateRepository: repo }, edit });
    const before = h.sim.stats();
    const run = await planAndStart(h);
    expect(run.plan.updates!.hosts.map((x) => x.restart)).toEqual(['toolstack', 'toolstack', 'toolstack']);
    expect(run.plan.steps.filter((s) => s.kind === 'evacuate' || s.kind === 'disable')).toEqual([]);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 120_000);
    expect(done.state).toBe('done');
    const stats = h.sim.stats();
    expect(Object.values(stats.shutdowns).reduce((a, b) => a + b, 0) - Object.values(before.shutdowns).reduce((a, b) => a + b, 0)).toBe(0);
    expect(stats.migrations - before.migrations).toBe(0);
    const audit = await h.store.listAudit(run.id);
    expect(audit.filter((a) => a.message.startsWith('host.restart_agent')).length).toBe(3);
    expect(done.endAudit!.updates!.every((u) => u.missing.length === 0 && u.has.includes('XS76E011'))).toBe(true);
  });

  it('restartHost covered by a livepatch (precheck ok_livepatch_complete): no reboot', async () => {
    const edit = (s: Scenario) => {
      s.faults = [];
      for (const x of s.hotfixes) x.livepatch = true;
    };
    const sc = loadScenario('manifests/demo/pool-p.yaml');
    edit(sc);
    repo = writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-updates-')));
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', { pool: { updateRepository: repo }, edit });
    const before = h.sim.stats();
    const run = await planAndStart(h);
    // the plan cannot know about livepatches (the precheck tells): it plans the reboot, the run needs none
    expect(run.plan.updates!.extraReboots).toBe(3);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 120_000);
    expect(done.state).toBe('done');
    const stats = h.sim.stats();
    expect(Object.values(stats.shutdowns).reduce((a, b) => a + b, 0) - Object.values(before.shutdowns).reduce((a, b) => a + b, 0)).toBe(0);
    expect(done.steps.filter((s) => s.kind === 'apply-updates').map((s) => s.data?.livepatched)).toEqual([expect.any(Array), expect.any(Array), expect.any(Array)]);
  });
});

describe('update ISOs removed at the end, after a crash (R3.10)', () => {
  let h: Harness;
  let repo: string;
  afterEach(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('killed right after pool_clean went out, before it was recorded: the resume reads the null vdi and sends it no second time', async () => {
    repo = repoFor('manifests/demo/pool-p.yaml');
    let crashed = false;
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', {
      pool: { updateRepository: repo },
      edit: (s) => void (s.faults = []),
      // the step stays running with its record saying `cleaning`, as after a kill (engine: RunInterrupted)
      checkpoint: async (label) => {
        if (label === 'pool-finish:did:pool_update.pool_clean' && !crashed) {
          crashed = true;
          throw new RunInterrupted('process killed after pool_clean');
        }
      },
    });
    const run = await planAndStart(h);
    await until('the crash', () => crashed, 120_000);
    await h.core.whenIdle(run.id);
    const stopped = (await h.store.getRun(run.id))!;
    expect(stopped.state).toBe('running');
    const finish = stopped.steps.find((x) => x.id === 'pool-finish')!;
    expect(finish.state).toBe('running');
    const [u10] = stopped.plan.updates!.items;
    expect((finish.data as { updateFiles: Record<string, { phase: string }> }).updateFiles[u10!.uuid]!.phase).toBe('cleaning');
    // the pool did it: a second pool_clean would fail there (HANDLE_INVALID VDI OpaqueRef:NULL)
    expect((await updateFilesOf(h)).updates.find((u) => u.name === u10!.name)!.vdi).toBe('OpaqueRef:NULL');

    await h.core.recoverRuns();
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 60_000);
    expect(done.state).toBe('done');
    expect(done.outcome).not.toMatch(/exceptions/);
    const audit = await h.store.listAudit(run.id);
    expect(audit.filter((a) => a.message.startsWith('pool_update.pool_clean')).map((a) => a.message.split(' ')[1])).toEqual(['XS76E010', 'XS76E011']);
    expect(audit.some((a) => a.message === 'XS76E010: its pool_update.pool_clean went out before an interruption; the pool shows its vdi null, so it is not sent again')).toBe(true);
    const files = await updateFilesOf(h);
    expect(files.tagged).toEqual([]);
    expect(done.endAudit!.updateFiles).toEqual({ removed: ['XS76E010', 'XS76E011'], left: [] });
    expect(done.endAudit!.updates!.every((u) => u.missing.length === 0)).toBe(true);
  });
});

describe('pool_clean answered badly (R3.10)', () => {
  let h: Harness;
  let repo: string;
  afterEach(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('a connection lost after it went through is reconciled; a refusal leaves the ISO, said in the finish line and as left over', async () => {
    repo = repoFor('manifests/demo/pool-p.yaml');
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', {
      pool: { updateRepository: repo },
      edit: (s) =>
        void (s.faults = [
          { kind: 'connection-reset', method: 'pool_update.pool_clean', when: 'after', times: 1 },
          { kind: 'api-error', method: 'pool_update.pool_clean', update: 'XS76E011', code: 'SR_BACKEND_FAILURE_46', params: ['', 'The VDI is not available', ''], when: 'before', times: 1 },
        ]),
    });
    const run = await planAndStart(h);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 120_000);
    expect(done.state).toBe('done');
    const u11 = done.plan.updates!.items.find((u) => u.name === 'XS76E011')!;
    const files = await updateFilesOf(h);
    expect(files.updates.find((u) => u.name === 'XS76E010')!.vdi).toBe('OpaqueRef:NULL');
    const v11 = files.updates.find((u) => u.name === 'XS76E011')!.vdi;
    expect(files.tagged).toEqual([v11]);
    const audit = await h.store.listAudit(run.id);
    // XS76E010's clean went out once; its lost answer was settled from the pool, not by sending it again
    expect(audit.filter((a) => a.message.startsWith('pool_update.pool_clean')).map((a) => a.message.split(' ')[1])).toEqual(['XS76E010', 'XS76E011']);
    expect(audit.some((a) => a.message.startsWith('XS76E010: its pool_update.pool_clean went out before an interruption'))).toBe(true);
    expect(done.steps.find((s) => s.id === 'pool-finish')!.data?.note).toMatch(/update ISOs NOT removed from the SR, pool_update\.pool_clean refused: XS76E011 \(SR_BACKEND_FAILURE_46  The VDI is not available \)/);
    expect(done.endAudit!.updateFiles).toEqual({
      removed: ['XS76E010'],
      left: [`XS76E011: its ISO is still on the SR (VDI ${v11}): pool_update.pool_clean refused: SR_BACKEND_FAILURE_46  The VDI is not available ; remove it with xe update-pool-clean uuid=${u11.uuid} (R3.10)`],
    });
    expect(done.outcome).toMatch(/^done with exceptions: XS76E011: its ISO is still on the SR/);
  });
});

describe('an update whose ISO an earlier run removed (R3.10)', () => {
  let h: Harness;
  let repo: string;
  afterEach(async () => {
    await h?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it('is uploaded again for the hosts that still need it, applied, and removed again at the end', async () => {
    repo = repoFor('manifests/demo/pool-p.yaml');
    h = await startHarness('manifests/demo/pool-p.yaml', 'manual', { pool: { updateRepository: repo }, edit: (s) => void (s.faults = []) });
    // before the run: XS76E010 uploaded, applied to xs-p1 only, then pool_clean'ed (its record stays, vdi null)
    const s = await login(h.sim.masterUrl);
    const sr = (Object.values(await ok(h.sim.masterUrl, 'pool.get_all_records', [s]))[0] as { default_SR: string }).default_SR;
    const iso = readFileSync(join(repo, 'XS76E010.iso'));
    const vdi = await ok(h.sim.masterUrl, 'VDI.create', [s, { SR: sr, virtual_size: String(iso.length), type: 'user', name_label: 'XS76E010.iso', sharable: false, read_only: false, other_config: {} }]);
    await rawPut(h.sim.masterUrl, `/import_raw_vdi?session_id=${s}&vdi=${vdi}`, iso);
    const u10 = await ok(h.sim.masterUrl, 'pool_update.introduce', [s, vdi]);
    await ok(h.sim.masterUrl, 'pool_update.apply', [s, u10, h.sim.hosts().find((x) => x.name === 'xs-p1')!.ref]);
    await ok(h.sim.masterUrl, 'pool_update.pool_clean', [s, u10]);
    const putsBefore = h.sim.stats().calls['http:/import_raw_vdi']!;

    const run = await planAndStart(h);
    expect(run.plan.updates!.hosts.map((x) => [x.name, x.updates.length])).toEqual([
      ['xs-p1', 1],
      ['xs-p2', 2],
      ['xs-p3', 2],
    ]);
    const done = await waitForRun(h.store, run.id, ['done', 'failed'], 120_000);
    expect(done.state).toBe('done');
    expect(done.outcome).not.toMatch(/exceptions/);
    expect(h.sim.stats().calls['http:/import_raw_vdi']! - putsBefore).toBe(2);
    // the same pool_update record took the new ISO (xapi's introduce on a null vdi), and lost it again at the end
    const files = await updateFilesOf(h);
    expect(files.tagged).toEqual([]);
    expect(files.updates.filter((u) => u.name.startsWith('XS76E01')).map((u) => [u.name, u.vdi, u.hosts.length])).toEqual([
      ['XS76E010', 'OpaqueRef:NULL', 3],
      ['XS76E011', 'OpaqueRef:NULL', 3],
    ]);
    expect(done.endAudit!.updateFiles).toEqual({ removed: ['XS76E010', 'XS76E011'], left: [] });
  });
});
