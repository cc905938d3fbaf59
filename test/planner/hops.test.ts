import { findChain, isFinalHop, resolveChain } from '../../src/planner/hops';
import { findTarget, parseUpgradePaths } from '../../src/planner/paths';
import { renderPlanText } from '../../src/planner/render/text';
import { planToJson } from '../../src/planner/render/json';
import { planBlocks } from '../../src/slack/blocks/plan';
import { PoolBuilder } from './builder';
import { PATHS, blockers, checks, only, plan } from './helpers';

const t76 = findTarget(PATHS, '7.6')!;
const HOP_MEDIA = { '7.1.1': { mode: 'automatic' as const, media: 'http://repo.example/xs711/' } };

describe('chain search over the path table (R1.4, R1.6: pure, data not code)', () => {
  it('a direct path is one hop', () => {
    const r = findChain(PATHS, ['7.1.1'], t76);
    expect(r.ok && r.hops.map((h) => [h.target.id, h.kind, h.confirmed])).toEqual([['7.6', 'base-iso', true]]);
  });

  it('6.5 goes 6.5 → 7.1 CU1 → 7.6 in two hops; the unconfirmed first row is marked as such', () => {
    const r = findChain(PATHS, ['6.5.0'], t76);
    if (!r.ok) throw new Error(r.reason);
    expect(r.hops.map((h) => `${h.from.join('/')}→${h.target.product} ${h.kind}`)).toEqual(['6.5.0→7.1.1 base-iso', '7.1.1→7.6.0 base-iso']);
    expect(r.hops.map((h) => h.confirmed)).toEqual([false, true]);
    expect(r.hops[0]!.caveat).toMatch(/7\.1 CU1/);
    expect(r.hops[0]!.source).toMatch(/7\.1 CU1/);
  });

  it('7.2 and 7.3 go through 7.4 as update ISOs (two update hops)', () => {
    const r = findChain(PATHS, ['7.3.0'], t76);
    if (!r.ok) throw new Error(r.reason);
    expect(r.hops.map((h) => [h.target.id, h.kind])).toEqual([['7.4', 'update-iso'], ['7.6', 'update-iso']]);
  });

  it('every host already on the target: no hop', () => {
    expect(findChain(PATHS, ['7.6.0', '7.6.0'], t76)).toEqual({ ok: true, hops: [] });
  });

  it('no chain: refused with a reason that names the versions and the target', () => {
    const r = findChain(PATHS, ['5.6.0'], t76);
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/no chain of at most 4 hops .* takes 5\.6\.0 to 7\.6\.0/) });
    expect(findChain(PATHS, ['8.0.0'], t76)).toEqual({ ok: false, reason: expect.stringMatching(/newer than 7\.6\.0/) });
  });

  it('the shortest chain wins, then the fewest unconfirmed hops, then table order — deterministic', () => {
    const table = parseUpgradePaths(
      `
targets:
  - { id: "9", label: T9, product: 9.0.0, platform: 9.0.0, otherwise: { rule: R1.4, wayOut: reinstall },
      paths: [ { kind: base-iso, rule: R1.1, from: ["8.0.0", "7.0.0"], source: doc9, confirmed: true } ] }
  - { id: "7", label: T7, product: 7.0.0, platform: 7.0.0, otherwise: { rule: R1.4, wayOut: reinstall },
      paths: [ { kind: base-iso, rule: R1.4, from: ["6.0.0"], source: doc7, confirmed: false, caveat: c7 } ] }
  - { id: "8", label: T8, product: 8.0.0, platform: 8.0.0, otherwise: { rule: R1.4, wayOut: reinstall },
      paths: [ { kind: base-iso, rule: R1.4, from: ["6.0.0", "7.0.0"], source: doc8, confirmed: true } ] }
`,
      'test',
    );
    const r = findChain(table, ['6.0.0'], findTarget(table, '9')!);
    if (!r.ok) throw new Error(r.reason);
    // 6 → 8 → 9 (both confirmed) beats 6 → 7 → 9 (an unconfirmed hop), though 7 comes first in the table
    expect(r.hops.map((h) => h.target.id)).toEqual(['8', '9']);
    expect(findChain(table, ['6.0.0'], findTarget(table, '9')!)).toEqual(r);
  });

  it('a row without provenance, or unconfirmed without a caveat, is refused by the schema (R1.6)', () => {
    const base = (row: string) => `targets: [ { id: "9", label: T9, product: 9.0.0, platform: 9.0.0, otherwise: { rule: R1.4, wayOut: x }, paths: [ ${row} ] } ]`;
    expect(() => parseUpgradePaths(base('{ kind: base-iso, rule: R1.1, from: ["8.0.0"], confirmed: true }'), 't')).toThrow(/paths\.0\.source/);
    expect(() => parseUpgradePaths(base('{ kind: base-iso, rule: R1.1, from: ["8.0.0"], source: d, confirmed: false }'), 't')).toThrow(/paths\.0\.caveat: an unconfirmed row/);
    expect(() => parseUpgradePaths(base('{ kind: base-iso, rule: R1.1, from: ["8.0.0"], source: d }'), 't')).toThrow(/paths\.0\.confirmed/);
  });

  it('R1.2 is not routed around: 7.1 without CU1 stays refused with its own way out', () => {
    expect(resolveChain(PATHS, t76, ['7.1.0'], { mode: 'automatic' })).toEqual({});
  });
});

describe('the plan of a multi-hop upgrade (R1.4)', () => {
  const pool = () =>
    new PoolBuilder('pool-old')
      .host('old1', { version: '6.5.0', master: true })
      .host('old2', { version: '6.5.0' })
      .vm('web', { host: 'old1', disks: ['shared-nfs'], tools: '6.5.0' })
      .vm('db', { host: 'old2', disks: ['shared-nfs'], tools: '6.5.0' })
      .build();

  it('proposes the chain instead of refusing; this plan is hop 1 to 7.1 CU1 with its own mode and media', () => {
    const p = plan(pool(), { hopMedia: HOP_MEDIA, media: 'http://repo.example/xs76/' });
    expect(p.executable).toBe(true);
    expect(p.target.product).toBe('7.1.1');
    expect(p.finalTarget).toBe('7.6');
    expect(p.hops!.map((h) => [h.index, h.target, h.status, h.mode, h.media, h.confirmed])).toEqual([
      [1, '7.1.1', 'this', 'automatic', 'http://repo.example/xs711/', false],
      [2, '7.6', 'later', 'automatic', 'http://repo.example/xs76/', true],
    ]);
    expect(only(p, 'multi-hop').message).toMatch(/6\.5\.0 → 7\.1\.1 → 7\.6\.0 in 2 hops.*hop 1 of 2/);
    expect(only(p, 'path-unconfirmed')).toMatchObject({ severity: 'warning', rule: 'R1.6' });
    expect(only(p, 'version-path').message).toMatch(/6\.5\.0 → 7\.1\.1 with the base install ISO/);
    expect(p.steps.filter((s) => s.kind === 'approval').map((s) => s.description)).toEqual([
      expect.stringMatching(/upgrade it to 7\.1\.1/),
      expect.stringMatching(/upgrade it to 7\.1\.1/),
    ]);
    expect(isFinalHop(p)).toBe(false);
  });

  it('no Tools advice before the final hop (R5.3): no list, no reminder, a note that they wait', () => {
    const p = plan(pool(), { hopMedia: HOP_MEDIA });
    expect(p.toolsUpgrade).toEqual([]);
    expect(checks(p, 'tools')).toEqual([]);
    expect(only(p, 'tools-after-last-hop').rule).toBe('R5.3');
    const finish = p.steps.find((s) => s.kind === 'pool-finish')!;
    expect(finish.description).not.toMatch(/Tools in/);
    expect(finish.description).toMatch(/plan of hop 2/);
    const text = renderPlanText(p);
    expect(text).not.toMatch(/upgrade XenServer Tools in|need their XenServer Tools upgraded/);
  });

  it('a hop with no media in the pools file blocks, never a silent switch of mode', () => {
    const p = plan(pool());
    expect(blockers(p)).toContain('hop-media');
    expect(only(p, 'hop-media').fix).toMatchObject({ kind: 'manual', guidance: expect.stringMatching(/hops: \[\{ target: "7\.1\.1"/) });
  });

  it('re-planned between hops: hop 1 shown done (its run), this plan is the final hop with the Tools list', () => {
    const first = plan(pool(), { hopMedia: HOP_MEDIA });
    const after = new PoolBuilder('pool-old')
      .host('old1', { version: '7.1.1', master: true })
      .host('old2', { version: '7.1.1' })
      .vm('web', { host: 'old1', disks: ['shared-nfs'], tools: '6.5.0' })
      .vm('db', { host: 'old2', disks: ['shared-nfs'], tools: '6.5.0' })
      .build();
    const prior = first.hops!.filter((h) => h.status === 'this').map((h) => ({ ...h, status: 'done' as const, runId: 'pool-old-1' }));
    const p = plan(after, { hopMedia: HOP_MEDIA, priorHops: prior });
    expect(p.target.product).toBe('7.6.0');
    expect(p.finalTarget).toBe('7.6');
    expect(p.hops!.map((h) => [h.index, h.target, h.status, h.runId])).toEqual([
      [1, '7.1.1', 'done', 'pool-old-1'],
      [2, '7.6', 'this', undefined],
    ]);
    expect(isFinalHop(p)).toBe(true);
    expect(p.toolsUpgrade).toEqual(['db', 'web']);
    expect(only(p, 'multi-hop').message).toMatch(/hop 2 of 2.*done already: hop 1 \(XenServer 7\.1 CU1, run pool-old-1\)/);
  });

  it('the plan text and JSON show each hop as its own stage with mode, media and provenance', () => {
    const p = plan(pool(), { hopMedia: HOP_MEDIA, media: 'http://repo.example/xs76/' });
    const text = renderPlanText(p);
    expect(text).toMatch(/Hops \(2, to XenServer 7\.6\)/);
    expect(text).toMatch(/1\. 6\.5\.0 → 7\.1\.1 +XenServer 7\.1 CU1 .*base ISO, automatic mode, http:\/\/repo\.example\/xs711\/.*THIS PLAN/);
    expect(text).toMatch(/UNCONFIRMED/);
    expect(text).toMatch(/2\. 7\.1\.1 → 7\.6\.0 .*planned from the live pool after hop 1/);
    const json = planToJson(p);
    expect(json.finalTarget).toBe('7.6');
    expect(json.hops).toHaveLength(2);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('the Slack plan message shows the hops, and its Start says which hop it starts', () => {
    const p = plan(pool(), { hopMedia: HOP_MEDIA, media: 'http://repo.example/xs76/' });
    const m = planBlocks(p, { requestedBy: 'U0KENJI' });
    const text = JSON.stringify(m.blocks);
    expect(text).toMatch(/Hops \(2, to XenServer 7\.6\)/);
    expect(text).toMatch(/6\.5\.0 → 7\.1\.1/);
    expect(text).toMatch(/This is hop 1 of 2\. Hop 2 is planned again from the live pool afterwards and needs its own Start\./);
    expect(text).not.toMatch(/need their XenServer Tools upgraded/);
  });

  it('no chain: the R1.4 refusal stays, and says why no chain exists; R1.2 keeps its own refusal', () => {
    const p = plan(new PoolBuilder('pool-ancient').host('a1', { version: '5.6.0', master: true }).host('a2', { version: '5.6.0' }).build());
    expect(p.executable).toBe(false);
    expect(p.hops).toBeUndefined();
    expect(p.finalTarget).toBeUndefined();
    const v = only(p, 'version-path');
    expect(v).toMatchObject({ rule: 'R1.4', severity: 'blocker' });
    expect(v.fix).toMatchObject({ guidance: expect.stringMatching(/clean install.*; no chain through the path table for a1, a2: no chain of at most 4 hops/) });
    const r12 = plan(new PoolBuilder('pool-71').host('b1', { version: '7.1.0', master: true }).build());
    expect(r12.hops).toBeUndefined();
    expect(only(r12, 'version-path')).toMatchObject({ rule: 'R1.2', severity: 'blocker', fix: { guidance: expect.stringMatching(/Cumulative Update 1/) } });
  });

  it('same snapshot and options → same multi-hop plan and id', () => {
    expect(plan(pool(), { hopMedia: HOP_MEDIA }).id).toBe(plan(pool(), { hopMedia: HOP_MEDIA }).id);
  });
});
