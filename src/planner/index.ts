import type { HostInfo, HostPlan, Plan, PlanStep, PoolSnapshot, PrecheckFix, Ref } from '../domain/types';
import { compareVersions } from '../domain/versions';
import { boundNote } from './bound';
import type { HopContext, PlanOptions, PrecheckContext } from './context';
import { hopMode, resolveChain } from './hops';
import { canonicalJson, sha256Hex } from './hash';
import { mobilityMap } from './mobility';
import { chooseOrder } from './order';
import { HostPath, findTarget, resolveHostPath } from './paths';
import type { PlacementResult } from './placement';
import { runPrechecks } from './prechecks';
import { backupStep, hostSteps, poolFinishStep, poolPrepStep } from './steps';
import { toolsAdviceGate, type ToolsGate } from '../tools/checklist';
import { planUpdates, withUpdateSteps } from './updates';

export type { PlanOptions } from './context';
export { loadUpgradePaths, parseUpgradePaths, findTarget, resolveHostPath, UpgradePathError } from './paths';
export type { UpgradePathTable, UpgradeTarget, HostPath } from './paths';
export { findChain, resolveChain, isFinalHop, chainText } from './hops';
export type { ChainHop, ChainResult } from './hops';
export { placeEvacuation } from './placement';
export type { EvacuationInput, EvacuationPlacement, UnplacedVm } from './placement';

/**
 * The pure planner: (snapshot, options) → Plan. No I/O and no clock: the same snapshot and options always give
 * the same plan and the same id (sha256 of the canonical plan without `id` and `createdAt`).
 */
export function buildPlan(input: PoolSnapshot, opts: PlanOptions): Plan {
  const snapshot = normalise(input);
  const final = findTarget(opts.paths, opts.target);
  if (!final) return planFor(snapshot, opts, undefined, undefined);
  // R1.4: hosts with no direct path go through the table's intermediate targets, one rolling upgrade per hop
  const chain = resolveChain(opts.paths, final, snapshot.hosts.map((h) => h.version.product), {
    mode: opts.mode,
    ...(opts.media ? { media: opts.media } : {}),
    ...(opts.hopMedia ? { hopMedia: opts.hopMedia } : {}),
    ...(opts.priorHops ? { priorHops: opts.priorHops } : {}),
  });
  if (!chain.hops || !chain.current) return planFor(snapshot, opts, undefined, chain.refusal);
  const hop: HopContext = { hops: chain.hops, current: chain.current, final, nonFinal: chain.current.target !== final.id };
  // this plan is the current hop's rolling upgrade: its target and its own mode (the pools file's hops for an intermediate target)
  return planFor(snapshot, { ...opts, target: chain.current.target, mode: hop.nonFinal ? hopMode(chain.current) : opts.mode }, hop, undefined);
}

function planFor(snapshot: PoolSnapshot, opts: PlanOptions, hop: HopContext | undefined, chainRefusal: string | undefined): Plan {
  const target = findTarget(opts.paths, opts.target);
  const hosts = new Map(snapshot.hosts.map((h) => [h.ref, h]));
  const vms = new Map(snapshot.vms.map((v) => [v.ref, v]));
  const srs = new Map(snapshot.srs.map((s) => [s.ref, s]));
  const paths = new Map<Ref, HostPath>(
    snapshot.hosts.map((h) => [h.ref, target ? resolveHostPath(target, h.version.product) : { kind: 'refused', rule: 'R2.8', note: 'unknown target' }]),
  );
  const onTarget = (h: HostInfo): boolean => paths.get(h.ref)!.kind === 'done';
  // R3.10: hosts already on the target whose updates need a reboot are emptied in the same rolling order; hotfixes
  // are for the final version only, never applied on an intermediate hop (R1.4)
  const upd = planUpdates(snapshot, hop?.nonFinal ? undefined : opts.updates, target, onTarget);
  const updFor = new Map((upd.updates?.hosts ?? []).map((x) => [x.host, x]));
  const toUpgrade = target ? snapshot.hosts.filter((h) => !onTarget(h) || updFor.get(h.ref)?.restart === 'host') : [];
  const updateOnlyLight = target ? snapshot.hosts.filter((h) => onTarget(h) && updFor.has(h.ref) && updFor.get(h.ref)!.restart !== 'host') : [];
  const mobility = mobilityMap(snapshot);
  const choice = target
    ? chooseOrder({ snapshot, toUpgrade, targetPlatform: target.platform, mobility, returnPolicy: opts.returnPolicy })
    : { order: [] as Ref[], placement: emptyPlacement(), search: { outcome: 'optimal' as const, placements: 0, nodes: 0 } };
  const order = choice.order.map((r) => hosts.get(r)!);
  const upgradeOrder = order.filter((h) => !onTarget(h));
  const placement = choice.placement;

  // R5.3: Tools advice only if every host will run the final version once this plan is done (never after a middle hop)
  const final = hop ? hop.final : target;
  const toolsGate: ToolsGate | undefined =
    target && final
      ? toolsAdviceGate(
          snapshot.hosts.map((h) => ({ name: h.name, product: paths.get(h.ref)!.kind === 'refused' ? h.version.product : target.product })),
          final,
        )
      : undefined;
  const toolsUpgrade = target && final && !hop?.nonFinal && toolsGate?.ok
    ? snapshot.vms
        .filter((v) => v.toolsVersion !== null && compareVersions(v.toolsVersion, final.product) < 0)
        .map((v) => v.name)
        .sort()
    : [];

  const ctx: PrecheckContext = {
    opts,
    target,
    paths,
    order: upgradeOrder,
    placement,
    mobility,
    hosts,
    vms,
    srs,
    hostName: (ref) => (ref ? (hosts.get(ref)?.name ?? ref) : '-'),
    ...(hop ? { hop } : {}),
    ...(chainRefusal ? { chainRefusal } : {}),
  };
  // R3.10: a host on the target that gets updates is not "nothing to do"
  const prechecks = [...runPrechecks(snapshot, ctx, toolsUpgrade, toolsGate), ...upd.prechecks].map((p) =>
    updFor.size && (p.id === 'host-done' || p.id === 'pool-up-to-date') ? { ...p, message: p.message.replace(/: (nothing to do there|no host to upgrade)$/, ': no upgrade needed; hotfixes below (R3.10)') } : p,
  );

  const steps: PlanStep[] = [];
  const hostPlans: HostPlan[] = [];
  if (target && (order.length > 0 || updateOnlyLight.length > 0)) {
    steps.push(backupStep(snapshot.pool.rollingUpgradeInProgress, opts.lastUsableBackup));
    const prepFixes: PrecheckFix[] = [];
    if (snapshot.pool.haEnabled) prepFixes.push({ kind: 'disable-ha' });
    const eject = prechecks.find((p) => p.fix.kind === 'eject-cds');
    if (eject) prepFixes.push(eject.fix);
    const cycle = prechecks.find((p) => p.fix.kind === 'cycle-suspended-cds');
    if (cycle) prepFixes.push(cycle.fix);
    if (prepFixes.length) steps.push(poolPrepStep(prepFixes));
    let uploaded = false;
    for (const h of [...order, ...updateOnlyLight]) {
      const hp = placement.perHost.get(h.ref) ?? { host: h.ref, migrations: [], stops: [], moveBack: [], staysAway: [] };
      let hs = hostSteps(h, hp, { mode: opts.mode, target, vms, moveBack: opts.returnPolicy === 'original' });
      const hu = updFor.get(h.ref);
      if (hu && upd.updates) {
        hs = withUpdateSteps(h, hs, hu, upd.updates, !uploaded, onTarget(h));
        uploaded = true;
      }
      steps.push(...hs);
      hostPlans.push(hostPlan(h, target, false, hp.migrations.concat(hp.moveBack), hp.stops, hs));
    }
    steps.push(poolFinishStep(snapshot.pool.haEnabled, toolsUpgrade.length, hop?.nonFinal ? hop : undefined, uploaded));
  }
  for (const h of snapshot.hosts) {
    if (target && onTarget(h) && !updFor.has(h.ref)) hostPlans.push(hostPlan(h, target, true, [], [], []));
  }

  const body: Omit<Plan, 'id' | 'createdAt'> = {
    pool: opts.pool,
    target: target ? { product: target.product, platform: target.platform, label: target.label } : { product: '', platform: '', label: opts.target },
    mode: opts.mode,
    returnPolicy: opts.returnPolicy,
    prechecks,
    executable: !prechecks.some((p) => p.severity === 'blocker'),
    hosts: hostPlans,
    steps,
    migrations: { planned: placement.planned, lowerBound: placement.lowerBound, ...withNote(boundNote(placement, choice.search)) },
    estimateSeconds: steps.reduce((s, st) => s + st.expectedSeconds, 0),
    toolsUpgrade,
    ...(hop ? { finalTarget: hop.final.id, hops: hop.hops } : {}),
    ...(upd.updates ? { updates: upd.updates } : {}),
  };
  return { id: planId(body), createdAt: snapshot.takenAt, ...body };
}

/** sha256 over the canonical plan content, excluding `id` and `createdAt`. */
export function planId(plan: Omit<Plan, 'id' | 'createdAt'> & { id?: string; createdAt?: number }): string {
  const { id: _id, createdAt: _c, ...body } = plan;
  return sha256Hex(canonicalJson(body));
}

function hostPlan(h: HostInfo, target: { product: string; platform: string }, done: boolean, migrations: HostPlan['migrations'], stops: HostPlan['stops'], steps: PlanStep[]): HostPlan {
  return {
    host: h.ref,
    name: h.name,
    isMaster: h.isMaster,
    from: h.version,
    to: { product: target.product, platform: target.platform },
    alreadyDone: done,
    migrations,
    stops: stops.map(({ vm, vmName, host, action, reason }) => ({ vm, vmName, host, action, reason })),
    stepIds: steps.map((s) => s.id),
  };
}

function emptyPlacement(): PlacementResult {
  return { order: [], perHost: new Map(), planned: 0, lowerBound: 0, movedTwice: 0, stops: 0, parked: { memory: 0, storage: 0, network: 0, cpu: 0 } };
}

const withNote = (note: string | undefined): { boundNote?: string } => (note ? { boundNote: note } : {});

const byNameRef = <T extends { name: string; ref: string }>(a: T, b: T): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0;

/** The snapshot in a canonical order, so the plan does not depend on the order records arrived in. */
function normalise(s: PoolSnapshot): PoolSnapshot {
  return {
    ...s,
    hosts: [...s.hosts].sort(byNameRef),
    vms: [...s.vms].sort(byNameRef),
    srs: [...s.srs].sort(byNameRef),
    tasks: [...s.tasks].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0)),
  };
}
