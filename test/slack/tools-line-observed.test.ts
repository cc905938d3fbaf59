/**
 * The end-of-run summary's R5.1 Tools refusal says what the end audit observed of each host behind the target (its
 * version read from the live pool, or that it left the pool), never the plan's version before the run as if seen now.
 */
import type { EndAudit, PoolSnapshot, Run } from '../../src/domain/types';
import { auditEnd } from '../../src/runner/end-audit';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { toolsAdviceGate } from '../../src/tools/checklist';
import { PoolBuilder } from '../planner/builder';
import { makeRun, poolConfig, withSteps } from './helpers/fixtures';

const END = Date.UTC(2026, 10, 25, 5, 0);

/** pool-a at the end: xs-a1 and xs-a2 on 7.6.0, xs-a3 on `a3` (refs as the plan's, `OpaqueRef:<name>`). */
function poolAtEnd(a3: string, edit: (s: PoolSnapshot) => void = () => undefined): PoolSnapshot {
  const s = new PoolBuilder('pool-a').host('xs-a1', { master: true, version: '7.6.0' }).host('xs-a2', { version: '7.6.0' }).host('xs-a3', { version: a3 }).build();
  for (const h of s.hosts) h.ref = `OpaqueRef:${h.name}`;
  edit(s);
  return s;
}

/** The run done (its plan: every host from 7.1.1 to 7.6.0, Tools for 2 VMs), with `endAudit` as given or audited. */
function doneRun(endAudit: (run: Run) => EndAudit): Run {
  const run = withSteps(makeRun(), { 'xs-a1:*': { state: 'done' }, 'xs-a2:*': { state: 'done' }, 'xs-a3:*': { state: 'done' }, 'pool-prep': { state: 'done' }, 'pool-finish': { state: 'done' } });
  const done: Run = { ...run, state: 'done', endedAt: END };
  return { ...done, endAudit: endAudit(done) };
}

const audited = (snapshot: PoolSnapshot) => doneRun((run) => auditEnd({ run, snapshot, now: END }));
const summary = (run: Run) => JSON.stringify(runEndMessages(run, poolConfig(), { toolsFollowUp: true }).summary.blocks);
const REFUSAL = 'Do not upgrade XenServer Tools yet: Tools advice waits until every host runs 7.6 (R5.3): ';

describe('the R5.1 Tools refusal at the end of a run says what the end audit observed', () => {
  it('a host behind: its version as read at the end (7.1.2), not the plan\'s 7.1.1 from before the run', () => {
    const run = audited(poolAtEnd('7.1.2'));
    expect(run.endAudit!.hosts).toEqual([expect.objectContaining({ name: 'xs-a3', ref: 'OpaqueRef:xs-a3', version: '7.1.2' })]);
    const text = summary(run);
    expect(text).toContain(`${REFUSAL}xs-a3 runs 7.1.2 (read at the end of the run) (R5.2).`);
    expect(text).not.toMatch(/still runs/);
  });

  it('a host that has left the pool is said to have left, with no version', () => {
    const run = audited(poolAtEnd('7.6.0', (s) => (s.hosts = s.hosts.filter((h) => h.name !== 'xs-a3'))));
    expect(run.endAudit!.hosts).toEqual([{ name: 'xs-a3', detail: 'no longer a member of the pool', ref: 'OpaqueRef:xs-a3' }]);
    const text = summary(run);
    expect(text).toContain(`${REFUSAL}xs-a3 has left the pool (R5.2).`);
    expect(text).not.toMatch(/still runs|runs 7\.1\.1/);
  });

  it('a host renamed in the pool and left behind is found by its ref: the refusal names it (by its live name)', () => {
    const run = audited(poolAtEnd('7.1.1', (s) => (s.hosts.find((h) => h.name === 'xs-a3')!.name = 'xs-a3-rack2')));
    expect(run.endAudit!.behind).toEqual(['xs-a3-rack2']);
    const text = summary(run);
    expect(text).not.toMatch(/Next \(R5\.1\)/);
    expect(text).toContain(`${REFUSAL}xs-a3-rack2 runs 7.1.1 (read at the end of the run) (R5.2).`);
  });

  it('an audit stored by an older version (no observed version): worded as not read, with the plan\'s version before the run', () => {
    const old = doneRun(() => ({
      at: END,
      allOnTarget: false,
      behind: ['xs-a3'],
      hosts: [{ name: 'xs-a3', detail: 'on 7.1.2, not 7.6.0' }],
      vms: [],
      ha: { before: false, now: false, disabledByRun: false },
      backup: { usable: false, why: 'no backup was taken by this run' },
      counts: { migrated: 0, stopped: 0, restarted: 0 },
      leftovers: ['xs-a3: on 7.1.2, not 7.6.0'],
      changed: [],
    }));
    expect(summary(old)).toContain(`${REFUSAL}xs-a3 was not read at the end; by the plan it ran 7.1.1 before the run (R5.2).`);
  });

  it('the pool did not answer at the end: no host is said to run anything now', () => {
    const run = doneRun((r) => auditEnd({ run: r, readError: 'connect ECONNREFUSED', now: END }));
    const text = summary(run);
    expect(text).toContain(`${REFUSAL}xs-a1 was not read at the end; by the plan it ran 7.1.1 before the run, xs-a2 was not read`);
    expect(text).not.toMatch(/still runs|\(read at the end of the run\)/);
  });

  it('the gate counts a host that left the pool as behind, whatever version it had, and keeps "still runs" for a live read', () => {
    expect(toolsAdviceGate([{ name: 'a', product: '7.6.0', seen: 'left-pool' }], { product: '7.6.0' })).toMatchObject({ ok: false, behind: [{ name: 'a' }] });
    expect(toolsAdviceGate([{ name: 'b', product: '7.1.1' }], { product: '7.6.0' })).toMatchObject({ ok: false, reason: expect.stringMatching(/: b still runs 7\.1\.1$/) });
  });
});
