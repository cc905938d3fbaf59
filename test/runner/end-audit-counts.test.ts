/**
 * The end of a run says what happened, truthfully:
 * (a) the counts line: a VM the run stopped and brought back Paused (it was Paused before the run; R3.7/R6.2
 *     start_paused) is back as before, not "missing" from "running again"; one someone else changed after the stop is
 *     said as left as found; an audit stored by an older version (no new counts) reads as before.
 * (b) the R5.1 Tools gate at the end sees the build: a host on the target's product but another build is behind in the
 *     audit, so the summary refuses Tools advice and names product and build.
 * (c) a VM that ran before, that the run never stopped, and Paused now is said to be Paused, not "stopped".
 */
import type { EndAudit, PoolSnapshot, PowerState, Run } from '../../src/domain/types';
import { auditEnd } from '../../src/runner/end-audit';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { toolsAdviceGate } from '../../src/tools/checklist';
import { PoolBuilder } from '../planner/builder';
import { makeRun as makeSlackRun, poolConfig, withSteps } from '../slack/helpers/fixtures';
import { pool, runWithStops } from './paused-vms-fixture';

const summary = (run: Run) => JSON.stringify(runEndMessages(run, poolConfig(), { toolsFollowUp: true }).summary.blocks);

// ---- (a) and (c): a two-host pool, app Running and held Paused on h2 before the run, other Running on h1 ----

function endedWith(power: { app: PowerState; held: PowerState; other?: PowerState }): Run {
  const run = runWithStops(true);
  return { ...run, endAudit: auditEnd({ run, snapshot: pool('7.6.0', { other: 'Running', ...power }), now: 1 }) };
}

describe('the end counts: VMs the run stopped, and how they are now', () => {
  it('one back Running and one back Paused, as before the run: both counted back as before', () => {
    const run = endedWith({ app: 'Running', held: 'Paused' });
    expect(run.endAudit!.counts).toEqual({ migrated: 0, stopped: 2, restarted: 1, backPaused: 1 });
    const text = summary(run);
    expect(text).toContain('2 VMs stopped by the run, 2 back as before (1 running, 1 paused)');
    expect(text).not.toMatch(/1 running again/);
  });

  it('app Paused by someone after the stop (left as found), held back Paused: said so, not as "running again"', () => {
    const run = endedWith({ app: 'Paused', held: 'Paused' });
    expect(run.endAudit!.counts).toEqual({ migrated: 0, stopped: 2, restarted: 0, backPaused: 1 });
    expect(summary(run)).toContain('2 VMs stopped by the run, 1 back as before (1 paused), 1 left as found');
  });

  it('held left suspended: only the one running again is counted, the other is in the leftovers', () => {
    const run = endedWith({ app: 'Running', held: 'Suspended' });
    expect(run.endAudit!.counts).toEqual({ migrated: 0, stopped: 2, restarted: 1 });
    const text = summary(run);
    expect(text).toContain('2 VMs stopped by the run, 1 running again');
    expect(text).toMatch(/held \(Suspended\): suspended by this run for h2 and not brought back/);
  });

  it('an audit stored by an older version (no backPaused) reads as before', () => {
    const run = endedWith({ app: 'Running', held: 'Paused' });
    const old: EndAudit = { ...run.endAudit!, counts: { migrated: 0, stopped: 2, restarted: 1 } };
    expect(summary({ ...run, endAudit: old })).toContain('2 VMs stopped by the run, 1 running again');
  });

  it('the pool did not answer at the end: no count of VMs running again is made up', () => {
    const run = runWithStops(true);
    const ended = { ...run, endAudit: auditEnd({ run, readError: 'connect ECONNREFUSED', now: 1 }) };
    const text = summary(ended);
    expect(text).toContain('2 VMs stopped by the run (the pool was not read at the end)');
    expect(text).not.toMatch(/running again/);
  });
});

describe('a VM that ran before, never stopped by the run', () => {
  it('Paused now: said to be Paused, and that the run did not pause it; never "stopped"', () => {
    const run = endedWith({ app: 'Running', held: 'Paused', other: 'Paused' });
    const vm = run.endAudit!.vms.find((v) => v.name === 'other')!;
    expect(vm).toMatchObject({ cause: 'outside', now: 'Paused' });
    expect(vm.why).toBe('the pool shows it Paused (it ran on h1); this run did not pause it (the bot never pauses a VM): the bot concludes someone else did, presumably on purpose');
    expect(vm.why).not.toMatch(/stopped/);
  });

  it('Halted now: still said to be stopped from outside the bot', () => {
    const run = endedWith({ app: 'Running', held: 'Paused', other: 'Halted' });
    expect(run.endAudit!.vms.find((v) => v.name === 'other')!.why).toBe('the pool shows it Halted (it ran on h1); this run never stopped it: it was stopped from outside the bot');
  });
});

// ---- (b): pool-a, every host planned from 7.1.1 to 7.6.0 build 'target-b' ----

const END = Date.UTC(2026, 10, 25, 5, 0);

function poolAtEnd(a3Build: string): PoolSnapshot {
  const s = new PoolBuilder('pool-a').host('xs-a1', { master: true, version: '7.6.0' }).host('xs-a2', { version: '7.6.0' }).host('xs-a3', { version: '7.6.0' }).build();
  for (const h of s.hosts) {
    h.ref = `OpaqueRef:${h.name}`;
    h.version.build = h.name === 'xs-a3' ? a3Build : 'target-b';
  }
  return s;
}

function doneRun(endAudit: (run: Run) => EndAudit): Run {
  const run = withSteps(makeSlackRun(), { 'xs-a1:*': { state: 'done' }, 'xs-a2:*': { state: 'done' }, 'xs-a3:*': { state: 'done' }, 'pool-prep': { state: 'done' }, 'pool-finish': { state: 'done' } });
  for (const h of run.plan.hosts) h.to = { ...h.to, build: 'target-b' };
  const done: Run = { ...run, state: 'done', endedAt: END };
  return { ...done, endAudit: endAudit(done) };
}

const REFUSAL = 'Do not upgrade XenServer Tools yet: Tools advice waits until every host runs 7.6 (R5.3): ';

describe('the R5.1 Tools gate at the end of a run sees the build', () => {
  it('a host on 7.6.0 but another build than the target\'s, the only one behind: refused, naming product and build', () => {
    const run = doneRun((r) => auditEnd({ run: r, snapshot: poolAtEnd('other-b'), now: END }));
    expect(run.endAudit!.behind).toEqual(['xs-a3']);
    expect(run.endAudit!.hosts).toEqual([expect.objectContaining({ name: 'xs-a3', version: '7.6.0', build: 'other-b' })]);
    const text = summary(run);
    expect(text).toContain(`${REFUSAL}xs-a3 runs 7.6.0 build other-b, not the target's build target-b (read at the end of the run) (R5.2).`);
    expect(text).not.toMatch(/Next \(R5\.1\)/);
  });

  it('every host on the target\'s build: Tools advice as before', () => {
    const run = doneRun((r) => auditEnd({ run: r, snapshot: poolAtEnd('target-b'), now: END }));
    expect(run.endAudit!.behind).toEqual([]);
    const text = summary(run);
    expect(text).toContain('Next (R5.1): upgrade XenServer Tools in 2 VMs');
    expect(text).not.toMatch(/Do not upgrade/);
  });

  it('an audit stored by an older version (no observed build): refused all the same, without a build it did not record', () => {
    const run = doneRun((r) => auditEnd({ run: r, snapshot: poolAtEnd('other-b'), now: END }));
    const old: EndAudit = { ...run.endAudit!, hosts: run.endAudit!.hosts.map(({ build: _build, ...h }) => h) };
    expect(summary({ ...run, endAudit: old })).toContain(`${REFUSAL}xs-a3 runs 7.6.0, not the target's build target-b (read at the end of the run) (R5.2).`);
  });

  it('the gate on hosts read live without a wanted build (the follow-up, pool-finish) is unchanged: the product decides', () => {
    expect(toolsAdviceGate([{ name: 'xs-a3', product: '7.6.0', build: 'other-b' }], { product: '7.6.0' })).toEqual({ ok: true });
  });
});
