/**
 * The header's pool line says which hosts are on the target. At the end of a run it follows the end audit of the live
 * pool (issue 11), as the end summary does, so the two messages agree; before, a host the run saw back on the target
 * (its wait-host done) counts as on the target even when a later step of it failed.
 */
import type { EndAudit, Run } from '../../src/domain/types';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { makeRun, poolConfig, withSteps } from './helpers/fixtures';

const textOf = (blocks: unknown[] | undefined) => JSON.stringify(blocks ?? []);

// what auditEnd (src/runner/end-audit.ts) returns when a planned host is missing from the live pool at the end
const audit: EndAudit = {
  at: Date.UTC(2026, 10, 25, 5, 0),
  allOnTarget: false,
  behind: ['xs-a3'],
  hosts: [{ name: 'xs-a3', detail: 'no longer a member of the pool' }],
  vms: [],
  ha: { before: false, now: false, disabledByRun: false },
  backup: { usable: true, path: '/b/pool-a.xml', why: '' },
  counts: { migrated: 4, stopped: 0, restarted: 0 },
  leftovers: ['xs-a3: no longer a member of the pool'],
  changed: ['xs-a3 is no longer a member of the pool'],
};

function doneRun(endAudit: EndAudit): Run {
  const run = withSteps(makeRun(), { 'xs-a1:*': { state: 'done' }, 'xs-a2:*': { state: 'done' }, 'xs-a3:*': { state: 'done' }, 'pool-prep': { state: 'done' }, 'pool-finish': { state: 'done' } });
  const outcome = endAudit.leftovers.length ? `done with exceptions: ${endAudit.leftovers.join('; ')}` : 'done';
  return { ...run, state: 'done', endedAt: run.createdAt + 3_600_000, endAudit, outcome };
}

describe('header pool line at the end of a run: the end audit of the live pool', () => {
  it('a host the live pool shows behind: the header says 2/3 and mixed mode, as the end summary, never "every host on 7.6.0"', () => {
    const run = doneRun(audit);
    const end = textOf(runEndMessages(run, poolConfig(), { toolsFollowUp: true }).summary.blocks);
    expect(end).toMatch(/2\/3 hosts of \*pool-a\* on 7\.6\.0/);
    expect(end).toMatch(/mixed mode \(R3\.5\): xs-a3 not on 7\.6\.0/);
    const header = textOf(runHeaderMessage(run, poolConfig()).blocks);
    expect(header).not.toMatch(/every host on 7\.6\.0/);
    expect(header).toMatch(/Pool at the end: mixed mode \(R3\.5\): 2\/3 hosts on 7\.6\.0; not on it: xs-a3/);
  });

  it('every host on the target in the live pool: the header says so', () => {
    const header = textOf(runHeaderMessage(doneRun({ ...audit, allOnTarget: true, behind: [], hosts: [], leftovers: [], changed: [] }), poolConfig()).blocks);
    expect(header).toMatch(/Pool at the end: every host on 7\.6\.0/);
  });

  it('the pool did not answer at the end: the header does not guess from the records', () => {
    const unread: EndAudit = { ...audit, unreadable: 'ECONNREFUSED', behind: ['xs-a1', 'xs-a2', 'xs-a3'], hosts: [], leftovers: ['the pool did not answer at the end (ECONNREFUSED)'] };
    const header = textOf(runHeaderMessage(doneRun(unread), poolConfig()).blocks);
    expect(header).toMatch(/Pool at the end: not checked, the pool did not answer/);
    expect(header).not.toMatch(/every host on 7\.6\.0/);
  });
});

describe('header pool line while a host that came back has failed a later step', () => {
  it('xs-a2 seen back on 7.6.0 (wait-host done), its enable failed: counted on the target, and its line says when it came back', () => {
    const run = withSteps(makeRun({ state: 'failed' }), {
      'xs-a1:*': { state: 'done' },
      'xs-a2:disable': { state: 'done' },
      'xs-a2:evacuate': { state: 'done' },
      'xs-a2:approval': { state: 'done' },
      'xs-a2:stop-vms': { state: 'done' },
      'xs-a2:upgrade': { state: 'done' },
      'xs-a2:wait-host': { state: 'done', endedAt: Date.UTC(2026, 10, 25, 3, 0) },
      'xs-a2:enable': { state: 'failed', attempts: 1, error: { message: 'PBD.plug failed on xs-a2: SR_BACKEND_FAILURE_47' } },
    });
    const header = textOf(runHeaderMessage(run, poolConfig()).blocks);
    expect(header).not.toMatch(/1 on 7\.6\.0, 2 behind/);
    expect(header).toMatch(/2 on 7\.6\.0, 1 behind/);
    expect(header).toMatch(/`xs-a2` ❌ 7\.6\.0 back <!date\^\d+\^\{time\}\|03:00 UTC> · failed while enabling the host/);
  });
});
