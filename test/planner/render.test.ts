import { validateBlocks } from '../../src/sandbox/block-kit-limits';
import { planToJson, PLAN_JSON_SCHEMA } from '../../src/planner/render/json';
import { renderPlanText } from '../../src/planner/render/text';
import { MAX_BLOCKS, MAX_CHARS, messageChars, planBlocks } from '../../src/slack/blocks/plan';
import { PoolBuilder, threeHostPool } from './builder';
import { plan } from './helpers';

function bigPool(hosts: number, vmsPerHost: number): PoolBuilder {
  const b = new PoolBuilder('pool-big');
  for (let i = 0; i < hosts; i++) b.host(`xs-${String(i).padStart(2, '0')}`, { memGiB: 512, master: i === 0 });
  for (let i = 0; i < hosts; i++) {
    const h = `xs-${String(i).padStart(2, '0')}`;
    b.vmsOn(h, vmsPerHost, 4);
    b.vm(`${h}-local`, { host: h, disks: [`local-${h}`] });
    b.vm(`${h}-cd`, { host: h, cd: { iso: 'tools.iso', sr: 'shared-nfs' } });
  }
  return b;
}

describe('renders', () => {
  const demo = plan(threeHostPool().withHa().vm('vm-licence-srv', { host: 'xs-a2', disks: ['local-xs-a2'] }).build());

  it('text names rules, counts, the order and each step', () => {
    const t = renderPlanText(demo);
    expect(t).toMatch(/^Plan for pool-a → XenServer 7\.6 \(base ISO, automatic mode\)\s+plan [0-9a-f]{12}/);
    expect(t).toContain('Executable: yes');
    for (const rule of ['R2.4', 'R2.5', 'R2.1', 'R5.1', 'R1.1']) expect(t).toContain(rule);
    expect(t).toMatch(/1\. xs-a1 \(master, 7\.1\.1 → 7\.6\.0\)/);
    expect(t).toContain('suspend vm-licence-srv');
    expect(t).toContain(`${demo.migrations.planned} live migrations (lower bound ${demo.migrations.lowerBound})`);
    for (const s of demo.steps) expect(t).toContain(s.id);
  });

  it('text of a blocked plan shows the blocker with its way out', () => {
    const t = renderPlanText(plan(new PoolBuilder().host('h1', { version: '7.1.0' }).build()));
    expect(t).toContain('Executable: NO — 1 blocker');
    expect(t).toMatch(/R1\.2 +h1: 7\.1\.0 cannot be upgraded[^\n]*\n +→ apply XenServer 7\.1 Cumulative Update 1/);
  });

  it('JSON is tagged, stable and round-trips', () => {
    const j = planToJson(demo);
    expect(Object.keys(j)[0]).toBe('schema');
    expect(j.schema).toBe(PLAN_JSON_SCHEMA);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    expect(JSON.stringify(planToJson(plan(threeHostPool().withHa().vm('vm-licence-srv', { host: 'xs-a2', disks: ['local-xs-a2'] }).build())))).toBe(JSON.stringify(j));
    const { schema: _s, ...rest } = j;
    expect(rest).toEqual(JSON.parse(JSON.stringify(demo)));
  });

  it('Block Kit: blockers, approvals, notes, order; Start carries pool and plan hash', () => {
    const m = planBlocks(demo, { requestedBy: 'U0KENJI' });
    const all = JSON.stringify(m.blocks);
    expect(all).toContain('<@U0KENJI>');
    expect(all.indexOf('Blockers (0)')).toBeLessThan(all.indexOf('Needs your approval'));
    expect(all).toContain('`R2.5`');
    const actions = m.blocks.find((b) => b.type === 'actions') as { elements: Array<{ action_id: string; value: string }> };
    const start = actions.elements.find((e) => e.action_id === 'plan_start')!;
    expect(JSON.parse(start.value)).toEqual({ pool: 'pool-a', planHash: demo.id, planAt: demo.createdAt });
    expect(actions.elements.map((e) => e.action_id)).toEqual(['plan_start', 'plan_replan']);
    expect(validateBlocks(m.blocks, 'message')).toEqual([]);
    expect(m.text).toContain('pool-a');
  });

  it('Block Kit: no Start button when blocked; the blocker comes first with its rule and way out', () => {
    const blocked = plan(threeHostPool().host('xs-a9', { sanBoot: true }).build());
    const m = planBlocks(blocked, { requestedBy: 'U0KENJI' });
    const all = JSON.stringify(m.blocks);
    expect(all).not.toContain('plan_start');
    expect(all).toContain('plan_replan');
    expect(all).toMatch(/Blockers \(1\)\*\\n• `R2\.7` xs-a9 boots from SAN.*→ _upgrade these hosts by hand/);
  });

  it('Block Kit for a 64-host pool stays within 50 blocks and 12,000 characters; details go to the thread', () => {
    const big = plan(bigPool(64, 50).withHa().build());
    expect(big.executable).toBe(true);
    const m = planBlocks(big, { requestedBy: 'U0KENJI' });
    expect(m.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
    expect(validateBlocks(m.blocks, 'message')).toEqual([]);
    expect(m.threadMessages.length).toBeGreaterThan(1);
    for (const t of m.threadMessages) {
      expect(t.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
      expect(messageChars(t)).toBeLessThanOrEqual(MAX_CHARS);
      expect(validateBlocks(t.blocks, 'message')).toEqual([]);
    }
    const thread = m.threadMessages.map((t) => JSON.stringify(t.blocks)).join('');
    // every host and every step is somewhere in the thread
    for (const h of big.hosts) expect(thread).toContain(h.name);
    for (const s of big.steps) expect(thread).toContain(s.id);
    expect(JSON.stringify(m.blocks)).toContain('more hosts in the thread');
  });
});

describe('Block Kit limits under stress', () => {
  it('a plan with many long blockers, warnings and notes still fits; full lists go to the thread', () => {
    const base = plan(bigPool(20, 3).build());
    const long = (i: number, severity: 'blocker' | 'warning' | 'info') => ({
      id: `x-${severity}-${i}`,
      rule: 'R3.7',
      severity,
      subjects: { hosts: [], vms: [] },
      message: `${severity} ${i} `.padEnd(1500, 'x'),
      fix: { kind: 'manual' as const, guidance: 'do something '.repeat(40) },
    });
    const stressed = {
      ...base,
      executable: false,
      prechecks: [...Array.from({ length: 30 }, (_, i) => long(i, 'blocker')), ...Array.from({ length: 30 }, (_, i) => long(i, 'warning')), ...Array.from({ length: 30 }, (_, i) => long(i, 'info'))],
    };
    const m = planBlocks(stressed, { requestedBy: 'U0KENJI' });
    expect(m.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    expect(messageChars(m)).toBeLessThanOrEqual(MAX_CHARS);
    expect(validateBlocks(m.blocks, 'message')).toEqual([]);
    for (const t of m.threadMessages) {
      expect(messageChars(t)).toBeLessThanOrEqual(MAX_CHARS);
      expect(validateBlocks(t.blocks, 'message')).toEqual([]);
    }
    const thread = m.threadMessages.map((t) => JSON.stringify(t.blocks)).join('');
    for (const p of stressed.prechecks) expect(thread).toContain(`${p.severity} ${p.id.split('-').pop()} `);
    expect(JSON.stringify(m.blocks)).not.toContain('plan_start');
  });
});

describe("the plan's host order says what each host's approval lets happen, as the mode does it", () => {
  it.each([
    ['manual', 'its shutdown'],
    ['automatic', 'its reboot into the installer'],
  ] as const)('%s mode: "approval before %s"', (mode, words) => {
    const p = plan(new PoolBuilder().host('h1').host('h2').vmsOn('h1', 2).build(), { mode });
    const text = JSON.stringify(planBlocks(p, { requestedBy: 'U0KENJI' }));
    expect(text).toContain(`approval before ${words}`);
    if (mode !== 'manual') expect(text).not.toMatch(/shutdown/);
  });
});
