/**
 * The end-of-run messages say what the bot observed, and never drop part of it silently:
 * - the run's report (an abort's state of every host and VM, src/runner/report.ts) is longer than the summary keeps
 *   on a large pool: the summary must say it was cut, and the rest must reach the thread;
 * - the header of a pool of more than 40 hosts counts the hosts beyond its list on the target: at the end of a run
 *   that count comes from the end audit of the live pool (issue 11), as the end summary's does, not from the records.
 */
import type { EndAudit, Run } from '../../src/domain/types';
import { MAX_CHARS, messageChars } from '../../src/slack/blocks/common';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { makePlan, makeRun, poolConfig, withSteps } from './helpers/fixtures';

const allText = (m: { blocks?: unknown[] }) => JSON.stringify(m.blocks ?? []);

const cleanAudit: EndAudit = {
  at: Date.UTC(2026, 10, 25, 5, 0),
  allOnTarget: false,
  behind: ['xs-a3'],
  hosts: [],
  vms: [],
  ha: { before: false, now: false, disabledByRun: false },
  backup: { usable: true, path: '/b/pool-a.xml', why: '' },
  counts: { migrated: 4, stopped: 0, restarted: 0 },
  leftovers: [],
  changed: [],
};

/** An aborted run whose report has a line per VM (`vms` of them), as runReport writes for a large pool. */
function abortedWithReport(vms: number, audit: EndAudit = cleanAudit): Run {
  const report = [
    'steps: 20/26 done; stopped at xs-a3:upgrade (failed)',
    ...Array.from({ length: vms }, (_, i) => `VM vm-app-${String(i).padStart(3, '0')}: Running on xs-a${(i % 3) + 1} (it ran on xs-a${(i % 3) + 1} before the run)`),
    'pool: HA off; master xs-a1 on 7.6.0',
  ];
  const run = withSteps(makeRun(), { 'xs-a1:*': { state: 'done' }, 'xs-a2:*': { state: 'done' } });
  return { ...run, state: 'aborted', endedAt: run.createdAt + 3_600_000, endAudit: audit, outcome: [`aborted by <@U0MIKA>; nothing left changed`, ...report].join('\n') };
}

describe('end summary: the run report is never cut silently', () => {
  it('a report of 150 VMs: the summary says it is cut and where the rest is, and every line reaches the thread', () => {
    const { summary, threadMessages } = runEndMessages(abortedWithReport(150), poolConfig(), { toolsFollowUp: true });
    expect(messageChars(summary)).toBeLessThanOrEqual(MAX_CHARS);
    for (const m of threadMessages) {
      expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
      expect(m.blocks.length).toBeLessThanOrEqual(50);
    }
    const head = allText(summary);
    expect(head).toContain('vm-app-000');
    expect(head).toMatch(/The report is cut here: the rest follows in this thread as \*Report \(continued\)\*/);
    const everything = [summary, ...threadMessages].map(allText).join('\n');
    for (let i = 0; i < 150; i++) expect(everything).toContain(`vm-app-${String(i).padStart(3, '0')}`);
    expect(everything).toContain('pool: HA off; master xs-a1 on 7.6.0');
    expect(threadMessages.length).toBeGreaterThan(0);
  });

  it('a short report: all of it in the summary, nothing in the thread, no word of a cut', () => {
    const { summary, threadMessages } = runEndMessages(abortedWithReport(5), poolConfig(), { toolsFollowUp: true });
    expect(threadMessages).toEqual([]);
    const head = allText(summary);
    expect(head).toContain('vm-app-004');
    expect(head).toContain('pool: HA off; master xs-a1 on 7.6.0');
    expect(head).not.toMatch(/cut/);
  });

  it("a long list left changed and a long report: both reach the thread, the list's part first", () => {
    const changed = Array.from({ length: 200 }, (_, i) => `db-${String(i).padStart(3, '0')} Halted: it was on xs-a3, which restarted during the run without the bot rebooting it`);
    const { summary, threadMessages } = runEndMessages(abortedWithReport(150, { ...cleanAudit, changed }), poolConfig(), { toolsFollowUp: true });
    const everything = [summary, ...threadMessages].map(allText).join('\n');
    for (let i = 0; i < 200; i++) expect(everything).toContain(`db-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < 150; i++) expect(everything).toContain(`vm-app-${String(i).padStart(3, '0')}`);
    const firstReport = threadMessages.findIndex((m) => allText(m).includes('Report (continued)'));
    const lastList = threadMessages.map((m) => allText(m).includes('Still changed (continued)')).lastIndexOf(true);
    expect(lastList).toBeGreaterThanOrEqual(0);
    expect(firstReport).toBeGreaterThan(lastList);
  });
});

describe('run header of a pool of more than 40 hosts at the end of a run', () => {
  // 45 hosts with no steps: the run's records show each already on the target
  const base = makePlan();
  const hosts = Array.from({ length: 45 }, (_, i) => {
    const name = `xs-b${String(i + 1).padStart(2, '0')}`;
    return { ...base.hosts[1]!, host: `OpaqueRef:${name}`, name, isMaster: i === 0, stepIds: [] };
  });
  const plan = makePlan({ hosts, steps: base.steps.filter((s) => !s.host) });
  const names = hosts.map((h) => h.name);

  function ended(audit: EndAudit): Run {
    const run = makeRun({ plan });
    return { ...run, state: 'done', endedAt: run.createdAt + 3_600_000, endAudit: audit, outcome: 'done with exceptions' };
  }

  it('two of the hosts beyond the list are behind in the live pool: the count says 3 on the target, not 5', () => {
    const audit: EndAudit = {
      ...cleanAudit,
      behind: ['xs-b42', 'xs-b44'],
      hosts: [{ name: 'xs-b42', detail: 'on 7.1.1, not 7.6.0' }, { name: 'xs-b44', detail: 'on 7.1.1, not 7.6.0' }],
      leftovers: ['xs-b42: on 7.1.1, not 7.6.0', 'xs-b44: on 7.1.1, not 7.6.0'],
    };
    const header = allText(runHeaderMessage(ended(audit), poolConfig()));
    expect(header).toMatch(/… and 5 more hosts \(3 on 7\.6\.0 in the live pool at the end\)/);
    expect(header).not.toMatch(/5 on target/);
  });

  it('hosts renamed during the run and behind: found by the plan\'s ref, in the list and in the count beyond it', () => {
    const audit: EndAudit = {
      ...cleanAudit,
      behind: ['xs-b02-new', 'xs-b42-new'],
      hosts: [
        { name: 'xs-b02-new', ref: 'OpaqueRef:xs-b02', version: '7.1.1', detail: 'on 7.1.1, not 7.6.0' },
        { name: 'xs-b42-new', ref: 'OpaqueRef:xs-b42', version: '7.1.1', detail: 'on 7.1.1, not 7.6.0' },
      ],
    };
    const header = allText(runHeaderMessage(ended(audit), poolConfig()));
    expect(header).toMatch(/`xs-b02` ⚠️ at the end of the run: named xs-b02-new in the live pool; on 7\.1\.1, not 7\.6\.0/);
    expect(header).toMatch(/… and 5 more hosts \(4 on 7\.6\.0 in the live pool at the end\)/);
  });

  it('the pool did not answer at the end: the count is worded as the run\'s records, not as the live pool', () => {
    const audit: EndAudit = { ...cleanAudit, unreadable: 'ECONNREFUSED', behind: names, leftovers: ['the pool did not answer at the end (ECONNREFUSED)'] };
    const header = allText(runHeaderMessage(ended(audit), poolConfig()));
    expect(header).toMatch(/… and 5 more hosts \(5 on 7\.6\.0 by the run's records; the pool did not answer at the end\)/);
  });

  it('while the run runs (no end audit): the count is from the records, as before', () => {
    const run = makeRun({ plan });
    const header = allText(runHeaderMessage(run, poolConfig()));
    expect(header).toMatch(/… and 5 more hosts \(5 on target\)/);
  });
});
