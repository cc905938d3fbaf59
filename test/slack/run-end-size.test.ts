/**
 * The end-of-run summary of a bad day on a large pool stays within Slack's size for one message. A host that lost
 * power with 50 VMs on it, or an abort half-way through 64 hosts, gives the audit one line per VM and per host: past
 * MAX_CHARS Slack refuses the message (msg_blocks_too_long) and the outbox falls back to its one-line text, so the
 * operator would read "aborted" and nothing of what is left down. Every line must reach the thread, and the summary
 * must say where the rest is.
 */
import type { EndAudit, Run } from '../../src/domain/types';
import { MAX_CHARS, messageChars } from '../../src/slack/blocks/common';
import { runEndMessages } from '../../src/slack/blocks/run-end';
import { makeRun, poolConfig, withSteps } from './helpers/fixtures';

const allText = (m: { text: string; blocks?: unknown[] }) => JSON.stringify(m.blocks ?? []);

function badDay(vmCount: number, state: 'done' | 'aborted'): Run {
  const vms = Array.from({ length: vmCount }, (_, i) => ({
    name: `db-${String(i).padStart(3, '0')}`,
    cause: 'host-restarted' as const,
    now: 'Halted',
    why: 'it was on xs-a3, which restarted during the run without the bot rebooting it (its boot_time changed): the bot concludes xs-a3 lost power or was restarted from outside',
  }));
  const lines = vms.map((v) => `${v.name} (${v.now}): ${v.why}`);
  const audit: EndAudit = {
    at: Date.UTC(2026, 10, 25, 5, 0),
    allOnTarget: false,
    behind: ['xs-a3'],
    hosts: [{ name: 'xs-a3', detail: 'not live, on 7.1.1, not 7.6.0' }],
    vms,
    ha: { before: false, now: false, disabledByRun: false },
    // the run's backup step is not done (pending in the fixture), so the audit says what it would: no backup taken
    backup: { usable: false, why: 'no backup was taken by this run' },
    counts: { migrated: 40, stopped: 0, restarted: 0 },
    leftovers: ['xs-a3: not live, on 7.1.1, not 7.6.0', ...lines],
    changed: ['xs-a3 not live', ...vms.map((v) => `${v.name} ${v.now}: ${v.why}`)],
  };
  const run = withSteps(makeRun(), { 'xs-a1:*': { state: 'done' }, 'xs-a2:*': { state: 'done' } });
  return { ...run, state, endedAt: run.createdAt + 3_600_000, endAudit: audit, outcome: `${state}: see the summary` };
}

describe('end-of-run summary of a large bad day (Slack size limits)', () => {
  it.each(['done', 'aborted'] as const)('%s with 200 VMs down: the summary fits, and every VM is named in the thread', (state) => {
    const run = badDay(200, state);
    const { summary, threadMessages } = runEndMessages(run, poolConfig(), { toolsFollowUp: true });
    expect(messageChars(summary)).toBeLessThanOrEqual(MAX_CHARS);
    expect(summary.blocks!.length).toBeLessThanOrEqual(50);
    for (const m of threadMessages) {
      expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
      expect(m.blocks!.length).toBeLessThanOrEqual(50);
    }
    // the summary names the first ones and says how many more, and where
    const head = allText(summary);
    expect(head).toContain('db-000');
    expect(head).toMatch(/… and \d+ more \(listed in the next messages? of this thread\)/);
    // every VM is named once, in the summary or in the thread
    const everything = [summary, ...threadMessages].map(allText).join('\n');
    for (let i = 0; i < 200; i++) expect(everything).toContain(`db-${String(i).padStart(3, '0')}`);
    expect(threadMessages.length).toBeGreaterThan(0);
    // what the header and the counts say stays in the summary
    expect(head).toMatch(state === 'done' ? /done with exceptions/ : /aborted/);
    expect(head).toMatch(/40 live migrations/);
  });

  it('a few VMs down: all in the summary, nothing in the thread', () => {
    const { summary, threadMessages } = runEndMessages(badDay(3, 'done'), poolConfig(), { toolsFollowUp: true });
    expect(threadMessages).toEqual([]);
    const head = allText(summary);
    for (const name of ['db-000', 'db-001', 'db-002']) expect(head).toContain(name);
    expect(head).not.toMatch(/more \(listed/);
  });

  it('a Restore that started hundreds of VMs: the first ones named, and how many more', () => {
    const run: Run = {
      ...badDay(3, 'aborted'),
      restore: { by: 'U0APPROVER', at: Date.UTC(2026, 10, 25, 6, 0), state: 'partial', did: Array.from({ length: 400 }, (_, i) => `started web-${i} on xs-a1`), left: ['db-007: VM_REQUIRES_SR'] },
    };
    const head = allText(runEndMessages(run, poolConfig(), { toolsFollowUp: true }).summary);
    expect(head).toMatch(/\*Restore\* by <@U0APPROVER> \(partial\): started web-0 on xs-a1; .*started web-11 on xs-a1; … and 388 more — could not: db-007: VM_REQUIRES_SR/);
    expect(head).not.toContain('web-12 ');
  });

  it('hotfixes missing on 64 hosts besides 200 VMs down: the text is cut to fit, and says where the rest is', () => {
    const base = badDay(200, 'done');
    const updates = Array.from({ length: 64 }, (_, h) => ({ name: `xs-b${h}`, has: [], missing: Array.from({ length: 30 }, (_, u) => `XS76E${String(u).padStart(3, '0')}`), skipped: [] }));
    const run: Run = { ...base, endAudit: { ...base.endAudit!, updates } };
    const { summary, threadMessages } = runEndMessages(run, poolConfig(), { toolsFollowUp: true });
    expect(messageChars(summary)).toBeLessThanOrEqual(MAX_CHARS);
    expect(summary.blocks!.length).toBeLessThanOrEqual(50);
    const head = allText(summary);
    expect(head).toMatch(/done with exceptions/);
    expect(head).toContain("Cut to fit one Slack message: `xsupgrade status pool-a-20261125-1` shows the run's outcome and every step.");
    // the audit's list is still all there, in the summary or the thread
    const everything = [summary, ...threadMessages].map(allText).join('\n');
    for (let i = 0; i < 200; i++) expect(everything).toContain(`db-${String(i).padStart(3, '0')}`);
  });
});
