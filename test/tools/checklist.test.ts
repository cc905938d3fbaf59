import { isFinalHop } from '../../src/planner/hops';
import { applyReadings, finalTargetOf, pvDriversVersion, reminderDue, toolsAdviceGate, toolsChecklist } from '../../src/tools/checklist';
import type { ToolsFollowUp } from '../../src/domain/types';
import { middleHopOf } from './chain';

const T76 = { product: '7.6.0', platform: '2.7.0', label: 'XenServer 7.6' };
const T712 = { product: '7.1.2', platform: '2.1.1', label: 'XenServer 7.1 CU2' };

function followUp(over: Partial<ToolsFollowUp> = {}): ToolsFollowUp {
  return {
    needed: '7.6.0',
    label: 'XenServer 7.6',
    openedAt: 1_000,
    checkedAt: 1_000,
    pending: [
      { vm: 'app-1', uuid: 'u1', current: '7.1.0', needed: '7.6.0' },
      { vm: 'app-2', uuid: 'u2', current: '7.1.0', needed: '7.6.0' },
    ],
    done: [],
    version: 1,
    shownVersion: 1,
    ...over,
  };
}

describe('R5.3 gate: one predicate for every piece of Tools advice', () => {
  it('finalTargetOf: the chain\'s final target, else the plan\'s own', () => {
    expect(finalTargetOf({ target: T76 })).toBe(T76);
    expect(finalTargetOf({ target: T712, ...middleHopOf(T712, T76, '7.6') })).toEqual(T76);
    expect(isFinalHop(middleHopOf(T712, T76, '7.6'))).toBe(false);
    expect(isFinalHop({ finalTarget: '7.6', hops: middleHopOf(T712, T76, '7.6').hops!.map((h) => ({ ...h, status: h.index === 2 ? 'this' as const : 'done' as const })) })).toBe(true);
    expect(isFinalHop({})).toBe(true); // no chain: the plan's own target is final
  });

  it('passes only when every host runs the final version (or newer)', () => {
    expect(toolsAdviceGate([{ name: 'host-1', product: '7.6.0' }, { name: 'host-2', product: '7.6.0' }], T76)).toEqual({ ok: true });
    expect(toolsAdviceGate([{ name: 'host-1', product: '7.6' }], T76)).toEqual({ ok: true }); // "7.6" equals "7.6.0"
  });

  it('refuses while a host is below, saying why and naming the host', () => {
    const g = toolsAdviceGate([{ name: 'host-1', product: '7.6.0' }, { name: 'host-3', product: '7.1.1' }], T76);
    expect(g).toEqual({ ok: false, reason: 'Tools advice waits until every host runs 7.6 (R5.3): host-3 still runs 7.1.1', behind: [{ name: 'host-3', product: '7.1.1' }] });
  });

  it('refuses after a middle hop: every host on the intermediate version is still below the final one', () => {
    const g = toolsAdviceGate([{ name: 'a', product: '7.1.2' }, { name: 'b', product: '7.1.2' }], finalTargetOf({ target: T712, ...middleHopOf(T712, T76, '7.6') }));
    expect(g.ok).toBe(false);
    expect(!g.ok && g.reason).toBe('Tools advice waits until every host runs 7.6 (R5.3): a still runs 7.1.2, b still runs 7.1.2');
  });

  it('refuses when the hosts are unknown (nothing read) or the final version is unknown', () => {
    expect(toolsAdviceGate([], T76)).toMatchObject({ ok: false, reason: expect.stringMatching(/could not be read/) });
    expect(toolsAdviceGate([{ name: 'a', product: '7.6.0' }], { product: '' })).toMatchObject({ ok: false });
  });

  it('lists at most five hosts and counts the rest', () => {
    const hosts = Array.from({ length: 8 }, (_, i) => ({ name: `h${i}`, product: '7.1.1' }));
    const g = toolsAdviceGate(hosts, T76);
    expect(!g.ok && g.reason).toMatch(/h4 still runs 7\.1\.1 and 3 more$/);
  });
});

describe('checklist from VM_guest_metrics', () => {
  it('PV_drivers_version map → version; no version → null', () => {
    expect(pvDriversVersion({ major: '7', minor: '6', micro: '0', build: '1' })).toBe('7.6.0');
    expect(pvDriversVersion({ major: '7', minor: '1' })).toBe('7.1.0');
    expect(pvDriversVersion({})).toBeNull();
    expect(pvDriversVersion(undefined)).toBeNull();
  });

  it('lists the VMs below the final version, sorted; guests without drivers are left out', () => {
    const list = toolsChecklist(
      [
        { vm: 'web', uuid: 'w', tools: '7.1.0' },
        { vm: 'app', uuid: 'a', tools: '7.0.0' },
        { vm: 'db', uuid: 'd', tools: '7.6.0' },
        { vm: 'bare', uuid: 'b', tools: null },
      ],
      '7.6.0',
    );
    expect(list).toEqual([
      { vm: 'app', uuid: 'a', current: '7.0.0', needed: '7.6.0' },
      { vm: 'web', uuid: 'w', current: '7.1.0', needed: '7.6.0' },
    ]);
  });

  it('a reading at the needed version moves the VM to done; a gone VM leaves; an unread one stays', () => {
    const f = followUp();
    expect(applyReadings(f, new Map())).toMatchObject({ changed: false, pending: f.pending, done: [] });
    const r = applyReadings(f, new Map<string, string | null | 'gone'>([['u1', '7.6.0']]));
    expect(r).toMatchObject({ changed: true, done: ['app-1'], gone: [] });
    expect(r.pending.map((e) => e.vm)).toEqual(['app-2']);
    const g = applyReadings(f, new Map<string, string | null | 'gone'>([['u2', 'gone'], ['u1', '7.1.0']]));
    expect(g).toMatchObject({ changed: true, gone: ['app-2'], done: [] });
    // a partial upgrade (still below) is recorded but stays on the list
    const p = applyReadings(f, new Map<string, string | null | 'gone'>([['u1', '7.5.0']]));
    expect(p.changed).toBe(true);
    expect(p.pending[0]).toMatchObject({ vm: 'app-1', current: '7.5.0' });
  });
});

describe('reminder slots', () => {
  const DAY = 86_400_000;
  it('none before a full period; one key per period; none once empty or dismissed', () => {
    const f = followUp({ openedAt: 0 });
    expect(reminderDue(f, 'r1', DAY - 1, DAY)).toBeUndefined();
    expect(reminderDue(f, 'r1', DAY, DAY)).toEqual({ key: 'tools:r1:1', slot: 1 });
    expect(reminderDue(f, 'r1', 2 * DAY + 5, DAY)).toEqual({ key: 'tools:r1:2', slot: 2 });
    // a bot down for three days sends the current slot only, not the ones it missed
    expect(reminderDue(f, 'r1', 5 * DAY + 1, DAY)?.slot).toBe(5);
    expect(reminderDue(followUp({ openedAt: 0, pending: [] }), 'r1', 3 * DAY, DAY)).toBeUndefined();
    expect(reminderDue(followUp({ openedAt: 0, dismissed: { by: 'U1', at: 1 } }), 'r1', 3 * DAY, DAY)).toBeUndefined();
  });
});
