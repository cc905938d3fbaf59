/**
 * R3.10 in the plan: the updates of the operator's repository for the target, which host gets which (prerequisites
 * first), what they cost, and the steps that apply them. Pure: the repository was read before planning
 * (src/updates/repository.ts) and comes in PlanOptions.updates.
 *
 * Fewest reboots, no extra migration: a host being upgraded gets its updates right after it is back on the target,
 * while it is still empty and disabled, so one reboot (or a toolstack restart, or nothing) covers them all before its
 * VMs come back; its approval gate covers that reboot too. A host already on the target gets the same steps without
 * the upgrade, in the same rolling order and behind its own gate.
 */
import type { HostInfo, HostUpdatePlan, PlanStep, PlanUpdate, PlanUpdates, PoolSnapshot, Precheck } from '../domain/types';
import { compareVersions } from '../domain/versions';
import { orderUpdates, restartNeed, RESTART_WORDS, UpdateOrderError } from '../updates/order';
import type { AfterApplyGuidance } from '../updates/metadata';
import { listNames, plural } from './context';
import type { UpdatesInput } from '../updates/input';
import type { UpgradeTarget } from './paths';

export type { UpdatesInput } from '../updates/input';

export const UPDATE_SECONDS = { uploadPerMiB: 0.1, introduce: 10, precheck: 90, apply: 120, reboot: 600, toolstack: 90 };

const precheck = (severity: Precheck['severity'], message: string, hosts: string[] = []): Precheck => ({
  id: 'updates',
  rule: 'R3.10',
  severity,
  subjects: { hosts, vms: [] },
  message,
  fix: { kind: 'none' },
});

export function planUpdates(
  snapshot: PoolSnapshot,
  input: UpdatesInput | undefined,
  target: UpgradeTarget | undefined,
  onTargetAlready: (h: HostInfo) => boolean,
): { updates?: PlanUpdates; prechecks: Precheck[] } {
  if (!input || !target) return { prechecks: [] };
  const prechecks: Precheck[] = input.problems.map((p) => precheck('blocker', `Update repository: ${p}. Fix the repository (or remove updateRepository from the pools file) and plan again.`));
  const fits = (u: UpdatesInput['updates'][number]): boolean => {
    const c = compareVersions(target.product, u.requires.version);
    return u.requires.test === 'eq' ? c === 0 : c >= 0;
  };
  const forTarget = input.updates.filter(fits);
  const others = input.updates.filter((u) => !fits(u));
  if (others.length) prechecks.push(precheck('info', `Not for ${target.product}, left out: ${listNames(others.map((u) => `${u.name} (for ${u.requires.version})`), 4)}.`));
  const names = new Map<string, string>([...Object.entries(input.poolNames ?? {}), ...input.updates.map((u) => [u.uuid, u.name] as [string, string])]);
  const items = new Map(forTarget.map((u) => [u.uuid, u]));
  const hosts: HostUpdatePlan[] = [];
  const appliedSomewhere = new Set(Object.values(input.applied ?? {}).flat());
  let ordered: PlanUpdate[];
  try {
    ordered = orderUpdates(forTarget.map((u) => ({ ...u, nameLabel: u.name })), appliedSomewhere, names);
  } catch (e) {
    if (!(e instanceof UpdateOrderError)) throw e;
    // a cycle blocks here; a missing prerequisite is said per host below
    if (!/neither in the update repository/.test(e.message)) prechecks.push(precheck('blocker', `Updates cannot be ordered: ${e.message}.`));
    ordered = [...forTarget].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  for (const h of [...snapshot.hosts].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    // an installer upgrade starts with no update applied; a host already on the target keeps what it has
    const done = onTargetAlready(h);
    const applied = new Set(done ? (input.applied?.[h.ref] ?? []) : []);
    const wanted = forTarget.filter((u) => !applied.has(u.uuid));
    if (!wanted.length) continue;
    let order: string[];
    try {
      order = orderUpdates(wanted.map((u) => ({ ...u, nameLabel: u.name })), applied, names).map((u) => u.uuid);
    } catch (e) {
      if (!(e instanceof UpdateOrderError)) throw e;
      if (/neither in the update repository/.test(e.message)) prechecks.push(precheck('blocker', `${h.name}: ${e.message}.`, [h.name]));
      continue;
    }
    const restart = restartNeed(order.map((id) => ({ uuid: id, guidance: items.get(id)!.guidance as AfterApplyGuidance[] })));
    hosts.push({ host: h.ref, name: h.name, updates: order, restart });
  }
  if (!forTarget.length && !input.problems.length) prechecks.push(precheck('info', `The update repository ${input.repository} has no update for ${target.product}.`));
  const extraReboots = hosts.filter((x) => x.restart === 'host').length;
  const updates: PlanUpdates = {
    repository: input.repository,
    items: ordered.map(({ uuid, name, version, description, guidance, prerequisites, source, size }) => ({ uuid, name, version, description, guidance, prerequisites, source, size })),
    hosts,
    extraReboots,
  };
  if (hosts.length) {
    prechecks.push(
      precheck(
        'info',
        `Hotfixes (R3.10): ${plural(updates.items.length, 'update')} from ${input.repository} (${listNames(updates.items.map((u) => u.name), 6)}), uploaded once, ` +
          `applied to each host while it is empty, before its VMs come back: ${plural(extraReboots, 'extra reboot')}, no extra migration.`,
        hosts.map((x) => x.name),
      ),
    );
  }
  return { updates, prechecks };
}

const updateWords = (hu: HostUpdatePlan): string => `${plural(hu.updates.length, 'update')} (${RESTART_WORDS[hu.restart]})`;

export function uploadStep(host: HostInfo, updates: PlanUpdates): PlanStep {
  const mib = updates.items.reduce((s, u) => s + u.size, 0) / 1024 ** 2;
  return {
    host: host.ref,
    hostName: host.name,
    id: `${host.name}:upload-updates`,
    kind: 'upload-updates',
    description: `Upload the ${plural(updates.items.length, 'update ISO')} not yet in the pool, once (VDI.create + PUT /import_raw_vdi, ${mib.toFixed(0)} MiB), and introduce them (pool_update.introduce) (R3.10)`,
    expectedSeconds: Math.round(mib * UPDATE_SECONDS.uploadPerMiB + updates.items.length * UPDATE_SECONDS.introduce),
  };
}

export function applyStep(host: HostInfo, hu: HostUpdatePlan, updates: PlanUpdates): PlanStep {
  const names = hu.updates.map((id) => updates.items.find((u) => u.uuid === id)?.name ?? id);
  const after = { host: `then reboot ${host.name} once for all of them (host.reboot)`, toolstack: 'then restart its toolstack (host.restart_agent; no reboot)', none: 'no restart needed' }[hu.restart];
  return {
    host: host.ref,
    hostName: host.name,
    id: `${host.name}:apply-updates`,
    kind: 'apply-updates',
    description: `Apply ${names.join(', ')} to ${host.name} while it is empty (pool_update.precheck + apply each), ${after} (R3.10)`,
    expectedSeconds:
      hu.updates.length * (UPDATE_SECONDS.precheck + UPDATE_SECONDS.apply) + (hu.restart === 'host' ? UPDATE_SECONDS.reboot : hu.restart === 'toolstack' ? UPDATE_SECONDS.toolstack : 0),
  };
}

/**
 * A host's steps with its updates: after wait-host (an upgraded host), or in place of upgrade + wait-host (a host on
 * the target already, whose updates need a reboot); a host whose updates need no reboot is not emptied: gate + apply.
 */
export function withUpdateSteps(host: HostInfo, steps: PlanStep[], hu: HostUpdatePlan, updates: PlanUpdates, upload: boolean, onTarget: boolean): PlanStep[] {
  const apply = applyStep(host, hu, updates);
  const pre = upload ? [uploadStep(host, updates)] : [];
  let out: PlanStep[];
  if (!onTarget) {
    const at = steps.findIndex((s) => s.kind === 'wait-host') + 1;
    out = [...steps.slice(0, at), ...pre, apply, ...steps.slice(at)];
  } else if (hu.restart === 'host') {
    out = steps.flatMap((s) => (s.kind === 'upgrade' ? [...pre, apply] : s.kind === 'wait-host' ? [] : [s]));
  } else {
    out = steps.filter((s) => s.kind === 'approval').concat(pre, apply);
  }
  return out.map((s) =>
    s.kind !== 'approval'
      ? s
      : {
          ...s,
          description: onTarget
            ? `Approval: apply ${updateWords(hu)} to ${host.name} (R3.10)${hu.restart === 'host' ? ', which shuts it down' : ''}${s.description.includes('; first') ? s.description.slice(s.description.indexOf('; first')) : ''}`
            : `${s.description}, then apply ${updateWords(hu)} while it is empty (R3.10)`,
        },
  );
}
