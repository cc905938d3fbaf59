/** R3.10 in the pure planner: which host gets which update, what it costs, and what blocks. */
import type { UpdatesInput } from '../../src/updates/input';
import { PoolBuilder } from './builder';
import { blockers, checks, plan } from './helpers';

const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const upd = (n: number, name: string, o: Partial<UpdatesInput['updates'][number]> = {}): UpdatesInput['updates'][number] => ({
  uuid: uuid(n),
  name,
  version: '1.0',
  description: name,
  guidance: ['restartHost'],
  prerequisites: [],
  source: `/srv/u/${name}.iso`,
  size: 1024 ** 2,
  requires: { version: '7.6.0', test: 'eq' },
  ...o,
});
const input = (updates: UpdatesInput['updates'], o: Partial<UpdatesInput> = {}): UpdatesInput => ({ repository: '/srv/u', updates, problems: [], applied: {}, ...o });

const mixed = () =>
  new PoolBuilder()
    .host('m', { master: true, version: '7.6.0' })
    .host('a', { version: '7.1.1' })
    .host('b', { version: '7.6.0' })
    .vmsOn('m', 1)
    .vmsOn('a', 1)
    .vmsOn('b', 1)
    .build();

describe('planner: hotfixes (R3.10)', () => {
  it('no updateRepository: the plan is exactly as before (no updates field, same id)', () => {
    const s = mixed();
    expect(plan(s).updates).toBeUndefined();
    expect(plan(s, { updates: undefined }).id).toBe(plan(s).id);
  });

  it('upgraded hosts get every update; hosts on the target only what they lack, in the rolling order', () => {
    const s = mixed();
    const bRef = s.hosts.find((h) => h.name === 'b')!.ref;
    const p = plan(s, {
      updates: input([upd(1, 'XS76E001'), upd(2, 'XS76E002', { prerequisites: [uuid(1)], guidance: ['restartXAPI'] })], { applied: { [bRef]: [uuid(1)] } }),
    });
    expect(blockers(p)).toEqual([]);
    expect(p.updates!.hosts.map((h) => [h.name, h.updates, h.restart])).toEqual([
      ['a', [uuid(1), uuid(2)], 'host'],
      ['b', [uuid(2)], 'toolstack'],
      ['m', [uuid(1), uuid(2)], 'host'],
    ]);
    expect(p.updates!.extraReboots).toBe(2);
    const ids = p.steps.map((x) => x.id);
    // master first (R3.2), emptied for its reboot; the upload once, before the first apply
    expect(ids.slice(0, 7)).toEqual(['backup', 'm:disable', 'm:evacuate', 'm:approval', 'm:upload-updates', 'm:apply-updates', 'm:enable']);
    // a is upgraded, then updated while still empty
    expect(ids.filter((i) => i.startsWith('a:'))).toEqual(['a:disable', 'a:evacuate', 'a:approval', 'a:upgrade', 'a:wait-host', 'a:apply-updates', 'a:enable']);
    // b needs no reboot: not emptied, only its gate and its updates
    expect(ids.filter((i) => i.startsWith('b:'))).toEqual(['b:approval', 'b:apply-updates']);
    expect(p.hosts.find((h) => h.name === 'b')!.alreadyDone).toBe(false);
    expect(p.steps.find((x) => x.id === 'b:approval')!.description).toBe('Approval: apply 1 update (a toolstack restart, no reboot) to b (R3.10)');
  });

  it('a prerequisite neither in the repository nor applied blocks, naming both', () => {
    const p = plan(mixed(), { updates: input([upd(2, 'XS76E002', { prerequisites: [uuid(1)] })], { poolNames: { [uuid(1)]: 'XS76E001' } }) });
    expect(blockers(p)).toContain('updates');
    expect(checks(p, 'updates').map((c) => c.message)).toContain('m: XS76E002 needs XS76E001 first, which is neither in the update repository nor applied.');
  });

  it('a prerequisite cycle blocks', () => {
    const p = plan(mixed(), { updates: input([upd(1, 'XS76E001', { prerequisites: [uuid(2)] }), upd(2, 'XS76E002', { prerequisites: [uuid(1)] })]) });
    expect(checks(p, 'updates').find((c) => c.severity === 'blocker')!.message).toMatch(/cycle: XS76E00\d → XS76E00\d → XS76E00\d/);
    expect(p.executable).toBe(false);
  });

  it('an unreadable ISO blocks; an update for another version is left out with a note', () => {
    const p = plan(mixed(), { updates: input([upd(1, 'XS76E001'), upd(3, 'XS71ECU1009', { requires: { version: '7.1.2', test: 'eq' } })], { problems: ['broken.iso: not an ISO 9660 image'] }) });
    expect(checks(p, 'updates').map((c) => [c.severity, c.message])).toEqual(
      expect.arrayContaining([
        ['blocker', expect.stringMatching(/^Update repository: broken\.iso: not an ISO 9660 image/)],
        ['info', 'Not for 7.6.0, left out: XS71ECU1009 (for 7.1.2).'],
      ]),
    );
    expect(p.updates!.items.map((u) => u.name)).toEqual(['XS76E001']);
  });

  it('costs no migration: the same placement with and without updates', () => {
    const s = new PoolBuilder().host('m', { master: true, version: '7.1.1' }).host('a', { version: '7.1.1' }).host('b', { version: '7.1.1' }).vmsOn('m', 3).vmsOn('a', 2).vmsOn('b', 2).build();
    const with_ = plan(s, { updates: input([upd(1, 'XS76E001'), upd(2, 'XS76E002', { guidance: ['restartHVM'] })]) });
    const without = plan(s);
    expect(with_.migrations).toEqual(without.migrations);
    expect(with_.hosts.map((h) => h.migrations)).toEqual(without.hosts.map((h) => h.migrations));
  });
});

describe('planner: hotfixes and multi-hop (R3.10, R1.4)', () => {
  it('a non-final hop plans no hotfix; the updates wait for the final version', () => {
    const s = new PoolBuilder('pool-old').host('old1', { version: '6.5.0', master: true }).host('old2', { version: '6.5.0' }).vmsOn('old1', 1).build();
    const p = plan(s, {
      updates: input([upd(1, 'XS76E001')]),
      hopMedia: { '7.1.1': { mode: 'automatic', media: 'http://repo.example/xs711/' } },
      media: 'http://repo.example/xs76/',
    });
    expect(p.executable).toBe(true);
    expect(p.target.product).toBe('7.1.1');
    expect(p.updates).toBeUndefined();
    expect(checks(p, 'updates')).toEqual([]);
    expect(p.steps.some((x) => x.kind === 'apply-updates' || x.kind === 'upload-updates')).toBe(false);
  });
});
