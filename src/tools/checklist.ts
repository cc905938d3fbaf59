/**
 * The Tools follow-up's pure logic (R5): which VMs still need their XenServer Tools upgraded, and whether any Tools
 * advice may be given at all. No I/O: the follow-up (./follow-up.ts), the planner, the end-of-run message and
 * `/xsupgrade tools` all decide through `toolsAdviceGate`, so no place can give advice the others would refuse.
 */
import type { Plan, ToolsEntry, ToolsFollowUp } from '../domain/types';

/** `xsupgrade serve` opens a run's Tools checklist only if the run ended less than this ago (follow-up.ts). */
export const TOOLS_OPEN_WITHIN_MS = 7 * 24 * 3_600_000;
import { compareVersions } from '../domain/versions';

export interface FinalTarget {
  product: string;
  platform: string;
  label: string;
}

/** R1.4: the version the whole chain ends on (the last hop's, planner/hops.ts), else the plan's own target. */
export function finalTargetOf(plan: Pick<Plan, 'target' | 'finalTarget' | 'hops'>): FinalTarget {
  if (!plan.finalTarget || !plan.hops?.length) return plan.target;
  const last = plan.hops.find((h) => h.target === plan.finalTarget) ?? plan.hops[plan.hops.length - 1];
  return { product: last.product, platform: last.platform, label: last.label };
}

export type ToolsGate = { ok: true } | { ok: false; reason: string; behind: Array<{ name: string; product: string }> };

/**
 * A host for the gate. `seen` says how its `product` is known, for the refusal's words (messages say what the bot
 * observed): absent, read from the live pool just now; 'at-end', read by the end audit at the end of the run;
 * 'left-pool', not in the pool at the end (always counted behind: the run did not bring it to the target);
 * 'not-read', not read at the end, `product` being the plan's version before the run.
 */
export interface GateHost {
  name: string;
  product: string;
  /** its build, as seen (`seen`); absent when not known */
  build?: string;
  /**
   * the build its target wants, set only when that target is the final version: a host on the final product but
   * another build is then below it (the end audit counts it behind, isOnTarget); absent, the product alone decides
   */
  targetBuild?: string;
  seen?: 'at-end' | 'left-pool' | 'not-read';
}

/** On the final product, but not the build its target wants. */
const otherBuild = (h: GateHost, final: string): boolean => !!h.targetBuild && h.build !== h.targetBuild && compareVersions(h.product, final) === 0;

/** One host below the final version, in words that say how the bot knows its version. */
function belowWords(h: GateHost, final: string): string {
  const version = h.product || 'an unknown version';
  switch (h.seen) {
    case 'at-end':
      if (otherBuild(h, final)) return `${h.name} runs ${version}${h.build ? ` build ${h.build}` : ''}, not the target's build ${h.targetBuild} (read at the end of the run)`;
      return `${h.name} runs ${version} (read at the end of the run)`;
    case 'left-pool':
      return `${h.name} has left the pool`;
    case 'not-read':
      return `${h.name} was not read at the end; by the plan it ran ${version} before the run`;
    default:
      if (otherBuild(h, final)) return `${h.name} still runs ${version}${h.build ? ` build ${h.build}` : ''}, not the target's build ${h.targetBuild}`;
      return `${h.name} still runs ${version}`;
  }
}

/**
 * R5.1/R5.3: Tools advice only once every host runs the final version. `hosts` are the live pool's (or, for a plan,
 * the versions its hosts will have after it; for the end of a run, the end audit's). Refuses with why, naming the
 * hosts still below.
 */
export function toolsAdviceGate(hosts: ReadonlyArray<GateHost>, final: Pick<FinalTarget, 'product'>): ToolsGate {
  const short = shortVersion(final.product);
  if (!final.product) return { ok: false, reason: 'Tools advice waits for a known final version (R5.3)', behind: [] };
  if (hosts.length === 0) return { ok: false, reason: `Tools advice waits until every host runs ${short} (R5.3): the pool's hosts could not be read`, behind: [] };
  const below = hosts.filter((h) => h.seen === 'left-pool' || compareVersions(h.product, final.product) < 0 || otherBuild(h, final.product));
  if (below.length === 0) return { ok: true };
  const shown = below.slice(0, 5).map((h) => belowWords(h, final.product));
  const more = below.length > 5 ? ` and ${below.length - 5} more` : '';
  const behind = below.map((h) => ({ name: h.name, product: h.product }));
  return { ok: false, reason: `Tools advice waits until every host runs ${short} (R5.3): ${shown.join(', ')}${more}`, behind };
}

/** A guest's Tools as VM_guest_metrics shows them. */
export interface GuestTools {
  vm: string;
  uuid: string;
  /** "7.6.0" from PV_drivers_version major.minor.micro; null: no drivers reported */
  tools: string | null;
}

/**
 * VM_guest_metrics.PV_drivers_version → "major.minor.micro" (xapi's map: major, minor, micro, build); null when the
 * drivers reported no version (no guest agent, or an HVM guest without PV drivers).
 */
export function pvDriversVersion(map: Record<string, string> | null | undefined): string | null {
  if (!map || map.major === undefined || map.minor === undefined) return null;
  return [map.major, map.minor, map.micro ?? '0'].join('.');
}

/**
 * The VMs whose Tools are below `needed`, sorted by name. Guests reporting no drivers are left out, as in the plan
 * (the bot cannot follow what a guest does not report).
 */
export function toolsChecklist(guests: ReadonlyArray<GuestTools>, needed: string): ToolsEntry[] {
  return guests
    .filter((g) => g.tools !== null && compareVersions(g.tools, needed) < 0)
    .map((g) => ({ vm: g.vm, uuid: g.uuid, current: g.tools, needed }))
    .sort((a, b) => (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0));
}

/**
 * A fresh reading of the pending VMs (by uuid) applied to the list: a VM now at `needed` moves to done; a VM that no
 * longer exists leaves the list (said in `gone`); a changed version is kept. `changed` says whether anything moved.
 */
export function applyReadings(
  state: Pick<ToolsFollowUp, 'pending' | 'done' | 'needed'>,
  readings: ReadonlyMap<string, string | null | 'gone'>,
): { pending: ToolsEntry[]; done: string[]; gone: string[]; changed: boolean } {
  const pending: ToolsEntry[] = [];
  const done = [...state.done];
  const gone: string[] = [];
  let changed = false;
  for (const e of state.pending) {
    const r = readings.get(e.uuid);
    if (r === undefined) {
      pending.push(e); // not read this time: unchanged
    } else if (r === 'gone') {
      gone.push(e.vm);
      changed = true;
    } else if (r !== null && compareVersions(r, state.needed) >= 0) {
      done.push(e.vm);
      changed = true;
    } else {
      if (r !== e.current) changed = true;
      pending.push({ ...e, current: r });
    }
  }
  return { pending, done, gone, changed };
}

/** The follow-up is over: nothing left, dismissed, or a newer run of the pool took over. */
export function isClosed(f: ToolsFollowUp): boolean {
  return f.dismissed !== undefined || f.pending.length === 0 || f.supersededBy !== undefined;
}

/**
 * When the next reminder is due: every `everyMs` after the list opened. Slot k is due at openedAt + k × everyMs
 * (k ≥ 1); its notice key makes it go out once (claimed in the store) across restarts and replicas.
 */
export function reminderDue(f: ToolsFollowUp, runId: string, now: number, everyMs: number): { key: string; slot: number } | undefined {
  if (isClosed(f) || everyMs <= 0) return undefined;
  const slot = Math.floor((now - f.openedAt) / everyMs);
  if (slot < 1) return undefined;
  return { key: `tools:${runId}:${slot}`, slot };
}

/** "7.6.0" → "7.6" for people; other versions as they are. */
export function shortVersion(v: string): string {
  return v.replace(/^(\d+\.\d+)\.0$/, '$1');
}
