/**
 * The approval gate says what approving does to the host, from the plan for that host (R3.10): a host already on the
 * target whose updates need only a toolstack restart, or no restart at all, is not shut down — its button and text
 * must not say so. The button's action id and value are the same for every gate (old buttons are handled as before).
 */
import type { KnownBlock } from '@slack/types';
import type { HostUpdatePlan, Plan, PlanStep, Run } from '../../src/domain/types';
import { approvalDecidedMessage, approvalMessage } from '../../src/slack/blocks/approval';
import { ACTION, encodeButtonValue } from '../../src/slack/blocks/ids';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { makePlan, makeRun, poolConfig, step } from './helpers/fixtures';

type Restart = HostUpdatePlan['restart'];

/** pool-a with xs-a2 already on 7.6.0, getting 2 updates that need `restart`; shaped like planner/updates.ts makes it. */
function updateOnlyRun(restart: Restart): Run {
  const base = makePlan();
  const a2 = base.hosts.find((h) => h.name === 'xs-a2')!;
  const hosts = base.hosts.map((h) =>
    h.name === 'xs-a2'
      ? { ...h, from: { ...h.from, product: '7.6.0', platform: '2.6.0' }, ...(restart === 'host' ? {} : { migrations: [], stops: [] }) }
      : h,
  );
  const apply: PlanStep = {
    id: 'xs-a2:apply-updates',
    kind: 'apply-updates',
    host: a2.host,
    hostName: 'xs-a2',
    description: `Apply XS76E001, XS76E002 to xs-a2 while it is empty (pool_update.precheck + apply each), ${
      { host: 'then reboot xs-a2 once for all of them (host.reboot)', toolstack: 'then restart its toolstack (host.restart_agent; no reboot)', none: 'no restart needed' }[restart]
    } (R3.10)`,
    expectedSeconds: 500,
  };
  const kept = (s: PlanStep) =>
    s.hostName !== 'xs-a2' || (restart === 'host' ? !['upgrade', 'wait-host'].includes(s.kind) : s.kind === 'approval');
  const steps = base.steps.filter(kept).flatMap((s) => (s.id === 'xs-a2:approval' ? [s, apply] : [s]));
  const plan: Plan = makePlan({
    hosts,
    steps,
    updates: {
      repository: 'http://repo.local/updates/',
      items: ['XS76E001', 'XS76E002'].map((name) => ({ uuid: `uuid-${name}`, name, version: '1', description: name, guidance: [], prerequisites: [], source: `/isos/${name}.iso`, size: 1024 })),
      hosts: [{ host: a2.host, name: 'xs-a2', updates: ['uuid-XS76E001', 'uuid-XS76E002'], restart }],
      extraReboots: restart === 'host' ? 1 : 0,
    },
  });
  return makeRun({ plan });
}

type Button = { type: 'button'; action_id: string; text: { text: string }; value: string; confirm?: { title: { text: string }; text: { text: string }; confirm: { text: string } } };

function approveButton(blocks: KnownBlock[] | undefined): Button {
  const actions = blocks!.find((b) => b.type === 'actions') as { elements: Button[] };
  return actions.elements.find((e) => e.action_id === ACTION.approve)!;
}

const sectionText = (blocks: KnownBlock[] | undefined) =>
  blocks!
    .filter((b) => b.type === 'section')
    .map((b) => (b as { text: { text: string } }).text.text)
    .join('\n');

describe('the approval gate words what happens to the host (R3.10)', () => {
  it.each<[Restart, string, RegExp, RegExp]>([
    ['toolstack', 'Approve toolstack restart', /approval needed — restart the toolstack of `xs-a2` to apply its 2 updates \(no reboot: its VMs keep running\) \(host 2\/3\)/, /Restart the toolstack of xs-a2\?/],
    ['none', 'Approve updates', /approval needed — apply its 2 updates to `xs-a2` \(no restart: its VMs keep running\) \(host 2\/3\)/, /Apply updates to xs-a2\?/],
    ['host', 'Approve reboot', /approval needed — reboot `xs-a2` once to apply its 2 updates \(host 2\/3\)/, /Reboot xs-a2\?/],
  ])('updates needing restart=%s: the button says "%s", the text and the dialog say the same', (restart, label, title, dialogTitle) => {
    const run = updateOnlyRun(restart);
    const s = step(run, 'xs-a2:approval');
    const msg = approvalMessage(run, s, poolConfig());
    const btn = approveButton(msg.blocks);
    expect(btn.text.text).toBe(label);
    expect(btn.confirm!.confirm.text).toBe(label);
    expect(btn.confirm!.title.text).toMatch(dialogTitle);
    const text = sectionText(msg.blocks);
    expect(text).toMatch(title);
    // the next step is the host's updates, not an upgrade it does not get
    expect(text).toMatch(/Next: Apply XS76E001, XS76E002 to xs-a2/);
    expect(text).not.toMatch(/Next: upgrade/);
    // unchanged wire format: the listener handles it like every approval button, old or new
    expect(btn.action_id).toBe(ACTION.approve);
    expect(btn.value).toBe(encodeButtonValue({ runId: run.id, stepId: s.id }));
    if (restart !== 'host') {
      const all = JSON.stringify(msg);
      expect(all).not.toMatch(/shut down|shutdown|Shut down/);
      expect(all).not.toMatch(/disabled and empty/); // the host is neither disabled nor emptied
      expect(text).toMatch(/`xs-a2` stays enabled; its VMs keep running/);
      expect(btn.confirm!.text.text).toMatch(/its VMs keep running/);
      expect(msg.text).not.toMatch(/shut down/);
    }
  });

  // what the upgrade step does to the host in each mode (src/runner/steps/upgrade.ts): manual host.shutdown (R3.7),
  // automatic host.reboot into the installer (R3.9), update pool_update.apply then host.reboot (R1.3)
  it.each<[Plan['mode'], string, RegExp, RegExp, string]>([
    ['manual', 'Approve shutdown', /approval needed — shut down `xs-a3` and upgrade it/, /^xs-a3 will be shut down, for someone to boot it from the install media/, 'waiting for approval to shut down'],
    ['automatic', 'Approve reboot', /approval needed — reboot `xs-a3` into the installer and upgrade it/, /^xs-a3 will be rebooted into the installer and upgraded to 7\.6/, 'waiting for approval to reboot into the installer'],
    ['update', 'Approve reboot', /approval needed — reboot `xs-a3` to upgrade it/, /^xs-a3 will be upgraded to 7\.6\.0 with the update ISO, then rebooted/, 'waiting for approval to upgrade and reboot'],
  ])('a host that is upgraded in %s mode: "%s", as the upgrade step takes it down', (mode, label, headline, confirmText, waiting) => {
    const base = updateOnlyRun('toolstack');
    const run: Run = { ...base, plan: { ...base.plan, mode } };
    const gate = step(run, 'xs-a3:approval');
    const msg = approvalMessage(run, gate, poolConfig());
    const btn = approveButton(msg.blocks);
    expect(btn.text.text).toBe(label);
    expect(sectionText(msg.blocks)).toMatch(headline);
    expect(btn.confirm!.text.text).toMatch(confirmText);
    if (mode !== 'manual') expect(JSON.stringify(msg)).not.toMatch(/shut down `?xs-a3|xs-a3 will be shut down|Approve shutdown/);
    const atGate: Run = { ...run, state: 'awaiting-approval', steps: run.steps.map((s) => (s.id === gate.id ? { ...s, state: 'awaiting-approval' as const } : s)) };
    expect(JSON.stringify(runHeaderMessage(atGate, poolConfig()))).toContain(`\`xs-a3\` ✋ ${waiting}`);
    // approved while the run is paused: what has not happened is named as this mode does it
    const paused = approvalDecidedMessage({ ...run, state: 'paused' }, gate, 'approved', 'U0MIKA', Date.UTC(2026, 10, 25, 3, 0), poolConfig());
    expect(JSON.stringify(paused)).toContain(mode === 'manual' ? '`xs-a3` is *not* shut down' : '`xs-a3` is *not* rebooted');
  });

  it.each<[Restart, string]>([
    ['toolstack', 'waiting for approval to restart its toolstack'],
    ['none', 'waiting for approval to apply its updates'],
    ['host', 'waiting for approval to reboot'],
  ])('the run header of a host at its gate (restart=%s) says "%s", not "shut down"', (restart, words) => {
    const run = updateOnlyRun(restart);
    const gate = step(run, 'xs-a2:approval');
    const waiting: Run = { ...run, state: 'awaiting-approval', steps: run.steps.map((s) => (s.id === gate.id ? { ...s, state: 'awaiting-approval' as const } : s)) };
    const header = JSON.stringify(runHeaderMessage(waiting, poolConfig()));
    expect(header).toContain(`\`xs-a2\` ✋ ${words}`);
    expect(header).not.toMatch(/`xs-a2`[^\\]*shut down/); // its line (the Hold button's dialog speaks of hosts in general)
    // a host that is upgraded is taken down (automatic mode: rebooted into the installer), and its header line says so
    const upgraded = step(run, 'xs-a3:approval');
    const other: Run = { ...run, state: 'awaiting-approval', steps: run.steps.map((s) => (s.id === upgraded.id ? { ...s, state: 'awaiting-approval' as const } : s)) };
    expect(JSON.stringify(runHeaderMessage(other, poolConfig()))).toContain('`xs-a3` ✋ waiting for approval to reboot into the installer');
  });

  it('the decided message of a toolstack gate does not say the host was shut down', () => {
    const run = updateOnlyRun('toolstack');
    const msg = approvalDecidedMessage(run, step(run, 'xs-a2:approval'), 'approved', 'U0MIKA', Date.UTC(2026, 10, 25, 3, 0), poolConfig());
    expect(JSON.stringify(msg)).not.toMatch(/shut down|shutdown|Shut down/);
    expect(sectionText(msg.blocks)).toMatch(/^Restart the toolstack of `xs-a2` to apply its 2 updates \(host 2\/3\)/);
    expect(msg.text).toMatch(/xs-a2 toolstack restart approved by/);
  });
});
