import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';
import { chainText } from '../hops';

/**
 * R1.4 multi-hop: what the chain is and which hop this plan runs; R1.6 every path row the plan relies on that the
 * vendor documentation kept with the project does not confirm (a warning: the operator decides); a hop with no media
 * configured blocks (never a silent switch of mode); R5.3 Tools are left alone until the last hop.
 */
export function multiHopChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const out: Precheck[] = [];
  const none = { hosts: [] as string[], vms: [] as string[] };
  const hop = ctx.hop;
  if (!hop) {
    // a direct plan: its own rows may still be unconfirmed (R1.6)
    const unconfirmed = new Map<string, { hosts: string[]; caveat: string; source: string }>();
    for (const h of snapshot.hosts) {
      const p = ctx.paths.get(h.ref);
      if (!p || p.confirmed !== false || (p.kind !== 'base-iso' && p.kind !== 'update-iso')) continue;
      const key = `${h.version.product}`;
      const e = unconfirmed.get(key) ?? { hosts: [], caveat: p.caveat ?? '', source: p.source ?? '' };
      e.hosts.push(h.name);
      unconfirmed.set(key, e);
    }
    for (const [from, e] of unconfirmed) {
      out.push({
        id: 'path-unconfirmed',
        rule: 'R1.6',
        severity: 'warning',
        subjects: { hosts: e.hosts, vms: [] },
        message: `the path ${from} → ${ctx.target?.product} is not confirmed by the vendor documentation the bot carries (source: ${e.source})`,
        fix: { kind: 'manual', guidance: e.caveat },
      });
    }
    return out;
  }
  const { hops, current, final } = hop;
  const ahead = hops.filter((h) => h.status !== 'done');
  out.push({
    id: 'multi-hop',
    rule: 'R1.4',
    severity: 'info',
    subjects: none,
    message:
      `no direct path to ${final.product}: the pool goes ${chainText(ahead)} in ${hops.length} hops, each its own rolling upgrade (R1.4); ` +
      `this plan is hop ${current.index} of ${hops.length} (${current.label}, ${current.mode ?? 'no'} mode)` +
      (hop.nonFinal
        ? `; hop ${current.index + 1} is planned from the live pool once this one is done, posted in the run's thread, and starts only when someone starts it`
        : '') +
      (hops.some((h) => h.status === 'done') ? `; done already: ${hops.filter((h) => h.status === 'done').map((h) => `hop ${h.index} (${h.label}${h.runId ? `, run ${h.runId}` : ''})`).join(', ')}` : ''),
    fix: { kind: 'none' },
  });
  for (const h of ahead) {
    if (h.confirmed) continue;
    out.push({
      id: 'path-unconfirmed',
      rule: 'R1.6',
      severity: 'warning',
      subjects: none,
      message: `hop ${h.index} (${h.from.join('/')} → ${h.product}, ${h.kind === 'base-iso' ? 'base ISO' : 'update ISO'}) is not confirmed by the vendor documentation the bot carries (source: ${h.source})`,
      fix: { kind: 'manual', guidance: h.caveat ?? 'check the vendor documentation of that version' },
    });
  }
  for (const h of ahead) {
    if (h.mode !== null) continue;
    out.push({
      id: 'hop-media',
      rule: 'R1.4',
      severity: h.status === 'this' ? 'blocker' : 'warning',
      subjects: none,
      message: `hop ${h.index} to ${h.label} needs ${h.kind === 'base-iso' ? 'the base install ISO of' : 'the update ISO of'} ${h.product}, and the pools file names no media for target ${h.target}`,
      fix: {
        kind: 'manual',
        guidance: `add to the pool in the pools file: hops: [{ target: "${h.target}", upgrade: { mode: ${h.kind === 'base-iso' ? 'automatic, repositoryUrl: <its install repository>' : 'update, updateIso: <its update>'} } }] (or mode: manual)`,
      },
    });
  }
  if (hop.nonFinal) {
    const old = snapshot.vms.filter((v) => v.toolsVersion !== null && v.toolsVersion !== '').length;
    if (old > 0) {
      out.push({
        id: 'tools-after-last-hop',
        rule: 'R5.3',
        severity: 'info',
        subjects: none,
        message: `XenServer Tools are not touched at this hop: never to an intermediate version; the last hop's plan lists them (R5.3)`,
        fix: { kind: 'none' },
      });
    }
  }
  return out;
}

/** The refusal of hosts with no direct path when no chain exists either (R1.4), in words. */
export function noChainWords(ctx: PrecheckContext, names: string[]): string {
  return ctx.chainRefusal ? `; no chain through the path table for ${listNames(names)}: ${ctx.chainRefusal}` : '';
}
