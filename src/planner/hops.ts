import type { Plan, PlanHop, UpgradeMode } from '../domain/types';
import { compareVersions } from '../domain/versions';
import { resolveHostPath, type UpgradePathTable, type UpgradeTarget } from './paths';

/**
 * Multi-hop upgrades (R1.4 "upgrade to a newer version first"), as a pure function over the path table (R1.6: data,
 * not code). A pool whose hosts have no direct path to the chosen target is taken through intermediate targets of
 * the table, one rolling upgrade per hop: every host of the pool ends each hop on that hop's target.
 */

export interface ChainHop {
  target: UpgradeTarget;
  /** the distinct versions the hosts come from in this hop (ascending); hosts already on the hop's target skip it */
  from: string[];
  kind: 'base-iso' | 'update-iso';
  rule: string;
  note: string;
  /** provenance of the path rows used (R1.6); confirmed only when every row used is */
  source: string;
  confirmed: boolean;
  caveat?: string;
}

export type ChainResult = { ok: true; hops: ChainHop[] } | { ok: false; reason: string };

/** More hops than this is never proposed: a longer chain is a clean install's job (R1.4's second way out). */
export const MAX_HOPS = 4;

const uniqSorted = (vs: string[]): string[] => {
  const out: string[] = [];
  for (const v of [...vs].sort(compareVersions)) if (!out.some((o) => compareVersions(o, v) === 0)) out.push(v);
  return out;
};

/** One hop of every version in `state` to `target`, or undefined when some version cannot make it directly. */
function hopTo(target: UpgradeTarget, state: string[]): ChainHop | undefined {
  const pending = state.filter((v) => compareVersions(v, target.product) !== 0);
  if (pending.length === 0) return undefined; // no progress
  const paths = pending.map((v) => resolveHostPath(target, v));
  if (paths.some((p) => p.kind !== 'base-iso' && p.kind !== 'update-iso')) return undefined;
  const kind = paths[0]!.kind as ChainHop['kind'];
  // one hop is one rolling upgrade with one mode: a hop mixing base ISO and update ISO hosts is not proposed
  if (paths.some((p) => p.kind !== kind)) return undefined;
  const unconfirmed = paths.filter((p) => !p.confirmed);
  const sources = [...new Set(paths.map((p) => p.source ?? ''))].filter(Boolean);
  const caveats = [...new Set(unconfirmed.map((p) => p.caveat ?? ''))].filter(Boolean);
  return {
    target,
    from: pending,
    kind,
    rule: paths[0]!.rule,
    note: [...new Set(paths.map((p) => p.note))].join('; '),
    source: sources.join('; '),
    confirmed: unconfirmed.length === 0,
    ...(caveats.length ? { caveat: caveats.join('; ') } : {}),
  };
}

/**
 * The shortest chain of hops taking hosts on `versions` to `final` through the table's targets (breadth first).
 * Among chains of the same length: the fewest unconfirmed hops, then the earliest targets in table order — so the
 * answer is deterministic. Intermediate targets lie strictly between the oldest host and the final target; every
 * hop's hosts must all have a direct path of one kind (one mode per rolling upgrade). A version with an explicit
 * `refused` row for `final` (R1.2) is not routed around it: the caller refuses with that row's way out.
 * Every host already on `final`: ok with no hops.
 */
export function findChain(table: UpgradePathTable, versions: string[], final: UpgradeTarget, maxHops = MAX_HOPS): ChainResult {
  const start = uniqSorted(versions);
  if (start.some((v) => compareVersions(v, final.product) > 0)) {
    return { ok: false, reason: `${start.filter((v) => compareVersions(v, final.product) > 0).join(', ')} is newer than ${final.product}: a downgrade is not possible` };
  }
  if (start.every((v) => compareVersions(v, final.product) === 0)) return { ok: true, hops: [] };
  const oldest = start[0]!;
  const intermediates = table.targets.filter(
    (t) => t !== final && compareVersions(t.product, final.product) < 0 && compareVersions(t.product, oldest) > 0,
  );
  type Partial = { state: string[]; hops: ChainHop[] };
  let frontier: Partial[] = [{ state: start, hops: [] }];
  for (let depth = 1; depth <= maxHops && frontier.length; depth++) {
    const found: ChainHop[][] = [];
    const next: Partial[] = [];
    for (const p of frontier) {
      const last = hopTo(final, p.state);
      if (last) found.push([...p.hops, last]);
      for (const t of intermediates) {
        // a hop goes forward only: every host ends the hop on t, newer than where the pool was
        if (p.state.some((v) => compareVersions(v, t.product) > 0)) continue;
        if (p.hops.some((h) => h.target === t)) continue;
        const h = hopTo(t, p.state);
        if (h) next.push({ state: [t.product], hops: [...p.hops, h] });
      }
    }
    if (found.length) {
      const unconfirmed = (c: ChainHop[]) => c.filter((h) => !h.confirmed).length;
      const order = (c: ChainHop[]) => c.map((h) => table.targets.indexOf(h.target));
      found.sort((a, b) => unconfirmed(a) - unconfirmed(b) || compareIndexLists(order(a), order(b)));
      return { ok: true, hops: found[0]! };
    }
    frontier = next;
  }
  return {
    ok: false,
    reason: `no chain of at most ${maxHops} hops through the path table takes ${start.join(', ')} to ${final.product}`,
  };
}

function compareIndexLists(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** "6.5.0 → 7.1.1 → 7.6.0" */
export function chainText(hops: Array<Pick<PlanHop, 'from' | 'product'>>): string {
  if (!hops.length) return '';
  return [hops[0]!.from.join('/'), ...hops.map((h) => h.product)].join(' → ');
}

/**
 * Is this plan the last hop of its chain (or a plan with no chain)? R5.3: Tools are never upgraded to an intermediate
 * version, so every Tools list and reminder is withheld while this is false.
 */
export function isFinalHop(plan: Pick<Plan, 'finalTarget' | 'hops'>): boolean {
  if (!plan.finalTarget || !plan.hops) return true;
  const current = plan.hops.find((h) => h.status === 'this');
  return !current || current.target === plan.finalTarget;
}

export interface ChainOptions {
  /** mode and media of the final target (the pool's upgrade settings) */
  mode: UpgradeMode;
  media?: string;
  /** mode and media of intermediate targets, by path-table id */
  hopMedia?: Record<string, { mode: UpgradeMode; media: string }>;
  /** hops already done by earlier runs of this chain */
  priorHops?: PlanHop[];
}

/**
 * The hops of the plan for hosts on `versions` going to `final`: undefined hops when the plan is an ordinary direct
 * one; `refusal` when hosts have no direct path (R1.4) and no chain exists either. When re-planning between hops,
 * `priorHops` come first (done) and the direct path that is left is the last hop.
 */
export function resolveChain(
  table: UpgradePathTable,
  final: UpgradeTarget,
  versions: string[],
  o: ChainOptions,
): { hops?: PlanHop[]; current?: PlanHop; refusal?: string } {
  const known = versions.filter((v) => v !== '');
  const paths = known.map((v) => resolveHostPath(final, v));
  const prior = (o.priorHops ?? []).map((h) => ({ ...h, status: 'done' as const }));
  const needsChain = paths.some((p) => p.noRow) && !paths.some((p) => p.kind === 'newer' || (p.kind === 'refused' && !p.noRow));
  if (!needsChain && prior.length === 0) return {};
  const found = findChain(table, known, final);
  if (!found.ok) return needsChain ? { refusal: found.reason } : {};
  if (found.hops.length === 0 || (!needsChain && found.hops.length !== 1)) return {};
  const mediaOf = (t: UpgradeTarget, kind: ChainHop['kind']): { mode: UpgradeMode | null; media: string } => {
    if (t === final) return { mode: o.mode, media: o.media ?? mediaWords(o.mode, kind) };
    const m = o.hopMedia?.[t.id];
    return m ? { mode: m.mode, media: m.media } : { mode: null, media: 'not configured (pools file: hops)' };
  };
  const hops: PlanHop[] = [
    ...prior,
    ...found.hops.map((h, i): PlanHop => ({
      index: prior.length + i + 1,
      target: h.target.id,
      label: h.target.label,
      product: h.target.product,
      platform: h.target.platform,
      from: h.from,
      kind: h.kind,
      ...mediaOf(h.target, h.kind),
      rule: h.rule,
      note: h.note,
      source: h.source,
      confirmed: h.confirmed,
      ...(h.caveat ? { caveat: h.caveat } : {}),
      status: i === 0 ? 'this' : 'later',
    })),
  ];
  return { hops, current: hops.find((h) => h.status === 'this')! };
}

function mediaWords(mode: UpgradeMode, kind: ChainHop['kind']): string {
  if (mode === 'manual') return 'the base install ISO, booted by hand';
  return kind === 'update-iso' ? 'the update ISO' : 'the base install ISO';
}

/** The mode a hop's plan runs in: its configured one, else the one its path needs (the plan then blocks on media). */
export function hopMode(h: PlanHop): UpgradeMode {
  return h.mode ?? (h.kind === 'update-iso' ? 'update' : 'manual');
}
