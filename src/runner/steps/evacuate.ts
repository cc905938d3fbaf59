/**
 * R3.1/R3.7: move every running VM off the host with Async.VM.pool_migrate, a few at a time, per the planned
 * placement. Level-triggered: VMs already gone are recorded and skipped. When the live state no longer fits the
 * plan (a target is down, full or older, or a VM appeared on the host), the placement of the remaining VMs is
 * recomputed under the same rules (../placement.ts) and the thread says so. VMs the plan stops instead
 * (stop-vms) stay. Each moved VM is recorded with where it went, for move-back.
 */
import type { Migration, Ref } from '../../domain/types';
import { compareVersions } from '../../domain/versions';
import { StepFailure, toStepError } from '../errors';
import { placeVms, type PlacementHost } from '../placement';
import { hostByRef, readLivePool, vmByRef, vmsOn, type LivePool } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';
import { mapLimited, requireHost, serialSaver, stepHostName, stepHostRef } from './common';

export interface MovedVm {
  name: string;
  to: Ref;
  toName: string;
}

interface Move {
  vm: Ref;
  vmName: string;
  to: Ref;
  toName: string;
}

/** VMs the plan stops on this host rather than moving them (R2.5/R2.6). */
function plannedStops(ctx: StepContext): Set<Ref> {
  const hostName = stepHostName(ctx);
  const stopStep = ctx.run.plan.steps.find((s) => s.id === `${hostName}:stop-vms`);
  return new Set([...(stopStep?.stops ?? []), ...(ctx.hostPlan?.stops ?? [])].map((s) => s.vm));
}

async function freeMemory(deps: StepDeps, pool: LivePool, exclude: Ref): Promise<PlacementHost[]> {
  return Promise.all(
    pool.hosts
      .filter((h) => h.ref !== exclude)
      .map(async (h) => {
        let free = 0;
        if (h.live) free = Number(await deps.client.call('host.compute_free_memory', [h.ref]).catch(() => 0)) || 0;
        return { ref: h.ref, name: h.name, platform: h.platform, live: h.live, enabled: h.enabled, free };
      }),
  );
}

/** Why the planned moves no longer fit, or [] when they still do. */
function misfits(moves: Move[], targets: PlacementHost[], source: { platform: string }, pool: LivePool): string[] {
  const reasons: string[] = [];
  const left = new Map(targets.map((t) => [t.ref, t.free]));
  for (const m of moves) {
    const t = targets.find((h) => h.ref === m.to);
    const vm = vmByRef(pool, m.vm);
    if (!t) reasons.push(`${m.vmName}: planned target ${m.toName} is not in the pool`);
    else if (!t.live || !t.enabled) reasons.push(`${m.vmName}: planned target ${t.name} is ${t.live ? 'disabled' : 'not live'}`);
    else if (compareVersions(t.platform, source.platform) < 0) reasons.push(`${m.vmName}: ${t.name} is older (R3.4)`);
    else {
      const free = (left.get(t.ref) ?? 0) - (vm?.memory ?? 0);
      left.set(t.ref, free);
      if (free < 0) reasons.push(`${m.vmName}: not enough free memory left on ${t.name}`);
    }
  }
  return reasons;
}

export function createEvacuateStep(deps: StepDeps): StepModule {
  return {
    kind: 'evacuate',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const hostRef = stepHostRef(ctx);
      const pool = await readLivePool(deps.client);
      const host = requireHost(ctx, pool);
      if (!host.live) throw new StepFailure(`${name} is not live; its VMs cannot be migrated`, { observed: [`host_metrics.live = false`] });
      if (host.enabled) throw new StepFailure(`${name} is enabled; it must be disabled before evacuation (R3.3)`);

      const stops = plannedStops(ctx);
      const planned: Migration[] = ctx.planStep.migrations ?? ctx.hostPlan?.migrations ?? [];
      const moved = serialSaver(ctx, 'moved', ((ctx.step.data?.moved as Record<string, MovedVm>) ?? {}) as Record<string, unknown>);

      // reconcile: planned VMs already off the host count as moved (a crash may have hit after the migration)
      for (const m of planned) {
        const vm = vmByRef(pool, m.vm);
        if (!vm || vm.residentOn === hostRef || moved.value[m.vm]) continue;
        if (vm.residentOn) {
          const to = hostByRef(pool, vm.residentOn);
          await moved.set(m.vm, { name: m.vmName, to: vm.residentOn, toName: to?.name ?? vm.residentOn } satisfies MovedVm);
        }
      }

      const onHost = vmsOn(pool, hostRef).filter((v) => !stops.has(v.ref));
      if (onHost.length === 0) return { status: 'done', note: `${name} has no VM left to migrate` };

      let moves: Move[] = onHost
        .map((v) => planned.find((m) => m.vm === v.ref))
        .filter((m): m is Migration => !!m)
        .map((m) => ({ vm: m.vm, vmName: m.vmName, to: ctx.resolveHost(m.to), toName: m.toName }));
      const unplanned = onHost.filter((v) => !planned.some((m) => m.vm === v.ref));
      const targets = await freeMemory(deps, pool, hostRef);
      const reasons = [...misfits(moves, targets, host, pool), ...unplanned.map((v) => `${v.name} is on ${name} but not in the plan`)];
      if (reasons.length > 0) {
        const placed = placeVms(onHost.map((v) => ({ ref: v.ref, name: v.name, memory: v.memory })), host, targets);
        if (placed.unplaced.length > 0) {
          throw new StepFailure(`the live pool no longer fits the plan and ${placed.unplaced.length} VM(s) cannot be placed`, {
            observed: [...reasons, ...placed.unplaced.map((u) => `${u.vmName}: ${u.reason}`)],
          });
        }
        moves = placed.assignments;
        await ctx.saveData({ replanned: { reasons, moves } });
        await ctx.say(
          `${name}: the live pool no longer fits the plan (${reasons.join('; ')}); placement recomputed: ${moves.map((m) => `${m.vmName} → ${m.toName}`).join(', ')}`,
        );
      }

      const results = await mapLimited(moves, deps.config.migrationConcurrency, async (m) => {
        await ctx.act('VM.pool_migrate', [m.vm, m.to, { live: 'true' }], `${m.vmName} → ${m.toName}`, { async: true });
        await moved.set(m.vm, { name: m.vmName, to: m.to, toName: m.toName } satisfies MovedVm);
        await ctx.checkpoint('migrated-one');
      });
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ move: moves[i] as Move, err: toStepError(r.reason) }] : []));
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new StepFailure(`${failed.length} of ${moves.length} migration(s) off ${name} failed; first: ${first.move.vmName}: ${first.err.message}`, {
          code: first.err.code,
          params: first.err.params,
          observed: failed.map((f) => `${f.move.vmName} → ${f.move.toName}: ${f.err.code ?? ''} ${f.err.message}`.trim()),
        });
      }

      const after = await readLivePool(deps.client);
      const left = vmsOn(after, hostRef).filter((v) => !stops.has(v.ref));
      if (left.length > 0) {
        throw new StepFailure(`${left.length} VM(s) still on ${name} after evacuation`, { observed: left.map((v) => `${v.name}: ${v.powerState} on ${name}`) });
      }
      return { status: 'done', note: `${moves.length} VM(s) migrated off ${name}` };
    },
  };
}
