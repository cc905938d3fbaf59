/** The run's summary after a lost answer settled as stopped by the engine's re-run. */
import { planAndStart, waitForRun } from './sim-harness';
import { startFlaky, stoppedRecords } from './flaky-pool';

jest.setTimeout(90_000);

it('a short outage after the second shutdown\'s lost answer: end audit counts 2 stopped / 2 restarted, and the step note says 2 VMs were shut down', async () => {
  let n = 0;
  const h = await startFlaky('manifests/demo/standalone.yaml', { ctl: { loseAnswer: (m) => m === 'Async.VM.clean_shutdown' && ++n === 2, outageMs: 60_000 } });
  try {
    const run = await planAndStart(h);
    const end = await waitForRun(h.store, run.id, ['done', 'failed', 'aborted'], 60_000);
    expect({ state: end.state, outcome: end.state === 'done' ? undefined : end.outcome }).toEqual({ state: 'done', outcome: undefined });
    const stop = end.steps.find((s) => s.kind === 'stop-vms')!;
    expect(stop.attempts).toBe(1);
    expect(Object.values(stoppedRecords(end, stop.id)).map((v) => `${v.name}:${v.stopped}`).sort()).toEqual(['fileserver:true', 'printserver:true']);
    expect(h.sim.stats().calls['Async.VM.clean_shutdown']).toBe(2);
    expect(end.endAudit!.counts).toMatchObject({ stopped: 2, restarted: 2 });
    const restore = end.steps.find((s) => s.kind === 'restore-vms')!;
    expect(restore.data?.note).toMatch(/^2 VM\(s\) restored/);
    // the step's own summary (audit "stop-vms done: …", the run's step list): what the step did in all
    expect(stop.data?.note).toMatch(/^2 VM\(s\) on xs-solo suspended or shut down/);
  } finally {
    await h.close();
  }
});
