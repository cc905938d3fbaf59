/**
 * stop-vms' lost answers at the engine level, on the simulator (a client that loses one answer and then
 * finds the pool unreachable for a while; a second core on the same store for a restart).
 */
import type { Run } from '../../src/domain/types';
import { APPROVER, planAndStart, waitForRun } from './sim-harness';
import { startFlaky, stoppedRecords, type Ctl, type FHarness } from './flaky-pool';

jest.setTimeout(120_000);

const POOL_A = 'manifests/demo/pool-a.yaml';
const STEP = 'xs-a2:stop-vms';
const auditOf = async (h: FHarness, runId: string) => (await h.store.listAudit(runId)).map((e) => `${e.kind} ${e.message}`);
const recOf = (r: Run, step: string, vm: string) => Object.values(stoppedRecords(r, step)).find((v) => v.name === vm);
const powerOf = (h: FHarness, vm: string) => h.sim.inspect().vms.find((v) => v.name === vm)!.powerState;

async function untilStep(h: FHarness, runId: string, step: string, states: string[], realMs = 40_000): Promise<Run> {
  const end = Date.now() + realMs;
  for (;;) {
    const r = (await h.store.getRun(runId))!;
    if (states.includes(r.steps.find((s) => s.id === step)!.state) || ['done', 'aborted'].includes(r.state)) return r;
    if (Date.now() > end) throw new Error(`${step} still ${r.steps.find((s) => s.id === step)!.state}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('the pool stays unreachable for a long time after a lost suspend answer', () => {
  const lose = (outageMs: number): Partial<Ctl> => ({ loseAnswer: (m) => m === 'Async.VM.suspend', outageMs });

  it('the failure the operator gets names the VM whose suspend is in doubt (sent, answer lost), not only "pool unreachable"', async () => {
    const h = await startFlaky(POOL_A, { ctl: lose(10 * 60_000) });
    try {
      const run = await planAndStart(h);
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      const step = end.steps.find((s) => s.id === STEP)!;
      expect(step.state).toBe('failed');
      // nothing re-sent blindly while the pool was away (held)
      expect(h.sim.stats().calls['Async.VM.suspend']).toBe(1);
      expect(recOf(end, STEP, 'vm-licence-srv')).toMatchObject({ stopped: false, issued: { method: 'VM.suspend' } });
      // what was observed: a suspend of vm-licence-srv went out, its answer never came, the pool has not answered since
      const said = [step.error!.message, ...(step.error!.observed ?? [])].join('\n');
      expect(said).toMatch(/vm-licence-srv/);
      expect(said).toMatch(/VM\.suspend/);
    } finally {
      await h.close();
    }
  });

  it('while the engine waits for the pool and re-runs the step, the run says so (audit or channel), not minutes of silence', async () => {
    const h = await startFlaky(POOL_A, { ctl: lose(10 * 60_000) });
    try {
      const run = await planAndStart(h);
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      const audit = await auditOf(h, end.id);
      const from = audit.findIndex((m) => /^xenapi VM\.suspend vm-licence-srv$/.test(m));
      const to = audit.findIndex((m) => /stop-vms failed/.test(m));
      const between = audit.slice(from + 1, to);
      const channel = h.notifier.calls.filter((c) => c.method === 'runEvent').map((c) => c.text ?? '');
      const told = [...between, ...channel].filter((m) => /unreachable|did not answer|not answer|re-run|waiting/i.test(m) && !/master xs-a1 reboots|rebooting into/.test(m));
      expect(told).not.toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('once the pool is back, Retry settles the suspend from the pool (not sent again) and the run completes', async () => {
    const h = await startFlaky(POOL_A, { ctl: lose(10 * 60_000) });
    try {
      const run = await planAndStart(h);
      const failed = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      expect(failed.state).toBe('failed');
      while (h.clock.now() < h.ctl.downUntil) await new Promise((r) => setTimeout(r, 20));
      expect((await h.core.recover(run.id, { action: 'retry', stepId: STEP }, APPROVER)).ok).toBe(true);
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      expect({ state: end.state, outcome: end.state === 'done' ? undefined : end.outcome }).toEqual({ state: 'done', outcome: undefined });
      expect(h.sim.stats().calls['Async.VM.suspend']).toBe(1);
      expect(recOf(end, STEP, 'vm-licence-srv')).toMatchObject({ action: 'suspend', stopped: true });
      expect(recOf(end, STEP, 'vm-licence-srv')!.issued).toBeUndefined();
      expect(end.endAudit!.counts).toMatchObject({ stopped: 2, restarted: 2 });
      expect(powerOf(h, 'vm-licence-srv')).toBe('Running');
    } finally {
      await h.close();
    }
  });
});

describe('the bot restarts between the issued record and the answer', () => {
  it('the suspend was carried out while the bot was gone: the new engine settles it as stopped, nothing sent twice, xs-a2 rebooted once', async () => {
    const ctl: Partial<Ctl> = { hang: (m) => (m === 'Async.VM.suspend' ? { send: true } : undefined) };
    const h = await startFlaky(POOL_A, { ctl });
    try {
      const run = await planAndStart(h);
      // the first bot is "killed" waiting for the answer: its suspend went out, the pool carries it out
      await untilStep(h, run.id, STEP, ['running']);
      for (const end = Date.now() + 30_000; powerOf(h, 'vm-licence-srv') !== 'Suspended' && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      expect(powerOf(h, 'vm-licence-srv')).toBe('Suspended');
      const mid = (await h.store.getRun(run.id))!;
      expect(recOf(mid, STEP, 'vm-licence-srv')).toMatchObject({ stopped: false, issued: { method: 'VM.suspend' } });
      void h.core.shutdown(); // never completes: the old loop hangs on its lost answer, as a dead process would
      const two = await h.newCore('test-runner', { calls: [], refused: [], downUntil: 0, outageMs: 0 });
      await two.core.recoverRuns();
      const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
      expect({ state: end.state, outcome: end.state === 'done' ? undefined : end.outcome }).toEqual({ state: 'done', outcome: undefined });
      expect(h.sim.stats().calls['Async.VM.suspend']).toBe(1);
      expect(recOf(end, STEP, 'vm-licence-srv')).toMatchObject({ action: 'suspend', stopped: true });
      expect(recOf(end, STEP, 'vm-licence-srv')!.issued).toBeUndefined();
      const audit = await auditOf(h, run.id);
      expect(audit.filter((m) => /^xenapi host\.reboot xs-a2$/.test(m))).toHaveLength(1);
      expect(end.endAudit!.counts).toMatchObject({ stopped: 2, restarted: 2 });
      expect(powerOf(h, 'vm-licence-srv')).toBe('Running');
      expect(end.steps.find((s) => s.id === STEP)!.data?.note).toMatch(/^1 VM\(s\) on xs-a2 suspended/);
    } finally {
      await h.close();
    }
  });
});

describe('a lost answer on VM.hard_shutdown after the clean_shutdown fallback', () => {
  for (const outageMs of [0, 10 * 60_000]) {
    it(`outage ${outageMs / 60_000} min: the hard shutdown is settled from the pool, not sent again; counts right`, async () => {
      const h = await startFlaky('manifests/demo/standalone.yaml', { ctl: { loseAnswer: (m) => m === 'Async.VM.hard_shutdown', outageMs } });
      h.sim.control.injectFault({ kind: 'api-error', method: 'VM.clean_shutdown', code: 'VM_LACKS_FEATURE', vm: 'fileserver' });
      try {
        const run = await planAndStart(h);
        let end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
        const stopId = end.steps.find((s) => s.kind === 'stop-vms')!.id;
        if (end.state === 'failed' && end.steps.find((s) => s.state === 'failed')!.id === stopId) {
          while (h.clock.now() < h.ctl.downUntil) await new Promise((r) => setTimeout(r, 20));
          expect((await h.core.recover(run.id, { action: 'retry', stepId: stopId }, APPROVER)).ok).toBe(true);
          end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
        }
        expect({ state: end.state, outcome: end.state === 'done' ? undefined : end.outcome }).toEqual({ state: 'done', outcome: undefined });
        expect(h.sim.stats().calls['Async.VM.hard_shutdown']).toBe(1);
        const recs = Object.values(stoppedRecords(end, stopId)).map((v) => `${v.name}:${v.action}:${v.stopped}:${v.issued === undefined}`).sort();
        expect(recs).toEqual(['fileserver:shutdown:true:true', 'printserver:shutdown:true:true']);
        expect(end.endAudit!.counts).toMatchObject({ stopped: 2, restarted: 2 });
      } finally {
        await h.close();
      }
    });
  }
});
