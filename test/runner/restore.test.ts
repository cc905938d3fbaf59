/**
 * Issue 10.7: an aborted run offers Restore, which puts back what the run changed on its current host (host enabled,
 * VMs it stopped started or resumed, HA re-enabled where xapi allows it). Authorised like recovery, re-validated
 * when clicked, audited; the summary says what remains changed.
 */
import type { Run } from '../../src/domain/types';
import { restoreOffer } from '../../src/runner/restore';
import type { Store } from '../../src/store';
import { GatedClient } from '../helpers/gated-client';
import { APPROVER, approveUntilGate, coreForSim, outsideClient, planAndStart, REQUESTER, startHarness, until, waitForRun, type Harness } from './sim-harness';

const host = (h: Harness, name: string) => h.sim.hosts().find((x) => x.name === name)!;
const vm = (h: Harness, name: string) => h.sim.inspect().vms.find((x) => x.name === name)!;

describe('Restore after abort (issue 10.7)', () => {
  it('abort at a gate, then Restore: the host is enabled again; HA stays off in a mixed pool and the summary says so', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a2:approval');
      expect(host(h, 'xs-a2').enabled).toBe(false);
      const aborted = await h.core.abort(run.id, APPROVER);
      expect(aborted.ok).toBe(true);
      expect(restoreOffer(aborted.ok ? aborted.value : run)).toMatchObject({ host: { name: 'xs-a2' }, enableHost: true, vms: [] });

      // not an approver: refused, audited, nothing done
      const refused = await h.core.restore(run.id, REQUESTER);
      expect(refused).toMatchObject({ ok: false, code: 'forbidden' });
      expect(host(h, 'xs-a2').enabled).toBe(false);

      // a double click: exactly one Restore runs, the other is refused
      const [one, two] = await Promise.all([h.core.restore(run.id, APPROVER), h.core.restore(run.id, APPROVER)]);
      expect([one.ok, two.ok].sort()).toEqual([false, true]);
      expect([one, two].find((r) => !r.ok)).toMatchObject({ code: 'conflict' });
      const after = (await h.store.getRun(run.id))!;
      expect(host(h, 'xs-a2').enabled).toBe(true);
      expect(after.restore).toMatchObject({ by: APPROVER.userId, state: 'partial', did: ['xs-a2 enabled'] });
      expect(after.restore!.left).toEqual([expect.stringMatching(/HA stays off: the pool is in mixed mode/)]);
      expect(h.sim.inspect().pool.haEnabled).toBe(false);
      // the audit of the live pool after Restore: only the upgraded master, moved VMs and HA remain changed
      expect(after.endAudit!.changed.join('\n')).not.toMatch(/xs-a2 disabled/);
      expect(after.endAudit!.changed.join('\n')).toMatch(/HA off/);
      const audit = await h.store.listAudit(run.id);
      expect(audit.filter((e) => e.kind === 'xenapi' && e.actor === APPROVER.userId && /^host\.enable xs-a2 \(Restore after abort\)/.test(e.message))).toHaveLength(1);
      expect(audit.some((e) => e.kind === 'refused' && /restore|not an approver/.test(e.message))).toBe(true);
      const event = h.notifier.calls.filter((c) => c.method === 'runEvent').pop()!;
      expect(event.text).toMatch(/^Restore by UAPPROVER1: xs-a2 enabled; not put back: HA stays off/);
      // said when it began, before its calls (they are followed to their end: minutes on a real pool)
      const events = h.notifier.calls.filter((c) => c.method === 'runEvent').map((c) => c.text);
      expect(events.indexOf('Restore started by UAPPROVER1: it reads the pool, then will enable xs-a2, re-enable HA where still needed (re-enabling HA can take minutes)')).toBeLessThan(events.indexOf(event.text!));
      expect(events).toContain('Restore started by UAPPROVER1: it reads the pool, then will enable xs-a2, re-enable HA where still needed (re-enabling HA can take minutes)');
    } finally {
      await h.close();
    }
  });

  it('abort while the host is down with its VM stopped: Restore says what it cannot do yet; once the host is back, Restore again resumes the VM', async () => {
    // manual mode: a host stays off until the operator boots the installer, so "down" lasts as long as the test needs
    const h = await startHarness('manifests/demo/pool-a.yaml', 'manual', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a1:approval');
      expect((await h.core.approve(run.id, 'xs-a1:approval', APPROVER)).ok).toBe(true);
      await until('xs-a1 off', () => host(h, 'xs-a1').power === 'off');
      h.sim.control.completeManualInstall('xs-a1');
      await approveUntilGate(h, run.id, 'xs-a2:approval');
      expect((await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
      await until('xs-a2 off', () => host(h, 'xs-a2').power === 'off');
      expect(vm(h, 'vm-licence-srv').powerState).not.toBe('Running');
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);

      const first = await h.core.restore(run.id, APPROVER);
      expect(first.ok).toBe(true);
      let after = (await h.store.getRun(run.id))!;
      expect(after.restore!.state).toBe('partial');
      expect(after.restore!.did).toEqual([]);
      expect(after.restore!.left.join('\n')).toMatch(/xs-a2 is not live, so it cannot be enabled now/);
      expect(after.restore!.left.join('\n')).toMatch(/vm-licence-srv \((Suspended|Halted)\): its host xs-a2 is not live/);
      expect(after.endAudit!.vms.map((v) => `${v.name}:${v.cause}`)).toEqual(['vm-licence-srv:stopped-by-run']);

      // the operator boots the installer; the host comes back (xapi re-enables it at boot); then Restore again
      h.sim.control.completeManualInstall('xs-a2');
      await until('xs-a2 back', () => host(h, 'xs-a2').live);
      const second = await h.core.restore(run.id, APPROVER);
      expect(second.ok).toBe(true);
      after = (await h.store.getRun(run.id))!;
      expect(vm(h, 'vm-licence-srv')).toMatchObject({ powerState: 'Running', residentOn: 'xs-a2' });
      expect(after.restore!.did.join('\n')).toMatch(/vm-licence-srv (resumed|started) on xs-a2/);
      expect(after.endAudit!.vms).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('Restore is refused on a run that is not aborted, and when another run is active on the pool', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a1:approval');
      const notAborted = await h.core.restore(run.id, APPROVER);
      expect(notAborted).toMatchObject({ ok: false, code: 'conflict' });
      expect(notAborted.ok ? '' : notAborted.error).toMatch(/only an aborted run offers Restore/);
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
      // an operator enables the master by hand and a new run starts: Restore of the old one would act behind its back
      const outside = await outsideClient(h);
      const hosts = await outside.call<Record<string, { name_label: string }>>('host.get_all_records');
      await outside.call('host.enable', [Object.entries(hosts).find(([, x]) => x.name_label === 'xs-a1')![0]]);
      await outside.logout();
      const second = await planAndStart(h);
      await approveUntilGate(h, second.id, 'xs-a1:approval');
      const behind = await h.core.restore(run.id, APPROVER);
      expect(behind).toMatchObject({ ok: false, code: 'conflict' });
      expect(behind.ok ? '' : behind.error).toMatch(/is active on pool-a/);
      expect((await h.store.getRun(run.id))!.restore).toBeUndefined();
    } finally {
      await h.close();
    }
  });
  // reference top 1: a call whose answer was lost is judged from the pool, never called a refusal nor re-sent blindly
  it.each([
    ['carried out, its answer lost', 'after' as const],
    ['lost before xapi saw it', 'before' as const],
  ])('Restore re-enabling HA, the call %s: it says what the pool shows', async (_what, when) => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      autoApprove: false,
      // the run is aborted before its pool-finish step: only Restore sends Async.pool.enable_ha
      faults: [{ kind: 'connection-reset', method: 'Async.pool.enable_ha', when }],
    });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a1:approval');
      expect(h.sim.inspect().pool.haEnabled).toBe(false);
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
      expect((await h.core.restore(run.id, APPROVER)).ok).toBe(true);
      const after = (await h.store.getRun(run.id))!;
      const event = h.notifier.calls.filter((c) => c.method === 'runEvent').pop()!;
      expect(event.text).not.toMatch(/the pool answered/);
      if (when === 'after') {
        expect(h.sim.inspect().pool.haEnabled).toBe(true);
        expect(after.restore).toMatchObject({ state: 'done', left: [] });
        // xapi made a task for the call: found and followed to its end, not sent again
        expect(after.restore!.did).toContainEqual(expect.stringMatching(/^HA re-enabled \(its task OpaqueRef:[^ ]+ followed: the answer to Async\.pool\.enable_ha was lost\)$/));
        expect(h.sim.stats().calls['Async.pool.enable_ha']).toBe(1);
        return;
      }
      expect(h.sim.inspect().pool.haEnabled).toBe(false);
      expect(after.restore!.state).toBe('partial');
      expect(after.restore!.left).toEqual([
        expect.stringMatching(/^re-enabling HA: no answer to Async\.pool\.enable_ha \(.*\), and the pool does not show it done: xapi may still be doing it; check the pool before clicking Restore again$/),
      ]);
      // Restore again, once the operator has looked: HA is re-enabled, sent once more only because the pool shows it off
      expect((await h.core.restore(run.id, APPROVER)).ok).toBe(true);
      expect(h.sim.inspect().pool.haEnabled).toBe(true);
      expect((await h.store.getRun(run.id))!.restore).toMatchObject({ state: 'done', did: ['xs-a1 enabled', 'HA re-enabled'], left: [] });
    } finally {
      await h.close();
    }
  });
  it('Restore of an aborted run is refused once a newer run of the pool has started: it would undo what that run decided', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      autoApprove: false,
      faults: [{ kind: 'api-error', method: 'host.reboot', host: 'xs-a3', code: 'HOST_IN_USE', times: 1 }],
    });
    try {
      const first = await planAndStart(h);
      await approveUntilGate(h, first.id, 'xs-a3:approval');
      expect((await h.core.abort(first.id, APPROVER)).ok).toBe(true);
      expect(host(h, 'xs-a3').enabled).toBe(false);
      // the operator enables xs-a3 by hand (xe host-enable) instead of Restore, and runs the pool again
      const outside = await outsideClient(h);
      await outside.call('host.enable', [host(h, 'xs-a3').ref]);
      await outside.logout();
      const second = await planAndStart(h);
      await approveUntilGate(h, second.id, 'xs-a3:approval');
      expect((await h.core.approve(second.id, 'xs-a3:approval', APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, second.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toBe('xs-a3:upgrade');
      // the second run leaves xs-a3 disabled: Skip host, its upgrade failed
      expect((await h.core.recover(second.id, { action: 'skip-host', stepId: step.id }, APPROVER)).ok).toBe(true);
      await waitForRun(h.store, second.id, ['done', 'failed', 'aborted', 'rolled-back']);
      expect(host(h, 'xs-a3').enabled).toBe(false);

      // the first run's Restore button, still in Slack
      const restored = await h.core.restore(first.id, APPROVER);
      expect(restored).toMatchObject({ ok: false, code: 'conflict' });
      expect(restored.ok ? '' : restored.error).toMatch(new RegExp(`run ${second.id} of pool-a started after ${first.id} \\(it is \\w+\\): Restore of ${first.id} would undo`));
      expect(host(h, 'xs-a3').enabled).toBe(false);
      expect((await h.store.getRun(first.id))!.restore).toBeUndefined();
    } finally {
      await h.close();
    }
  });

  /** An aborted run at xs-a2's gate (xs-a2 disabled), and a second bot process on the same store whose client the test holds. */
  async function abortedWithRestorer(h: Harness, store: Store = h.store): Promise<{ runId: string; client: () => GatedClient; restorer: Awaited<ReturnType<typeof coreForSim>> }> {
    const run = await planAndStart(h);
    await approveUntilGate(h, run.id, 'xs-a2:approval');
    expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
    let client: GatedClient | undefined;
    const restorer = await coreForSim(h.sim, {
      store,
      clock: h.clock,
      dir: h.dir,
      ownerId: 'restorer',
      clientFactory: (p) => (client = new GatedClient({ url: p.masterUrl, username: p.username, password: h.sim.password, tls: p.tls, clock: h.clock })),
    });
    expect((await restorer.liveHosts('pool-a')).ok).toBe(true); // the pool's client is made at its first use
    return { runId: run.id, client: () => client!, restorer };
  }

  // a Restore outlasting the lease's life (VMs resumed one by one, HA enabled: minutes on a real pool) must keep the
  // pool: else a run started meanwhile plans and acts while Restore still changes the pool behind its back
  it('Restore keeps the pool lease while it works, longer than the lease lives, and gives it back with its own token', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    const { runId, client, restorer } = await abortedWithRestorer(h);
    const gate = client().hold('Async.host.enable');
    try {
      const restoring = restorer.restore(runId, APPROVER);
      await gate.reached;
      const ttl = 20 * 60_000; // the harness's lease life (coreForSim)
      const until = h.clock.now() + 2 * ttl;
      while (h.clock.now() < until) await new Promise((r) => setTimeout(r, 20));
      const intruder = await h.store.acquireLease('pool-a', 'other-replica', 'R-intruder', ttl, h.clock.now());
      expect(intruder).toMatchObject({ ok: false, holder: 'restorer' });
      gate.release();
      expect((await restoring).ok).toBe(true);
      expect(host(h, 'xs-a2').enabled).toBe(true);
      expect(await h.store.getLease('pool-a')).toBeUndefined();
    } finally {
      gate.release(); // a failed expectation must not leave Restore waiting at the gate
      await restorer.shutdown();
      await h.close();
    }
  });

  it('Restore whose lease was taken over sends nothing more, says so, and leaves the lease of the replica that took it alone', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    const { runId, client, restorer } = await abortedWithRestorer(h);
    // Restore reads the pool before it enables xs-a2: meanwhile its lease passes to another replica (it stalled)
    const gate = client().hold('host.get_all_records');
    try {
      const restoring = restorer.restore(runId, APPROVER);
      await gate.reached;
      await h.store.releaseLease('pool-a', 'restorer');
      const taken = await h.store.acquireLease('pool-a', 'other-replica', 'R-other', 20 * 60_000, h.clock.now());
      expect(taken.ok).toBe(true);
      gate.release();
      expect((await restoring).ok).toBe(true);
      expect(host(h, 'xs-a2').enabled).toBe(false);
      const after = (await h.store.getRun(runId))!;
      expect(after.restore!.state).toBe('partial');
      expect(after.restore!.did).toEqual([]);
      expect(after.restore!.left.join('\n')).toMatch(/the pool's lease passed to other-replica \(run R-other\): Restore stopped before host\.enable xs-a2; nothing more was sent/);
      const audit = await h.store.listAudit(runId);
      expect(audit.some((e) => e.kind === 'xenapi' && /^host\.enable/.test(e.message))).toBe(false);
      expect(await h.store.getLease('pool-a')).toMatchObject({ owner: 'other-replica', runId: 'R-other' });
    } finally {
      gate.release(); // a failed expectation must not leave Restore waiting at the gate
      await restorer.shutdown();
      await h.close();
    }
  });

  it('Restore that cannot read the pool half-way keeps what it did in its record and says why it stopped', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    const { runId, client, restorer } = await abortedWithRestorer(h);
    const enable = client().hold('Async.host.enable');
    let reread: ReturnType<GatedClient['hold']> | undefined;
    try {
      const restoring = restorer.restore(runId, APPROVER);
      await enable.reached;
      // the read after xs-a2 is enabled (before its VMs) fails
      reread = client().hold('host.get_all_records');
      enable.release();
      await reread.reached;
      reread.fail(new Error('the master stopped answering'));
      expect((await restoring).ok).toBe(true);
      expect(host(h, 'xs-a2').enabled).toBe(true);
      const after = (await h.store.getRun(runId))!;
      expect(after.restore).toMatchObject({ state: 'partial', did: ['xs-a2 enabled'], left: ['the pool could not be read or acted on: the master stopped answering'] });
    } finally {
      enable.release();
      reread?.release();
      await restorer.shutdown();
      await h.close();
    }
  });

  it('Restore checks again under the lease: a run started between its first check and its lease (it holds none at its gate) refuses it', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false });
    let raced: Run | undefined;
    // the store Restore sees: just before Restore takes the lease, a new run of the pool is created (and waits at a gate)
    const racing = new Proxy(h.store, {
      get(target, key) {
        if (key === 'acquireLease') {
          return async (...args: Parameters<Store['acquireLease']>) => {
            if (args[1] === 'restorer' && !raced) {
              const old = (await target.listRuns({ pool: 'pool-a' }))[0]!;
              const now = h.clock.now();
              const { endedAt: _e, endAudit: _a, outcome: _o, restore: _r, ...rest } = structuredClone(old);
              raced = { ...rest, id: await target.nextRunId('pool-a', now), state: 'awaiting-approval', createdAt: now, updatedAt: now, revision: 0 };
              await target.createRun(raced);
            }
            return target.acquireLease(...args);
          };
        }
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const { runId, restorer } = await abortedWithRestorer(h, racing);
    try {
      const refused = await restorer.restore(runId, APPROVER);
      expect(raced).toBeDefined();
      expect(refused).toMatchObject({ ok: false, code: 'conflict' });
      expect(refused.ok ? '' : refused.error).toMatch(new RegExp(`run ${raced!.id} is active on pool-a: Restore of an older run would act behind its back`));
      expect(host(h, 'xs-a2').enabled).toBe(false);
      expect((await h.store.getRun(runId))!.restore).toBeUndefined();
      expect(await h.store.getLease('pool-a')).toBeUndefined();
    } finally {
      await restorer.shutdown();
      await h.close();
    }
  });

  // reference top 1: enable_ha takes minutes on a real pool; a synchronous call ran into the 60 s timeout
  it('Restore follows the task of a slow pool.enable_ha, says when it is still running, and a second click follows that task instead of sending another', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      autoApprove: false,
      // 45 simulated minutes: longer than Restore waits for one task (30 min)
      edit: (sc) => {
        sc.timings = { ...sc.timings, haEnableSeconds: 45 * 60 };
      },
    });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a1:approval');
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
      expect((await h.core.restore(run.id, APPROVER)).ok).toBe(true);
      let after = (await h.store.getRun(run.id))!;
      expect(after.restore).toMatchObject({ state: 'partial', did: ['xs-a1 enabled'] });
      expect(after.restore!.left).toEqual([
        expect.stringMatching(/^re-enabling HA: pool\.enable_ha still running on the pool after 30 min \(task OpaqueRef:[^)]+\); check the pool before clicking Restore again$/),
      ]);
      expect(h.sim.inspect().pool.haEnabled).toBe(false);

      expect((await h.core.restore(run.id, APPROVER)).ok).toBe(true);
      after = (await h.store.getRun(run.id))!;
      expect(h.sim.inspect().pool.haEnabled).toBe(true);
      expect(h.sim.stats().calls['Async.pool.enable_ha']).toBe(1);
      expect(after.restore!.state).toBe('done');
      // the task is found still running (or, on a slow machine, HA already on when the pool is read: nothing to do)
      expect(after.restore!.did.filter((d) => /^HA re-enabled/.test(d)).every((d) => /its task OpaqueRef:\S+ followed: sent before, still running when Restore was clicked again/.test(d))).toBe(true);
    } finally {
      await h.close();
    }
  });
});
