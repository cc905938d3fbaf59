/** Core decisions on a real simulator: authorisation, duplicate and concurrent commands, hold/resume, abort. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore } from '../../src/core';
import type { Actor } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { openStore } from '../../src/store';
import { recordingNotifier } from '../runner/helpers';
import { APPROVER, REQUESTER, planAndStart, startHarness, waitForRun, type Harness } from '../runner/sim-harness';

const GROUP_APPROVER: Actor = { userId: 'UGROUPIE1', source: 'slack', channel: 'CPOOL', groups: ['SAPPROVERS'] };
const APPROVER2: Actor = { userId: 'UAPPROVER2', source: 'slack', channel: 'CPOOL', groups: [] };
const STRANGER: Actor = { userId: 'USTRANGER', source: 'slack', channel: 'CPOOL', groups: [] };

describe('core', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      autoApprove: false,
      pool: { slack: { channel: 'CPOOL', approvers: { users: [APPROVER.userId, APPROVER2.userId], groups: ['SAPPROVERS'] }, allowSelfApproval: false } },
    });
  });
  afterEach(async () => h.close());

  it('two approvals of one gate: exactly one takes effect; refusals of non-approvers, self-approval and other channels are audited', async () => {
    const run = await planAndStart(h, APPROVER); // an approver requested it: they may not approve it themselves
    const waiting = await waitForRun(h.store, run.id, ['awaiting-approval', 'failed']);
    const gate = waiting.steps.find((s) => s.state === 'awaiting-approval')!;
    expect(gate.id).toBe('xs-a1:approval');
    expect(h.sim.stats().shutdowns).toEqual({});

    expect(await h.core.approve(run.id, gate.id, STRANGER)).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await h.core.approve(run.id, gate.id, APPROVER)).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await h.core.approve(run.id, gate.id, { ...APPROVER2, channel: 'COTHER' })).toMatchObject({ ok: false, code: 'forbidden' });

    const [a, b] = await Promise.all([h.core.approve(run.id, gate.id, APPROVER2), h.core.approve(run.id, gate.id, GROUP_APPROVER)]);
    expect([a.ok, b.ok].filter(Boolean)).toHaveLength(1);
    const loser = a.ok ? b : a;
    expect(loser).toMatchObject({ ok: false, code: 'conflict' });
    const after = (await h.store.getRun(run.id))!;
    expect(after.approvals.filter((x) => x.stepId === gate.id)).toHaveLength(1);

    const refused = (await h.store.listAudit(run.id)).filter((e) => e.kind === 'refused');
    expect(refused.map((e) => e.actor)).toEqual([STRANGER.userId, APPROVER.userId, APPROVER2.userId, loser === a ? APPROVER2.userId : GROUP_APPROVER.userId]);
    expect(refused[1]!.message).toMatch(/may not approve/);

    // the master goes down once, and the run waits at the next gate
    const next = await waitForRun(h.store, run.id, ['awaiting-approval', 'failed']).then(async () => {
      for (;;) {
        const r = (await h.store.getRun(run.id))!;
        if (r.state !== 'running' && r.steps.find((s) => s.id === 'xs-a2:approval')?.state === 'awaiting-approval') return r;
        if (r.state === 'failed') return r;
        await new Promise((res) => setTimeout(res, 20));
      }
    });
    expect(next.state).toBe('awaiting-approval');
    expect(h.sim.stats().shutdowns).toEqual({ 'xs-a1': 1 });
  });

  it('two starts on one pool from two runners sharing the state file: one run, the other refused with its id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-core-'));
    const path = join(dir, 'state.sqlite');
    const stores = await Promise.all([openStore({ path, clock: h.clock }), openStore({ path, clock: h.clock })]);
    const cores = await Promise.all(
      stores.map((store, i) =>
        createCore({ pools: [h.pool], store, notifier: recordingNotifier(), clock: h.clock, logger: silentLogger, env: { XS_SIM_PASSWORD: h.sim.password, XSUPGRADE_BACKUPS: dir }, ownerId: `runner-${i}`, leaseTtlMs: 600_000 }),
      ),
    );
    try {
      const plan = await cores[0]!.plan(h.pool.name, {}, REQUESTER);
      expect(plan.ok).toBe(true);
      const [a, b] = await Promise.all(cores.map((c) => c.start(h.pool.name, {}, REQUESTER)));
      expect([a!.ok, b!.ok].filter(Boolean)).toHaveLength(1);
      const winner = (a!.ok ? a : b)!;
      const loser = (a!.ok ? b : a)!;
      if (!winner.ok || loser.ok) throw new Error('unreachable');
      expect(loser.code).toBe('conflict');
      expect(loser.error).toContain(winner.value.id);
      expect(await stores[0]!.listRuns({ pool: h.pool.name })).toHaveLength(1);
      // and a later start in the same process is refused too
      expect(await cores[0]!.start(h.pool.name, {}, REQUESTER)).toMatchObject({ ok: false, code: 'conflict' });
      expect(await cores[0]!.abort(winner.value.id, APPROVER)).toMatchObject({ ok: true });
    } finally {
      for (const c of cores) await c.shutdown();
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hold pauses at the gate, resume announces it again, abort leaves a report of every host and VM', async () => {
    const run = await planAndStart(h);
    await waitForRun(h.store, run.id, ['awaiting-approval']);
    await h.core.whenIdle(run.id);
    expect(await h.core.hold(run.id, 'xs-a1:approval', STRANGER)).toMatchObject({ ok: false, code: 'forbidden' });
    const held = await h.core.hold(run.id, 'xs-a1:approval', APPROVER);
    expect(held).toMatchObject({ ok: true, value: { state: 'paused' } });
    expect(await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).toMatchObject({ ok: false, code: 'conflict' });
    const resumed = await h.core.resume(run.id, APPROVER);
    expect(resumed).toMatchObject({ ok: true, value: { state: 'awaiting-approval' } });
    await h.core.whenIdle(run.id);
    expect(h.notifier.calls.filter((c) => c.method === 'approvalNeeded' && c.stepId === 'xs-a1:approval')).toHaveLength(2);

    const aborted = await h.core.abort(run.id, APPROVER);
    if (!aborted.ok) throw new Error(aborted.error);
    expect(aborted.value.state).toBe('aborted');
    expect(aborted.value.outcome).toMatch(/xs-a1: live, disabled, 7\.1\.1/);
    expect(aborted.value.outcome).toMatch(/web-01: Running on xs-a/);
    expect(await h.core.abort(run.id, APPROVER)).toMatchObject({ ok: false, code: 'conflict' });
    expect(h.sim.stats().shutdowns).toEqual({});
    // the pool is free again
    const again = await h.core.plan(h.pool.name, {}, REQUESTER);
    expect(again.ok).toBe(true);
  });

  it('refuses a start from a stale plan hash and a plan with blockers', async () => {
    const plan = await h.core.plan(h.pool.name, {}, REQUESTER);
    if (!plan.ok) throw new Error(plan.error);
    expect(await h.core.start(h.pool.name, { planHash: 'deadbeefdeadbeef' }, REQUESTER)).toMatchObject({ ok: false, code: 'conflict' });
    h.pool.upgrade = { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/broken/' };
    const broken = await h.core.plan(h.pool.name, {}, REQUESTER);
    if (!broken.ok) throw new Error(broken.error);
    expect(broken.value.executable).toBe(false);
    const refused = await h.core.start(h.pool.name, {}, REQUESTER);
    expect(refused).toMatchObject({ ok: false, code: 'blocked' });
    expect((await h.store.listAudit(`pool:${h.pool.name}`)).some((e) => e.kind === 'refused' && /blockers/.test(e.message))).toBe(true);
  });

  it('concurrent plan requests for one pool share one pool read', async () => {
    const before = h.sim.stats().calls['VM.get_all_records'] ?? 0;
    const results = await Promise.all(Array.from({ length: 10 }, () => h.core.plan(h.pool.name, {}, REQUESTER)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(results.map((r) => (r.ok ? r.value.id : '')))).toHaveProperty('size', 1);
    expect((h.sim.stats().calls['VM.get_all_records'] ?? 0) - before).toBe(1);
    // a later request reads the pool again (nothing is cached beyond the requests in flight)
    await h.core.plan(h.pool.name, {}, REQUESTER);
    expect((h.sim.stats().calls['VM.get_all_records'] ?? 0) - before).toBe(2);
  });

  it('a window resumes only a pause it made: a human pausing a window-paused run takes the pause over (issue 10.4)', async () => {
    const WINDOW: Actor = { userId: APPROVER.userId, source: 'scheduler', window: 'pool-a-w1' };
    const run = await planAndStart(h, REQUESTER);
    await waitForRun(h.store, run.id, ['awaiting-approval']);
    expect((await h.core.hold(run.id, undefined, WINDOW)).ok).toBe(true);
    expect((await h.store.getRun(run.id))!.pausedBy).toMatchObject({ source: 'scheduler' });
    // the approver, seeing it paused, pauses it too: now it is theirs
    expect((await h.core.hold(run.id, undefined, APPROVER2)).ok).toBe(true);
    expect((await h.store.getRun(run.id))!.pausedBy).toMatchObject({ userId: APPROVER2.userId, source: 'slack' });
    expect(await h.core.resume(run.id, WINDOW)).toMatchObject({ ok: false, code: 'forbidden', error: expect.stringMatching(/paused by <@UAPPROVER2>/) });
    expect(await h.core.approve(run.id, 'xs-a1:approval', WINDOW)).toMatchObject({ ok: false, code: 'forbidden', error: expect.stringMatching(/never decides "approve"/) });
    // a human resumes it: the gate is announced again, nothing was approved on anyone's behalf
    expect(await h.core.resume(run.id, APPROVER2)).toMatchObject({ ok: true, value: { state: 'awaiting-approval' } });
    expect((await h.store.getRun(run.id))!.pausedBy).toBeUndefined();
    expect(h.sim.stats().shutdowns).toEqual({});
  });
});
