import type { HostInfo, PoolSnapshot, Ref } from '../domain/types';
import { compareVersions } from '../domain/versions';
import type { Mobility } from './mobility';

/**
 * Exact search for small pools (issue 13): every host order (the master first, R3.2) and every target of every
 * VM, under the placement rules (R3.4 never to an older platform, R2.5 the VM's SRs attached, R2.2 free memory,
 * R3.3 only live enabled hosts, mobility). A VM is stopped only when no host can take it at its turn (the same
 * action space as placement.ts); the best plan has the fewest stops, then the fewest live migrations.
 * Dynamic programming over (host index, where every VM is); gives up (undefined) beyond `budget` states.
 *
 * It returns the order and, per evacuated host, the target chosen for each of its VMs; placement.ts replays
 * that choice (PlacementInput.prefer) so the plan's content and wording come from one place.
 */
export interface ExactChoice {
  order: Ref[];
  /** `${sourceHostRef} ${vmRef}` → target host */
  targets: Map<string, Ref>;
  stops: number;
  migrations: number;
}

export interface ExactInput {
  snapshot: PoolSnapshot;
  toUpgrade: HostInfo[];
  targetPlatform: string;
  mobility: Map<Ref, Mobility>;
}

export const EXACT_LIMITS = { hosts: 6, vms: 14, budget: 400_000 };

type Cost = [stops: number, migrations: number];
const better = (a: Cost, b: Cost): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const p of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...p]);
  });
  return out;
}

export function exactPlacement(input: ExactInput, limits = EXACT_LIMITS): ExactChoice | undefined {
  const { snapshot, toUpgrade, targetPlatform, mobility } = input;
  const hosts = snapshot.hosts;
  const hostIdx = new Map(hosts.map((h, i) => [h.ref, i]));
  const vms = snapshot.vms.filter((v) => v.residentOn !== null && hostIdx.has(v.residentOn));
  if (toUpgrade.length > limits.hosts || vms.length > limits.vms || hosts.length < 2) return undefined;
  const mem = vms.map((v) => v.memoryNeeded);
  const home = vms.map((v) => hostIdx.get(v.residentOn!)!);
  const srsOk = vms.map((v) => hosts.map((h) => v.disks.every((d) => h.attachedSrs.includes(d.sr))));
  const canMigrate = vms.map((v) => mobility.get(v.ref)?.canMigrate ?? false);
  // largest first, as placement.ts evacuates (it decides which VM meets a full pool first)
  const evacOrder = vms.map((_, i) => i).sort((a, b) => mem[b]! - mem[a]! || (vms[a]!.name < vms[b]!.name ? -1 : vms[a]!.name > vms[b]!.name ? 1 : 0));
  const baseFree = hosts.map((h) => h.memoryFree);
  const master = toUpgrade.find((h) => h.isMaster);
  const rest = toUpgrade.filter((h) => !h.isMaster);
  let states = 0;
  let best: { cost: Cost; choice: ExactChoice } | undefined;

  for (const perm of permutations(rest)) {
    const order = [...(master ? [master] : []), ...perm].map((h) => hostIdx.get(h.ref)!);
    const position = new Map(order.map((h, k) => [h, k]));
    const memo = new Map<string, { cost: Cost; picks: Array<[number, number, number]> }>();
    const dp = (k: number, loc: number[]): { cost: Cost; picks: Array<[number, number, number]> } | undefined => {
      if (k === order.length) return { cost: [0, 0], picks: [] };
      const key = `${k}|${loc.join(',')}`;
      const hit = memo.get(key);
      if (hit) return hit;
      if (++states > limits.budget) return undefined;
      const src = order[k]!;
      const platform = (t: number): string => ((position.get(t) ?? Infinity) < k ? targetPlatform : hosts[t]!.version.platform);
      const eligible = (t: number): boolean =>
        t !== src && ((position.get(t) ?? Infinity) < k ? hosts[t]!.live : hosts[t]!.live && hosts[t]!.enabled);
      const free = hosts.map((_, t) => baseFree[t]!);
      for (let i = 0; i < vms.length; i++) {
        free[home[i]!] += mem[i]!;
        free[loc[i]!] -= mem[i]!;
      }
      const residents = evacOrder.filter((i) => loc[i] === src);
      const srcPlatform = hosts[src]!.version.platform;
      let bestHere: { cost: Cost; picks: Array<[number, number, number]> } | undefined;
      let aborted = false;
      const assign = (r: number, cur: number[], stops: number, moves: number, picks: Array<[number, number, number]>): void => {
        if (aborted) return;
        if (r === residents.length) {
          const next = dp(k + 1, cur);
          if (!next) {
            aborted = true;
            return;
          }
          const cost: Cost = [stops + next.cost[0], moves + next.cost[1]];
          if (!bestHere || better(cost, bestHere.cost)) bestHere = { cost, picks: [...picks, ...next.picks] };
          return;
        }
        const i = residents[r]!;
        const fits: number[] = [];
        if (canMigrate[i]) {
          for (let t = 0; t < hosts.length; t++) {
            if (!eligible(t) || compareVersions(platform(t), srcPlatform) < 0 || !srsOk[i]![t] || free[t]! < mem[i]!) continue;
            fits.push(t);
          }
        }
        if (fits.length === 0) {
          // stopped, restarted on its own host once that is upgraded: its location does not change
          assign(r + 1, cur, stops + 1, moves, picks);
          return;
        }
        for (const t of fits) {
          free[t] -= mem[i]!;
          const was = cur[i]!;
          cur[i] = t;
          picks.push([src, i, t]);
          assign(r + 1, cur, stops, moves + 1, picks);
          picks.pop();
          cur[i] = was;
          free[t] += mem[i]!;
        }
      };
      assign(0, [...loc], 0, 0, []);
      if (aborted || !bestHere) return undefined;
      memo.set(key, bestHere);
      return bestHere;
    };
    const res = dp(0, [...home]);
    if (!res) return undefined;
    if (!best || better(res.cost, best.cost)) {
      const targets = new Map<string, Ref>();
      for (const [src, i, t] of res.picks) targets.set(`${hosts[src]!.ref} ${vms[i]!.ref}`, hosts[t]!.ref);
      best = { cost: res.cost, choice: { order: order.map((h) => hosts[h]!.ref), targets, stops: res.cost[0], migrations: res.cost[1] } };
    }
  }
  return best?.choice;
}
