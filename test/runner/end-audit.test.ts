/**
 * Issue 11.1/11.2/11.3/11.7: the end of a run is an audit of the live pool against the baseline recorded before the
 * first change — driven on the simulator with a host losing power, a VM halted from outside the bot, aborts at each
 * phase and a roll-back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Run, RunState } from '../../src/domain/types';
import { loadScenario } from '../../src/sim';
import { writeHotfixRepository } from '../../src/sim/hotfixes';
import { RunInterrupted } from '../../src/runner/errors';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { APPROVER, approveUntilGate, outsideClient, planAndStart, runningVmPlacement, startHarness, until, waitForRun, type Harness } from './sim-harness';

const END: RunState[] = ['done', 'aborted', 'rolled-back', 'failed'];

/** Approve every gate as it comes; `atGate` runs first (faults, outside actions) and may stop the drive by returning 'stop'. */
async function driveGates(h: Harness, runId: string, atGate: (gate: string) => Promise<'stop' | void> = async () => undefined): Promise<Run> {
  const seen = new Set<string>();
  const until = Date.now() + 90_000;
  for (;;) {
    const run = (await h.store.getRun(runId))!;
    if (END.includes(run.state)) return run;
    const gate = run.steps.find((s) => s.state === 'awaiting-approval');
    if (run.state === 'awaiting-approval' && gate && !seen.has(gate.id)) {
      seen.add(gate.id);
      if ((await atGate(gate.id)) === 'stop') return (await h.store.getRun(runId))!;
      const ok = await h.core.approve(runId, gate.id, APPROVER);
      if (!ok.ok) throw new Error(ok.error);
    }
    if (Date.now() > until) throw new Error(`run ${runId} still ${run.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const manual = { autoApprove: false } as const;

describe('end-of-run audit of the live pool (issue 11)', () => {
  it('records the pool before the first change: every VM, HA, every host (persisted in the run)', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', manual);
    try {
      const run = await planAndStart(h);
      await waitForRun(h.store, run.id, ['awaiting-approval']);
      const stored = (await h.store.getRun(run.id))!;
      expect(stored.baseline).toBeDefined();
      expect(stored.baseline!.haEnabled).toBe(true);
      expect(stored.baseline!.hosts.map((x) => `${x.name}:${x.product}:${x.enabled}`)).toEqual(['xs-a1:7.1.1:true', 'xs-a2:7.1.1:true', 'xs-a3:7.1.1:true']);
      const vm = stored.baseline!.vms.find((v) => v.name === 'vm-licence-srv')!;
      expect(vm).toMatchObject({ powerState: 'Running' });
      expect(vm.srs).toEqual([expect.objectContaining({ name: 'Local storage xs-a2', shared: false })]);
      expect(stored.baseline!.vms.find((v) => v.name === 'test-vm')!.powerState).toBe('Halted');
      // recorded before anything was changed: the first audit entry with a XenAPI side effect comes after it
      const audit = await h.store.listAudit(run.id);
      const recorded = audit.findIndex((e) => /pool state recorded before the first change/.test(e.message));
      const firstChange = audit.findIndex((e) => e.kind === 'xenapi');
      expect(recorded).toBeGreaterThanOrEqual(0);
      expect(recorded).toBeLessThan(firstChange);
    } finally {
      await h.close();
    }
  });

  it('a clean run ends "done" with counts of what happened', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic');
    try {
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, END);
      expect(done.state).toBe('done');
      expect(done.outcome).toMatch(/^done: every host on 7\.6\.0 and enabled; every VM that ran before runs; HA on$/);
      expect(done.endAudit).toMatchObject({ allOnTarget: true, leftovers: [], vms: [], hosts: [], ha: { before: true, now: true } });
      expect(done.endAudit!.backup.usable).toBe(true);
      // counts come from the run's records, not the plan
      const moved = done.steps.filter((s) => s.kind === 'evacuate').reduce((n, s) => n + Object.keys((s.data?.moved ?? {}) as object).length, 0);
      expect(done.endAudit!.counts).toEqual({ migrated: moved, stopped: 2, restarted: 2 });
    } finally {
      await h.close();
    }
  });

  it('return policy "original": the count of live migrations includes the moves back, as many as the pool carried out', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { pool: { returnPolicy: 'original' } });
    try {
      const run = await planAndStart(h);
      const done = await waitForRun(h.store, run.id, END);
      expect(done.state).toBe('done');
      const movedBack = done.steps.filter((s) => s.kind === 'move-back').reduce((n, s) => n + Object.keys((s.data?.movedBack ?? {}) as object).length, 0);
      expect(movedBack).toBeGreaterThan(0);
      // what the pool did, counted by the simulator: every VM.pool_migrate the run sent
      expect(done.endAudit!.counts.migrated).toBe(h.sim.stats().calls['Async.VM.pool_migrate']);
      const text = JSON.stringify(runEndMessages(done, h.pool, { toolsFollowUp: false }).summary.blocks);
      expect(text).toContain(`${done.endAudit!.counts.migrated} live migrations`);
    } finally {
      await h.close();
    }
  });

  it('a host losing power mid-run: "done with exceptions", naming every VM it took down and why (inferred)', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', manual);
    try {
      const run = await planAndStart(h);
      let onA3: string[] = [];
      const end = await driveGates(h, run.id, async (gate) => {
        if (gate !== 'xs-a2:approval') return;
        onA3 = h.sim.inspect().vms.filter((v) => v.residentOn === 'xs-a3' && v.powerState === 'Running').map((v) => v.name);
        h.sim.control.powerOff('xs-a3');
        await until('xs-a3 off', () => !h.sim.hosts().find((x) => x.name === 'xs-a3')!.live);
        h.sim.control.powerOn('xs-a3');
        await until('xs-a3 back', () => h.sim.hosts().find((x) => x.name === 'xs-a3')!.live);
      });
      expect(end.state).toBe('done');
      expect(onA3.length).toBeGreaterThanOrEqual(2);
      expect(end.outcome).toMatch(/^done with exceptions: /);
      const down = end.endAudit!.vms;
      // every VM that ran on xs-a3 when it lost power and was not running again at the end
      const halted = h.sim.inspect().vms.filter((v) => onA3.includes(v.name) && v.powerState !== 'Running').map((v) => v.name).sort();
      expect(halted.length).toBeGreaterThanOrEqual(2);
      expect(down.map((v) => v.name).sort()).toEqual(halted);
      for (const v of down) {
        expect(v.cause).toBe('host-restarted');
        expect(v.why).toMatch(/the bot concludes xs-a3 lost power or was restarted from outside/);
      }
      expect(end.endAudit!.allOnTarget).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('a VM halted from outside the bot is named at the end: never "done" while it is down', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', manual);
    const outside = await outsideClient(h);
    try {
      const run = await planAndStart(h);
      const end = await driveGates(h, run.id, async (gate) => {
        if (gate !== 'xs-a1:approval') return;
        const vms = await outside.call<Record<string, { name_label: string }>>('VM.get_all_records');
        const ref = Object.entries(vms).find(([, v]) => v.name_label === 'ci-runner')![0];
        await outside.call('VM.hard_shutdown', [ref]);
      });
      expect(end.state).toBe('done');
      expect(end.outcome).toMatch(/^done with exceptions: ci-runner \(Halted\): the pool shows it Halted \(it ran on xs-a3\); this run never stopped it: it was stopped from outside the bot$/);
      expect(end.endAudit!.vms).toEqual([expect.objectContaining({ name: 'ci-runner', cause: 'outside' })]);
    } finally {
      await outside.logout().catch(() => undefined);
      await h.close();
    }
  });

  it('abort at a gate before any VM downtime: the summary says exactly what remains changed (host disabled, HA off)', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', manual);
    try {
      const run = await planAndStart(h);
      const end = await driveGates(h, run.id, async (gate) => (gate === 'xs-a2:approval' ? 'stop' : undefined));
      expect(end.steps.find((s) => s.state === 'awaiting-approval')!.id).toBe('xs-a2:approval');
      const aborted = await h.core.abort(run.id, APPROVER);
      expect(aborted.ok).toBe(true);
      const a = (await h.store.getRun(run.id))!;
      expect(a.state).toBe('aborted');
      const first = a.outcome!.split('\n')[0]!;
      expect(first).toMatch(/^aborted by UAPPROVER1; still changed: /);
      expect(first).toMatch(/xs-a1 on 7\.6\.0 build release\/lima\/master\/36 \(was 7\.1\.1 build 137272c\)/);
      expect(first).toMatch(/xs-a2 disabled/);
      expect(first).toMatch(/HA off \(it was on before the run; this run disabled it, R2\.4\)/);
      expect(first).not.toMatch(/vm-licence-srv/); // it never went down (issue 10.7)
      expect(a.endAudit!.vms).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('abort while a host is down after its VMs were stopped: the stopped VM and the host are named', async () => {
    // manual mode: each host stays off until the operator boots the installer, so "down" lasts until the abort is done
    const h = await startHarness('manifests/demo/pool-a.yaml', 'manual', manual);
    const off = (name: string) => h.sim.hosts().find((x) => x.name === name)!.power === 'off';
    try {
      const run = await planAndStart(h);
      for (const name of ['xs-a1', 'xs-a2', 'xs-a3']) {
        await approveUntilGate(h, run.id, `${name}:approval`);
        expect((await h.core.approve(run.id, `${name}:approval`, APPROVER)).ok).toBe(true);
        await until(`${name} off`, () => off(name));
        if (name !== 'xs-a3') h.sim.control.completeManualInstall(name);
      }
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
      const a = (await h.store.getRun(run.id))!;
      const first = a.outcome!.split('\n')[0]!;
      expect(first).toMatch(/xs-a3 not live, disabled/);
      expect(first).toMatch(/monitor-01 Halted: shut down by this run for xs-a3 and not started again/);
      expect(a.endAudit!.vms.map((v) => `${v.name}:${v.cause}`)).toEqual(['monitor-01:stopped-by-run']);
    } finally {
      await h.close();
    }
  });

  it('abort at the first gate of an update-mode pool: the disabled host is named as still changed', async () => {
    const h = await startHarness('manifests/demo/pool-b.yaml', 'update', manual);
    try {
      const run = await planAndStart(h);
      // the first gate: pool-b's first host is disabled by then; abort at once and check the words follow the pool
      await waitForRun(h.store, run.id, ['awaiting-approval']);
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
      const a = (await h.store.getRun(run.id))!;
      expect(a.endAudit!.changed.some((c) => / disabled/.test(c))).toBe(true);
      expect(a.outcome).toMatch(/still changed: /);
    } finally {
      await h.close();
    }
  });

  it('HA left off by an earlier run is said when the next run ends (issue 11.7): not "done"', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', manual);
    const outside = await outsideClient(h);
    try {
      // run 1 disables HA (R2.4) and is aborted at the master's gate; an operator re-enables the master by hand
      const first = await planAndStart(h);
      await driveGates(h, first.id, async (gate) => (gate === 'xs-a1:approval' ? 'stop' : undefined));
      expect((await h.core.abort(first.id, APPROVER)).ok).toBe(true);
      const hosts = await outside.call<Record<string, { name_label: string }>>('host.get_all_records');
      await outside.call('host.enable', [Object.entries(hosts).find(([, x]) => x.name_label === 'xs-a1')![0]]);
      expect(h.sim.inspect().pool.haEnabled).toBe(false);

      const second = await planAndStart(h);
      const end = await driveGates(h, second.id);
      expect(end.state).toBe('done');
      expect(end.endAudit!.ha).toMatchObject({ before: false, now: false, disabledByRun: false });
      expect(end.outcome).toBe(`done with exceptions: HA is off, as it was before this run: run ${first.id} disabled it (R2.4) and it has not been re-enabled since`);
    } finally {
      await outside.logout().catch(() => undefined);
      await h.close();
    }
  });

  it('roll-back of the master: the outcome comes from the pool as it is, not from what the roll-back meant to do', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { faults: [{ kind: 'install-fails', host: 'xs-a1', when: 'before', times: 1 }] });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['failed', 'done']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect((await h.core.recover(run.id, { action: 'rollback-master', stepId: step.id }, APPROVER)).ok).toBe(true);
      const closed = await waitForRun(h.store, run.id, ['rolled-back', 'failed', 'done']);
      expect(closed.state).toBe('rolled-back');
      expect(closed.endAudit).toBeDefined();
      expect(closed.endAudit!.vms).toEqual([]);
      expect(closed.endAudit!.ha).toMatchObject({ before: true, now: true });
      // VMs evacuated off the master stay where they went (return policy none): said, not hidden
      expect(closed.outcome).toMatch(/^rolled back: xs-a1 is live on 7\.1\.1 build 137272c again \(R4\.1\); still changed: \d+ running VM\(s\) on another host than before/);
    } finally {
      await h.close();
    }
  });
  it('a stop xapi refused is not counted as a VM stopped by the run, nor as one running again', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
      autoApprove: false,
      faults: [{ kind: 'api-error', method: 'VM.suspend', vm: 'vm-licence-srv', code: 'VDI_IO_ERROR' }],
    });
    try {
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a2:approval');
      expect((await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed']);
      expect(failed.steps.find((s) => s.state === 'failed')!.id).toBe('xs-a2:stop-vms');
      expect(h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')!.powerState).toBe('Running');
      expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
      const end = (await h.store.getRun(run.id))!;
      expect(end.endAudit!.counts).toMatchObject({ stopped: 0, restarted: 0 });
      expect(end.endAudit!.vms).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it.each([['aborted once it is stopped', true], ['driven to the end', false]])(
    'a stop carried out whose answer was lost counts as stopped by the run, %s: the VM is read again, never a failed step',
    async (_how, abort) => {
      let killed = false;
      const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', {
        autoApprove: !abort,
        faults: [{ kind: 'connection-reset', method: 'Async.VM.suspend', when: 'after' }],
        // abort: the bot stops once stop-vms has run, before the step is recorded done (as after a kill), then the run is aborted
        checkpoint: async (label) => {
          if (abort && !killed && label === 'xs-a2:stop-vms:executed') {
            killed = true;
            throw new RunInterrupted('process killed after stop-vms ran');
          }
        },
      });
      try {
        const run = await planAndStart(h);
        const record = (r: Run) =>
          Object.values((r.steps.find((s) => s.id === 'xs-a2:stop-vms')!.data!.stopped ?? {}) as Record<string, { name: string; stopped?: boolean; action?: string }>).find(
            (v) => v.name === 'vm-licence-srv',
          );
        let end: Run;
        if (abort) {
          await approveUntilGate(h, run.id, 'xs-a2:approval');
          expect((await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
          // the answer to the suspend is lost: the step reads the VM again and follows the suspend (it does not fail)
          let state = run.state;
          for (const giveUp = Date.now() + 30_000; !killed && state !== 'failed' && Date.now() < giveUp; await new Promise((r) => setTimeout(r, 20))) {
            state = (await h.store.getRun(run.id))!.state;
          }
          expect({ killed, state }).toEqual({ killed: true, state: 'running' });
          expect(h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')!.powerState).toBe('Suspended');
          await h.core.whenIdle(run.id);
          const stopped = (await h.store.getRun(run.id))!;
          expect(stopped.steps.find((s) => s.state === 'failed')).toBeUndefined();
          expect(record(stopped)).toMatchObject({ action: 'suspend', stopped: true });
          expect((await h.core.abort(run.id, APPROVER)).ok).toBe(true);
          end = (await h.store.getRun(run.id))!;
          expect(h.sim.inspect().vms.find((v) => v.name === 'vm-licence-srv')!.powerState).toBe('Suspended');
          expect(end.endAudit!.counts.stopped).toBe(1);
          // stopped by this run, not "from outside the bot"
          expect(end.endAudit!.vms).toEqual([expect.objectContaining({ name: 'vm-licence-srv', cause: 'stopped-by-run' })]);
        } else {
          // the run ends as a clean one does: the same counts, no failed step
          end = await waitForRun(h.store, run.id, END);
          expect(end.steps.find((s) => s.state === 'failed')).toBeUndefined();
          expect(end.state).toBe('done');
          expect(record(end)).toMatchObject({ action: 'suspend', stopped: true });
          const moved = end.steps.filter((s) => s.kind === 'evacuate').reduce((n, s) => n + Object.keys((s.data?.moved ?? {}) as object).length, 0);
          expect(end.endAudit!.counts).toEqual({ migrated: moved, stopped: 2, restarted: 2 });
        }
        // the suspend went out once: reconciled, never sent again
        expect(h.sim.stats().calls['Async.VM.suspend']).toBe((await h.store.listAudit(run.id)).filter((e) => e.kind === 'xenapi' && /^VM\.suspend \S+$/.test(e.message)).length);
      } finally {
        await h.close();
      }
    },
  );
  it('return policy "original": a move back skipped with Skip host is a leftover, not a clean "done"', async () => {
    const h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false, pool: { returnPolicy: 'original' } });
    try {
      expect(runningVmPlacement(h.sim)['app-02']).toBe('xs-a2');
      const run = await planAndStart(h);
      await approveUntilGate(h, run.id, 'xs-a2:approval');
      h.sim.control.injectFault({ kind: 'migration-fails', vm: 'app-02' } as never);
      expect((await h.core.approve(run.id, 'xs-a2:approval', APPROVER)).ok).toBe(true);
      const failed = await waitForRun(h.store, run.id, ['failed']);
      const step = failed.steps.find((s) => s.state === 'failed')!;
      expect(step.id).toBe('xs-a2:move-back');
      expect((await h.core.recover(run.id, { action: 'skip-host', stepId: step.id }, APPROVER)).ok).toBe(true);
      await approveUntilGate(h, run.id, 'xs-a3:approval');
      expect((await h.core.approve(run.id, 'xs-a3:approval', APPROVER)).ok).toBe(true);
      const end = await waitForRun(h.store, run.id, ['done', 'failed']);
      expect(end.state).toBe('done');
      const now = runningVmPlacement(h.sim)['app-02'];
      expect(now).not.toBe('xs-a2');
      expect(end.endAudit!.leftovers).toEqual([`app-02: running on ${now}, not back on xs-a2: its move back was skipped (return policy "original")`]);
      expect(end.outcome).toMatch(/^done with exceptions: app-02: running on/);
      const text = JSON.stringify(runEndMessages(end, h.pool, { toolsFollowUp: false }).summary.blocks);
      expect(text).not.toMatch(/white_check_mark/);
      expect(text).toMatch(/not back on xs-a2/);
    } finally {
      await h.close();
    }
  });
});

describe('end-of-run audit after the hotfix reboots of the run (R3.10)', () => {
  it("a VM halted from outside on a host the run rebooted for its updates is 'stopped from outside', not 'the host restarted without the bot'", async () => {
    const sc = loadScenario('manifests/demo/pool-h.yaml');
    const repo = writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-updates-')));
    const h = await startHarness('manifests/demo/pool-h.yaml', 'automatic', { ...manual, pool: { updateRepository: repo } });
    const outside = await outsideClient(h);
    try {
      const run = await planAndStart(h);
      let halted = '';
      const end = await driveGates(h, run.id, async (gate) => {
        if (gate !== 'xs-h3:approval') return;
        // xs-h1 is upgraded and was rebooted once more by the run for its updates: halt a VM that runs there now
        const vms = await outside.call<Record<string, { name_label: string; power_state: string; resident_on: string }>>('VM.get_all_records');
        const hosts = await outside.call<Record<string, { name_label: string }>>('host.get_all_records');
        const h1 = Object.entries(hosts).find(([, x]) => x.name_label === 'xs-h1')![0];
        const [ref, vm] = Object.entries(vms).find(([, v]) => v.resident_on === h1 && v.power_state === 'Running' && !v.name_label.startsWith('Control domain'))!;
        halted = vm.name_label;
        await outside.call('VM.hard_shutdown', [ref]);
      });
      expect(end.state).toBe('done');
      const reboots = end.steps.find((s) => s.id === 'xs-h1:apply-updates')?.data?.restart as { method?: string } | undefined;
      expect(reboots?.method).toBe('host.reboot'); // the run did reboot xs-h1 after its upgrade
      expect(end.endAudit!.vms).toEqual([expect.objectContaining({ name: halted, cause: 'outside' })]);
    } finally {
      await outside.logout().catch(() => undefined);
      await h.close();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
