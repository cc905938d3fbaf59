/**
 * R3.1/R3.7: move every running VM off the host with Async.VM.pool_migrate, a few at a time, per the planned
 * placement. Level-triggered: VMs already gone are recorded and skipped. The planned moves are checked on a fresh
 * snapshot of the live pool with the planner's own placement rules (placeEvacuation: live and enabled target,
 * R3.4 never to an older host, R2.5 the target sees the VM's SRs, R2.2 memory); when they no longer fit (a target
 * is down, full or older, or a VM appeared on the host), the placement of the remaining VMs is recomputed under the
 * same rules and the thread says so. When some VM fits nowhere, the step fails naming the VMs and why, before any
 * migration. VMs the plan stops instead (stop-vms) stay. Each moved VM is recorded with where it went, for move-back.
 */
import type { HostInfo, Migration, PoolSnapshot, Ref } from '../../domain/types';
import { readSnapshot } from '../../inventory';
import { placeEvacuation } from '../../planner';
import { StepFailure } from '../errors';
import { describeHost, readLivePoolFor, runsOn, vmsOn } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule, StepContext } from '../step';
import { migrateVms, migrationFailure, requireMember, serialSaver, stepHostName, stepHostRef } from './common';

export interface MovedVm {
  name: string;
  to: Ref;
  toName: string;
}

/** VMs the plan stops on this host rather than moving them (R2.5/R2.6). */
function plannedStops(ctx: StepContext): Set<Ref> {
  const hostName = stepHostName(ctx);
  const stopStep = ctx.run.plan.steps.find((s) => s.id === `${hostName}:stop-vms`);
  return new Set([...(stopStep?.stops ?? []), ...(ctx.hostPlan?.stops ?? [])].map((s) => s.vm));
}

/** "xs-a1: live, enabled, 7.6.0 build 1234" for a snapshot's host, worded as for the live view */
const describe = (h: HostInfo): string => describeHost({ ...h, product: h.version.product, build: h.version.build });

/** Running/Paused guests on the host, but for those the plan stops (a Paused one stops the step: it cannot move). */
function toMove(snapshot: PoolSnapshot, host: Ref, stops: Set<Ref>): PoolSnapshot['vms'] {
  return snapshot.vms.filter((v) => v.residentOn === host && !stops.has(v.ref));
}

export function createEvacuateStep(deps: StepDeps): StepModule {
  return {
    kind: 'evacuate',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const hostRef = stepHostRef(ctx);
      const snapshot = await readSnapshot(deps.client, deps.clock);
      const host = requireMember(ctx, snapshot.hosts, describe);
      if (!host.live) throw new StepFailure(`${name} is not live; its VMs cannot be migrated`, { observed: [`host_metrics.live = false`] });
      if (host.enabled) throw new StepFailure(`${name} is enabled; it must be disabled before evacuation (R3.3)`);

      const stops = plannedStops(ctx);
      const planned: Migration[] = ctx.planStep.migrations ?? ctx.hostPlan?.migrations ?? [];
      const moved = serialSaver(ctx, 'moved', ((ctx.step.data?.moved as Record<string, MovedVm>) ?? {}) as Record<string, unknown>);
      // the migrations this step sent (recorded before each call), and planned VMs found off the host that it never
      // migrated (an operator moved them): only the first are the run's live migrations (the end's count)
      const issued = serialSaver(ctx, 'issued', (ctx.step.data?.issued ?? {}) as Record<string, unknown>);
      const elsewhere = serialSaver(ctx, 'elsewhere', (ctx.step.data?.elsewhere ?? {}) as Record<string, unknown>);
      const vmByRef = new Map(snapshot.vms.map((v) => [v.ref, v]));
      const hostName = (ref: Ref): string => snapshot.hosts.find((h) => h.ref === ref)?.name ?? ref;

      // reconcile: a VM already off the host counts as moved when this step sent its migration (a crash or a lost
      // answer after it; planned or not), else, if planned, as found elsewhere
      for (const ref of new Set([...planned.map((m) => m.vm), ...Object.keys(issued.value)])) {
        const vm = vmByRef.get(ref);
        if (!vm?.residentOn || vm.residentOn === hostRef || moved.value[ref] || elsewhere.value[ref]) continue;
        await (issued.value[ref] ? moved : elsewhere).set(ref, { name: vm.name, to: vm.residentOn, toName: hostName(vm.residentOn) } satisfies MovedVm);
      }

      const onHost = toMove(snapshot, hostRef, stops);
      if (onHost.length === 0) return { status: 'done', note: `${name} has no VM left to migrate` };
      // paused since the plan: xapi would refuse its migration (VM_BAD_POWER_STATE) half-way through the host
      const paused = onHost.filter((v) => v.powerState === 'Paused');
      if (paused.length > 0) {
        const names = paused.map((v) => v.name).join(', ');
        throw new StepFailure(
          `${names} ${paused.length === 1 ? 'is' : 'are'} Paused on ${name}: xapi migrates only Running VMs, so ${name} cannot be emptied; nothing was migrated. ` +
            `Unpause ${paused.length === 1 ? 'it' : 'them'} (xe vm-unpause) or shut ${paused.length === 1 ? 'it' : 'them'} down (xe vm-shutdown --force), then Retry (R3.7)`,
          { observed: paused.map((v) => `${v.name}: Paused on ${name}`) },
        );
      }

      const placement = placeEvacuation({
        snapshot,
        source: hostRef,
        vms: onHost.map((v) => v.ref),
        targetPlatform: ctx.run.plan.target.platform,
        planned: planned.map((m) => ({ ...m, from: hostRef, to: ctx.resolveHost(m.to) })),
      });
      if (placement.unplaced.length > 0) {
        const names = placement.unplaced.map((u) => u.vmName).join(', ');
        throw new StepFailure(
          `${name} cannot be evacuated: no host can receive ${names} now (${placement.unplaced.map((u) => `${u.vmName}: ${u.reason}`).join('; ')}); nothing was migrated`,
          { code: 'NO_PLACEMENT', observed: [...placement.misfits, ...placement.unplaced.map((u) => `${u.vmName}: ${u.reason}`)] },
        );
      }
      const moves = placement.moves;
      if (placement.recomputed) {
        await ctx.saveData({ replanned: { reasons: placement.misfits, moves: moves.map(({ vm, vmName, to, toName }) => ({ vm, vmName, to, toName })) } });
        await ctx.say(
          `${name}: the live pool no longer fits the plan (${placement.misfits.join('; ')}); placement recomputed under the same rules: ${moves.map((m) => `${m.vmName} → ${m.toName}`).join(', ')}`,
        );
      }

      // R3.7: a VM with a migration already in flight (the run's own whose answer was lost, or an operator's) is
      // followed to its end and judged by where it is then, never sent a second VM.pool_migrate (reference G1:
      // OTHER_OPERATION_IN_PROGRESS). Off the host: recorded as the reconcile above records it (moved when this step
      // sent its migration, else found elsewhere), where it is now; still running here: migrated as placed
      const followedOff: string[] = [];
      const failed = await migrateVms(ctx, deps.config.migrationConcurrency, moves, {
        checkpoint: 'migrated-one',
        issuing: (m) => issued.set(m.vm, m.to),
        moved: (m) => moved.set(m.vm, { name: m.vmName, to: m.to, toName: m.toName } satisfies MovedVm),
        inFlight: {
          client: deps.client,
          settled: async (m, vm) => {
            if (runsOn(vm, hostRef)) return false;
            followedOff.push(m.vmName);
            if (vm?.residentOn && runsOn(vm, vm.residentOn)) {
              await (issued.value[m.vm] ? moved : elsewhere).set(m.vm, { name: m.vmName, to: vm.residentOn, toName: hostName(vm.residentOn) } satisfies MovedVm);
            }
            return true;
          },
        },
      });
      if (failed.length > 0) throw migrationFailure(`off ${name}`, moves.length, failed);

      const after = await readLivePoolFor(deps.client, { residentOn: hostRef }); // only the VMs still on this host
      const left = vmsOn(after, hostRef).filter((v) => !stops.has(v.ref));
      if (left.length > 0) {
        throw new StepFailure(`${left.length} VM(s) still on ${name} after evacuation`, { observed: left.map((v) => `${v.name}: ${v.powerState} on ${name}`) });
      }
      const sentCount = moves.length - followedOff.length;
      const found = followedOff.length > 0 ? `; none sent for ${followedOff.join(', ')}: off ${name} once the migration already in progress on it ended, or before` : '';
      return { status: 'done', note: `${sentCount} VM(s) migrated off ${name}${found}` };
    },
  };
}
