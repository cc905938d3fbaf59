/**
 * The run header's HA words (R2.4) say what the bot observed, never what the plan expected: pool-prep's record
 * (src/runner/steps/pool-prep.ts: `ha.wasEnabled`, saved BEFORE pool.disable_ha is called) and, once the run has
 * ended, the end audit of the live pool.
 */
import type { EndAudit, Run, RunState, StepRecord } from '../../src/domain/types';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { makeRun, poolConfig, withSteps } from './helpers/fixtures';
import { outsideClient, planAndStart, startHarness, waitForRun, type Harness } from '../runner/sim-harness';

const header = (run: Run) => JSON.stringify(runHeaderMessage(run, poolConfig()).blocks);

/** what pool-prep saves: `wasEnabled` true before it disables HA, false when it found HA off */
const prep = (state: StepRecord['state'], wasEnabled?: boolean): Partial<StepRecord> => ({
  state,
  ...(wasEnabled === undefined ? {} : { data: { ha: { wasEnabled, heartbeatSrs: [], configuration: {} } } }),
});

function runWith(state: RunState, steps: Record<string, Partial<StepRecord>>, endAudit?: EndAudit): Run {
  const run = withSteps(makeRun({ state }), { backup: { state: 'done' }, ...steps });
  const ended = state === 'done' || state === 'aborted' || state === 'rolled-back';
  return { ...run, ...(ended ? { endedAt: run.createdAt + 600_000 } : {}), ...(endAudit ? { endAudit } : {}) };
}

function audit(ha: EndAudit['ha']): EndAudit {
  return {
    at: Date.UTC(2026, 10, 25, 5, 0),
    allOnTarget: false,
    behind: ['xs-a1', 'xs-a2', 'xs-a3'],
    hosts: [],
    vms: [],
    ha,
    backup: { usable: true, path: '/b/pool-a.xml', why: '' },
    counts: { migrated: 0, stopped: 0, restarted: 0 },
    leftovers: [],
    changed: [],
  };
}

describe('run header HA line: pool-prep found HA already off (wasEnabled false)', () => {
  it('running, pool-prep done: says HA was already off, not "has not finished disabling it"', () => {
    const text = header(runWith('running', { 'pool-prep': prep('done', false), 'xs-a1:disable': { state: 'running' } }));
    expect(text).not.toMatch(/has not finished disabling/);
    expect(text).toMatch(/HA was already off when pool preparation ran; nothing to re-enable \(R2\.4\)/);
  });

  it('aborted with no end audit yet: the same fact, not a promise', () => {
    const text = header(runWith('aborted', { 'pool-prep': prep('done', false) }));
    expect(text).toMatch(/HA was already off when pool preparation ran; nothing to re-enable/);
    expect(text).not.toMatch(/HA was disabled by this run|has not finished disabling/);
  });

  it('ended with the end audit (HA off before and after): the header still says why nothing is re-enabled', () => {
    const text = header(runWith('aborted', { 'pool-prep': prep('done', false) }, audit({ before: false, now: false, disabledByRun: false })));
    expect(text).toMatch(/HA off, as before the run; nothing to re-enable \(R2\.4\)/);
    expect(text).not.toMatch(/not re-enabled|disabled by this run/);
  });

  it('real path: HA turned off from outside after start, before pool-prep: pool-prep records wasEnabled false and the header says so', async () => {
    // a plan made with HA off has no disable-ha (and start refuses a plan the pool no longer matches): the window is
    // between start and pool-prep (the backup step)
    let h: Harness | undefined;
    const checkpoint = async (label: string) => {
      if (label !== 'before:pool-prep' || !h) return;
      const outside = await outsideClient(h);
      await outside.call('pool.disable_ha', []);
      await outside.logout();
    };
    h = await startHarness('manifests/demo/pool-a.yaml', 'automatic', { autoApprove: false, checkpoint });
    try {
      expect(h.sim.inspect().pool.haEnabled).toBe(true);
      const run = await planAndStart(h);
      expect(run.plan.steps.some((s) => s.fixes?.some((f) => f.kind === 'disable-ha'))).toBe(true);
      const waiting = await waitForRun(h.store, run.id, ['awaiting-approval', 'failed']);
      expect(h.sim.inspect().pool.haEnabled).toBe(false);
      const prepStep = waiting.steps.find((s) => s.kind === 'pool-prep')!;
      expect(prepStep.state).toBe('done');
      expect((prepStep.data?.ha as { wasEnabled: boolean }).wasEnabled).toBe(false);
      const text = JSON.stringify(runHeaderMessage(waiting, h.pool).blocks);
      expect(text).not.toMatch(/has not finished disabling|HA disabled for the run/);
      expect(text).toMatch(/HA was already off when pool preparation ran; nothing to re-enable/);
    } finally {
      await h.close();
    }
  });
});

describe('run header HA line: a run that stopped before or during pool preparation', () => {
  it.each(['aborted', 'done', 'rolled-back'] as const)('%s before pool-prep ran (no end audit yet): no future tense', (state) => {
    const text = header(runWith(state, { 'pool-prep': prep('pending') }));
    expect(text).not.toMatch(/the run disables it before the first host/);
    expect(text).toMatch(/HA: not disabled, the run ended before pool preparation \(R2\.4\)/);
  });

  it('failed before pool-prep (recovery needed): not "disables it before the first host"', () => {
    const text = header(runWith('failed', { backup: { state: 'failed' }, 'pool-prep': prep('pending') }));
    expect(text).not.toMatch(/the run disables it before the first host/);
    expect(text).toMatch(/HA: not disabled yet, the run failed before pool preparation \(R2\.4\)/);
  });

  it('aborted while pool-prep was disabling HA (no end audit yet): not "has not finished", and HA may still be on', () => {
    const text = header(runWith('aborted', { 'pool-prep': prep('failed', true) }));
    expect(text).not.toMatch(/has not finished disabling/);
    expect(text).toMatch(/HA: pool preparation did not finish disabling it; it may still be on \(R2\.4\)/);
  });

  it('failed at pool-prep after it recorded HA on (pool.disable_ha refused): HA may still be on', () => {
    const text = header(runWith('failed', { 'pool-prep': prep('failed', true) }));
    expect(text).not.toMatch(/HA disabled|has not finished disabling/);
    expect(text).toMatch(/HA: pool preparation did not finish disabling it; it may still be on \(R2\.4\)/);
  });

  it('aborted, pool-prep failed before it read HA: HA was not touched', () => {
    const text = header(runWith('aborted', { 'pool-prep': prep('failed') }));
    expect(text).toMatch(/HA: not disabled, the run ended before pool preparation reached it \(R2\.4\)/);
  });
});

describe('run header HA line: the end audit against what pool-prep did', () => {
  it('pool.disable_ha refused, then aborted: the audit shows HA on; the header never says "HA re-enabled"', () => {
    // end-audit.ts: disabledByRun = wasEnabled, which pool-prep saves before it calls pool.disable_ha
    const text = header(runWith('aborted', { 'pool-prep': prep('failed', true) }, audit({ before: true, now: true, disabledByRun: true })));
    expect(text).not.toMatch(/HA re-enabled/);
  });

  it('pool.disable_ha refused, then aborted, pool unreadable at the end: not "HA was disabled by this run"', () => {
    const text = header(runWith('aborted', { 'pool-prep': prep('failed', true) }, { ...audit({ before: true, now: null, disabledByRun: true }), unreadable: 'ECONNREFUSED' }));
    expect(text).not.toMatch(/HA was disabled by this run/);
    expect(text).toMatch(/HA: pool preparation did not finish disabling it; its state at the end is unknown \(the pool did not answer\)/);
  });

  // what stays as it was
  it('pool-prep disabled HA and the audit shows it on again: "HA re-enabled"', () => {
    const all = { 'pool-prep': prep('done', true), 'xs-a1:*': { state: 'done' as const }, 'xs-a2:*': { state: 'done' as const }, 'xs-a3:*': { state: 'done' as const }, 'pool-finish': { state: 'done' as const } };
    expect(header(runWith('done', all, { ...audit({ before: true, now: true, disabledByRun: true }), allOnTarget: true, behind: [] }))).toMatch(/HA re-enabled/);
  });

  it('pool-prep disabled HA, aborted, audit shows HA off: "HA off: not re-enabled"', () => {
    expect(header(runWith('aborted', { 'pool-prep': prep('done', true) }, audit({ before: true, now: false, disabledByRun: true })))).toMatch(/HA off: not re-enabled \(R2\.4\)/);
  });

  it('pool-prep disabled HA, pool unreadable at the end: HA was disabled by this run, state unknown', () => {
    const text = header(runWith('aborted', { 'pool-prep': prep('done', true) }, { ...audit({ before: true, now: null, disabledByRun: true }), unreadable: 'ECONNREFUSED' }));
    expect(text).toMatch(/HA was disabled by this run; its state at the end is unknown \(the pool did not answer\)/);
  });
});

describe('run header HA line while the run goes on (unchanged)', () => {
  it('pool-prep pending: the run disables it before the first host', () => {
    expect(header(runWith('running', { backup: { state: 'running' }, 'pool-prep': prep('pending') }))).toMatch(/HA: the run disables it before the first host \(R2\.4\)/);
  });
  it('pool-prep running after recording HA on: not finished disabling', () => {
    expect(header(runWith('running', { 'pool-prep': prep('running', true) }))).toMatch(/HA: the run has not finished disabling it \(R2\.4\)/);
  });
  it('pool-prep done after disabling HA: disabled for the run', () => {
    expect(header(runWith('awaiting-approval', { 'pool-prep': prep('done', true) }))).toMatch(/HA disabled for the run \(re-enabled at the end once every host is on the target\)/);
  });
});
