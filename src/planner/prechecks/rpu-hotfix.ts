import type { PoolSnapshot, Precheck } from '../../domain/types';
import { rpuHotfixFor } from '../../domain/versions';
import { PrecheckContext, listNames } from '../context';

/** Automatic mode (R3.9): every host to upgrade has its RPU hotfix applied, else the plan blocks with the way out. */
export function rpuHotfixChecks(_snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  if (ctx.opts.mode !== 'automatic' || ctx.order.length === 0 || !ctx.target) return [];
  const repo = ctx.opts.repository;
  const needing = ctx.order.map((h) => ({ h, hotfix: rpuHotfixFor(h.version.product) })).filter((x) => x.hotfix !== null);
  if (needing.length === 0) return [];
  // not read at all (a pure planner call): nothing to say; the I/O halves (live-plan.ts, core) always read it
  if (!repo?.hotfixes && !repo?.hotfixError) return [];
  if (!repo.hotfixes) {
    return [
      {
        id: 'rpu-hotfix-unknown',
        rule: 'R3.9',
        severity: 'blocker',
        subjects: { hosts: needing.map((x) => x.h.name), vms: [] },
        message: `the applied updates could not be read (${repo.hotfixError}), so the RPU hotfix the automatic mode needs (${[...new Set(needing.map((x) => x.hotfix))].join(', ')}) cannot be checked`,
        fix: { kind: 'manual', guidance: 'plan again once the pool answers, or use manual mode (upgrade.mode: manual)' },
      },
    ];
  }
  const missing = needing.filter((x) => !(repo.hotfixes![x.h.ref] ?? []).includes(x.hotfix!));
  if (missing.length === 0) return [];
  const byHotfix = new Map<string, string[]>();
  for (const x of missing) byHotfix.set(x.hotfix!, [...(byHotfix.get(x.hotfix!) ?? []), x.h.name]);
  const what = [...byHotfix.entries()].map(([fix, hosts]) => `${fix} missing on ${listNames(hosts)}`).join('; ');
  return [
    {
      id: 'rpu-hotfix',
      rule: 'R3.9',
      severity: 'blocker',
      subjects: { hosts: missing.map((x) => x.h.name), vms: [] },
      message: `automatic mode needs the vendor's rolling-upgrade hotfix on every host, as XenCenter requires: ${what} (its upgrade plugin may lack functions or refuse the repository)`,
      fix: {
        kind: 'manual',
        guidance: `apply ${[...byHotfix.keys()].join(' / ')} to those hosts (xe update-upload, then xe update-apply on each host), or use manual mode (upgrade.mode: manual); then plan again`,
      },
    },
  ];
}
