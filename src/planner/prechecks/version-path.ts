import type { HostInfo, PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';
import { targetNames } from '../paths';
import { noChainWords } from './multi-hop';

/** R1.1–R1.4 for every host, the upgrade mode against the path, R2.8 the target itself, R3.2/R3.5 resume. */
export function versionPathChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const target = ctx.target;
  if (!target) {
    return [
      {
        id: 'target-unknown',
        rule: 'R2.8',
        severity: 'blocker',
        subjects: { hosts: [], vms: [] },
        message: `the bot does not know target "${ctx.opts.target}"; it knows ${targetNames(ctx.opts.paths).join(', ')}`,
        fix: { kind: 'manual', guidance: 'choose a known target, or add the target and its paths to manifests/upgrade-paths.yaml (R1.6)' },
      },
    ];
  }
  const out: Precheck[] = [];
  const groups = new Map<string, HostInfo[]>();
  for (const h of snapshot.hosts) {
    const p = ctx.paths.get(h.ref)!;
    const key = h.version.product === '' ? 'unknown' : `${p.kind}|${p.rule}|${h.version.product}`;
    groups.set(key, [...(groups.get(key) ?? []), h]);
  }
  for (const [key, hosts] of groups) {
    const names = hosts.map((h) => h.name);
    const subjects = { hosts: names, vms: [] };
    if (key === 'unknown') {
      out.push({
        id: 'version-unknown',
        rule: 'R1.4',
        severity: 'blocker',
        subjects,
        message: `${listNames(names)}: software_version.product_version is missing, so no upgrade path can be chosen`,
        fix: { kind: 'manual', guidance: 'check the host with `xe host-param-get param-name=software_version`; the plan refuses what it cannot verify' },
      });
      continue;
    }
    const h0 = hosts[0];
    const p = ctx.paths.get(h0.ref)!;
    const from = h0.version.product;
    switch (p.kind) {
      case 'done':
        out.push({
          id: 'host-done',
          rule: 'R3.5',
          severity: 'info',
          subjects,
          message: `${listNames(names)} already on ${target.product}: nothing to do there`,
          fix: { kind: 'none' },
        });
        break;
      case 'base-iso':
      case 'update-iso': {
        const how = p.kind === 'base-iso' ? 'the base install ISO (upgrade)' : 'the update ISO (applied like a hotfix)';
        out.push({
          id: 'version-path',
          rule: p.rule,
          severity: 'info',
          subjects,
          message: `${listNames(names)}: ${from} → ${target.product} with ${how}`,
          fix: { kind: 'none' },
        });
        const wantsUpdate = ctx.opts.mode === 'update';
        if ((p.kind === 'base-iso') === wantsUpdate) {
          out.push({
            id: 'upgrade-mode',
            rule: p.rule,
            severity: 'blocker',
            subjects,
            message: `${listNames(names)} on ${from} need ${how}, but the mode is ${ctx.opts.mode}`,
            fix: {
              kind: 'manual',
              guidance: p.kind === 'base-iso' ? 'plan with --mode automatic (install repository) or --mode manual' : 'plan with --mode update and the update ISO of the target',
            },
          });
        }
        break;
      }
      case 'refused':
        out.push({
          id: 'version-path',
          rule: p.rule,
          severity: 'blocker',
          subjects,
          message: `${listNames(names)}: ${from} cannot be upgraded to ${target.product} directly (${p.note})`,
          fix: { kind: 'manual', guidance: `${p.wayOut ?? 'see the upgrade guide'}${p.noRow ? noChainWords(ctx, names) : ''}` },
        });
        break;
      case 'newer':
        out.push({
          id: 'version-newer',
          rule: 'R1.4',
          severity: 'blocker',
          subjects,
          message: `${listNames(names)}: ${from} is newer than the target ${target.product}`,
          fix: { kind: 'manual', guidance: p.wayOut ?? 'choose a newer target' },
        });
        break;
    }
  }

  const done = snapshot.hosts.filter((h) => ctx.paths.get(h.ref)?.kind === 'done');
  const master = snapshot.hosts.find((h) => h.isMaster);
  if (done.length > 0 && done.length < snapshot.hosts.length && master) {
    const masterDone = done.includes(master);
    out.push({
      id: 'partially-upgraded',
      rule: 'R3.5',
      severity: 'info',
      subjects: { hosts: done.map((h) => h.name), vms: [] },
      message: masterDone
        ? `half-upgraded pool: ${done.length} of ${snapshot.hosts.length} hosts on ${target.product}; the plan resumes with the remaining hosts`
        : `half-upgraded pool: ${listNames(done.map((h) => h.name))} already on ${target.product} but the master ${master.name} is not: the master goes first (R3.2)`,
      fix: { kind: 'none' },
    });
  }
  if (done.length === snapshot.hosts.length && snapshot.hosts.length > 0) {
    out.push({
      id: 'pool-up-to-date',
      rule: 'R3.5',
      severity: 'info',
      subjects: { hosts: [], vms: [] },
      message: `every host is already on ${target.product}: no host to upgrade`,
      fix: { kind: 'none' },
    });
  }
  return out;
}
