/**
 * The exhaustive reference for the planner's search (issue 13), written from the rules alone and sharing no code with
 * src/planner/search.ts or placement.ts: every host order (master first, R3.2) and, at each host's evacuation, every
 * target of every running VM: a live host (enabled, or upgraded earlier: its enable step re-enables it; R3.3) other
 * than the evacuated one, on the same or a newer platform than the evacuated host (R3.4), with every SR of the VM's
 * disks attached (R2.5) and enough free memory (R2.2); or a stop, after which the VM is started again on its host once
 * that is upgraded. A VM that cannot migrate is always stopped; any other VM may be stopped only when, after its
 * host's other VMs moved, no host can receive it (the planner's moves). Memoised on the exact state (upgraded hosts,
 * where every VM is), nothing else. Pools for it: ≤ 5 hosts and ≤ 12 VMs, no networks or CPU features.
 */
import type { PoolSnapshot, VmInfo } from '../../src/domain/types';
import { compareVersions } from '../../src/domain/versions';
import { mobilityMap } from '../../src/planner/mobility';

export interface Cost {
  stops: number;
  migrations: number;
}
export const worse = (a: Cost, b: Cost): boolean => a.stops > b.stops || (a.stops === b.stops && a.migrations > b.migrations);

/** The best (stops, migrations) of any plan, policy none; undefined when more than `budget` assignments were needed. */
export function exhaustiveBest(s: PoolSnapshot, target: { product: string; platform: string }, budget = 2_000_000): Cost | undefined {
  const hosts = s.hosts;
  const mob = mobilityMap(s);
  const toUpgrade = new Set(hosts.filter((h) => h.version.product !== target.product).map((h) => h.ref));
  const running = s.vms.filter((v) => v.residentOn !== null && toUpgrade.has(v.residentOn) && v.powerState === 'Running');
  const original = new Map(running.map((v) => [v.ref, v.residentOn!]));
  const master = hosts.find((h) => h.isMaster && toUpgrade.has(h.ref));
  const STOP = 1_000_000;
  let work = 0;
  const memo = new Map<string, number>();

  /** least cost from this state on: `upgraded` hosts done, `where` every VM of `running` */
  const rest = (upgraded: Set<string>, where: Map<string, string>): number => {
    if (upgraded.size === toUpgrade.size) return 0;
    const key = `${[...upgraded].sort().join(',')}|${running.map((v) => where.get(v.ref)).join(',')}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const free = (h: string): number => {
      const base = hosts.find((x) => x.ref === h)!.memoryFree;
      let f = base;
      for (const v of running) {
        if (original.get(v.ref) === h) f += v.memoryNeeded;
        if (where.get(v.ref) === h) f -= v.memoryNeeded;
      }
      return f;
    };
    let best = Infinity;
    const next = master && !upgraded.has(master.ref) ? [master] : hosts.filter((h) => toUpgrade.has(h.ref) && !upgraded.has(h.ref));
    for (const src of next) {
      const residents = running.filter((v) => where.get(v.ref) === src.ref);
      const room = new Map(hosts.map((h) => [h.ref, free(h.ref)]));
      const platform = (h: (typeof hosts)[number]): string => (upgraded.has(h.ref) ? target.platform : h.version.platform);
      const canTake = (vm: VmInfo, t: (typeof hosts)[number]): boolean =>
        t.ref !== src.ref &&
        (upgraded.has(t.ref) ? t.live : t.live && t.enabled) &&
        compareVersions(platform(t), src.version.platform) >= 0 &&
        vm.disks.every((d) => t.attachedSrs.includes(d.sr)) &&
        room.get(t.ref)! >= vm.memoryNeeded;
      const moved = new Map<string, string>();
      const stopped: VmInfo[] = [];
      // the one cut: every VM still on a host to upgrade costs at least a migration (a stop when it cannot migrate)
      const atLeast = (vm: VmInfo): number => (mob.get(vm.ref)!.canMigrate ? 1 : STOP);
      const waiting = running.filter((v) => where.get(v.ref) !== src.ref && toUpgrade.has(where.get(v.ref)!) && !upgraded.has(where.get(v.ref)!)).reduce((n, v) => n + atLeast(v), 0);
      const assign = (i: number, cost: number): void => {
        if (++work > budget) throw new Error('budget');
        if (cost + residents.slice(i).reduce((n, v) => n + atLeast(v), 0) + waiting >= best) return;
        if (i === residents.length) {
          if (stopped.some((vm) => mob.get(vm.ref)!.canMigrate && hosts.some((t) => canTake(vm, t)))) return;
          const after = new Map(where);
          for (const [vm, t] of moved) after.set(vm, t);
          best = Math.min(best, cost + rest(new Set([...upgraded, src.ref]), after));
          return;
        }
        const vm = residents[i]!;
        if (mob.get(vm.ref)!.canMigrate) {
          for (const t of hosts) {
            if (!canTake(vm, t)) continue;
            room.set(t.ref, room.get(t.ref)! - vm.memoryNeeded);
            moved.set(vm.ref, t.ref);
            assign(i + 1, cost + 1);
            moved.delete(vm.ref);
            room.set(t.ref, room.get(t.ref)! + vm.memoryNeeded);
          }
        }
        stopped.push(vm);
        assign(i + 1, cost + STOP);
        stopped.pop();
      };
      assign(0, 0);
    }
    memo.set(key, best);
    return best;
  };
  try {
    const c = rest(new Set(), new Map(original));
    return { stops: Math.floor(c / STOP), migrations: c % STOP };
  } catch (e) {
    if ((e as Error).message === 'budget') return undefined;
    throw e;
  }
}
