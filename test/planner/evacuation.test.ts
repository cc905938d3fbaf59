/** placeEvacuation: the plan's placement rules applied by the runner to the live pool (one rule set, not two). */
import type { Migration, PoolSnapshot } from '../../src/domain/types';
import { placeEvacuation } from '../../src/planner';
import { PoolBuilder } from './builder';

const h = (n: string): string => `OpaqueRef:host-${n}`;
const v = (n: string): string => `OpaqueRef:vm-${n}`;
const move = (vm: string, to: string): Migration => ({ vm: v(vm), vmName: vm, from: h('h1'), to: h(to), toName: to });

/** h1 is being evacuated: disabled, as the runner leaves it (R3.3) */
function evacuating(b: PoolBuilder): PoolSnapshot {
  const s = b.build();
  s.hosts.find((x) => x.name === 'h1')!.enabled = false;
  return s;
}

describe('placeEvacuation', () => {
  it('keeps the planned moves when they still fit', () => {
    const s = evacuating(new PoolBuilder().host('h1').host('h2').host('h3').vmsOn('h1', 2, 4));
    const r = placeEvacuation({ snapshot: s, source: h('h1'), vms: [v('h1-vm01'), v('h1-vm02')], targetPlatform: '2.7.0', planned: [move('h1-vm01', 'h3'), move('h1-vm02', 'h3')] });
    expect(r).toMatchObject({ recomputed: false, misfits: [], unplaced: [] });
    expect(r.moves.map((m) => m.toName)).toEqual(['h3', 'h3']);
  });

  it('R2.5: recomputes around a host that lost the SR of the VM\'s disks', () => {
    const s = evacuating(
      new PoolBuilder().sr('nfs-b', { shared: true }).host('h1').host('h2', { memGiB: 256, detached: ['nfs-b'] }).host('h3').vm('web', { host: 'h1', disks: ['nfs-b'] }),
    );
    const r = placeEvacuation({ snapshot: s, source: h('h1'), vms: [v('web')], targetPlatform: '2.7.0', planned: [move('web', 'h2')] });
    expect(r.recomputed).toBe(true);
    expect(r.misfits).toEqual(['web: planned target h2 does not see SR nfs-b of its disks (R2.5)']);
    expect(r.moves).toEqual([move('web', 'h3')]);
  });

  it('R3.4 and preference: never to an older host, upgraded hosts first, memory counted as it is used', () => {
    const s = evacuating(
      new PoolBuilder()
        .host('h1', { version: '7.6.0' })
        .host('h2', { memGiB: 256 }) // older: never
        .host('h3', { version: '7.6.0', memGiB: 10 }) // 9 GiB free
        .host('h4', { version: '7.6.0', memGiB: 8 }) // 7 GiB free
        .vm('a', { host: 'h1', memGiB: 6 })
        .vm('b', { host: 'h1', memGiB: 5 }),
    );
    const r = placeEvacuation({ snapshot: s, source: h('h1'), vms: [v('a'), v('b')], targetPlatform: '2.7.0' });
    expect(r.misfits).toEqual(['a is on h1 but not in the plan', 'b is on h1 but not in the plan']);
    expect(r.moves.map((m) => `${m.vmName}→${m.toName}`)).toEqual(['a→h3', 'b→h4']);
  });

  it('a VM that fits nowhere is unplaced with the reason, and nothing is returned to move', () => {
    const s = evacuating(new PoolBuilder().host('h1').host('h2', { memGiB: 8 }).vm('small', { host: 'h1', memGiB: 1 }).vm('big', { host: 'h1', memGiB: 32 }));
    const r = placeEvacuation({ snapshot: s, source: h('h1'), vms: [v('small'), v('big')], targetPlatform: '2.7.0', planned: [move('small', 'h2')] });
    expect(r.moves).toEqual([]);
    expect(r.unplaced).toEqual([{ vm: v('big'), vmName: 'big', reason: 'R2.2 needs 32.0 GiB, the most free on an allowed host is 7.0 GiB' }]);
  });

  it('a VM that cannot live-migrate at all is unplaced (R2.5 local disk), never handed to pool_migrate', () => {
    const s = evacuating(new PoolBuilder().host('h1').host('h2').vm('db', { host: 'h1', disks: ['local-h1'] }));
    const r = placeEvacuation({ snapshot: s, source: h('h1'), vms: [v('db')], targetPlatform: '2.7.0' });
    expect(r.moves).toEqual([]);
    expect(r.unplaced[0]).toMatchObject({ vmName: 'db', reason: expect.stringMatching(/^R2\.5 disks on local SR local-h1/) });
  });
});
