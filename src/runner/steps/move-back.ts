/**
 * Return policy "original": migrate the VMs evacuate moved off this host back onto it, now that it is upgraded
 * (older → newer is allowed, R3.4). VMs already home, or no longer running, are left as they are.
 */
import { readLivePoolFor, vmByRef } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { migrateVms, migrationFailure, requireHost, serialSaver, stepHostName } from './common';
import type { MovedVm } from './evacuate';

export function createMoveBackStep(deps: StepDeps): StepModule {
  return {
    kind: 'move-back',
    async execute(ctx) {
      const name = stepHostName(ctx);
      if (ctx.run.plan.returnPolicy !== 'original') return { status: 'done', note: 'return policy "none": VMs stay where they are' };
      const moved = (ctx.dataOf(`${name}:evacuate`)?.moved ?? {}) as Record<string, MovedVm>;
      // the plan's list (the planner leaves out VMs with no room back home), plus VMs the evacuation moved that the
      // plan did not know about (placement recomputed)
      const plannedOut = new Set((ctx.run.plan.steps.find((s) => s.id === `${name}:evacuate`)?.migrations ?? []).map((m) => m.vm));
      const back = new Map<string, MovedVm>();
      for (const m of ctx.planStep.migrations ?? []) back.set(m.vm, moved[m.vm] ?? { name: m.vmName, to: m.from, toName: '' });
      for (const [vm, m] of Object.entries(moved)) if (!plannedOut.has(vm)) back.set(vm, m);
      const pool = await readLivePoolFor(deps.client, { vms: [...back.keys()] }); // only the VMs to bring back
      const host = requireHost(ctx, pool);
      const todo = [...back.entries()].filter(([vmRef]) => {
        const vm = vmByRef(pool, vmRef);
        return vm && vm.powerState === 'Running' && vm.residentOn !== host.ref;
      });
      const moves = todo.map(([vm, m]) => ({ vm, vmName: m.name, to: host.ref, toName: name }));
      // each VM brought home is recorded as it arrives: the end-of-run count of live migrations is read from these records
      const movedBack = serialSaver(ctx, 'movedBack', (ctx.step.data?.movedBack ?? {}) as Record<string, unknown>);
      // as evacuate (R3.7): a VM with a migration already in flight (the run's own whose answer was lost, or an
      // operator's) is followed to its end, never sent a second VM.pool_migrate (reference G1:
      // OTHER_OPERATION_IN_PROGRESS), and judged by where it is then, by the rule above: home, or no longer running,
      // nothing is sent (not counted as brought back: nothing shows that migration was the run's); running elsewhere,
      // it is migrated home
      const notSent: string[] = [];
      const failed = await migrateVms(ctx, deps.config.migrationConcurrency, moves, {
        checkpoint: 'moved-back-one',
        moved: (m) => movedBack.set(m.vm, { name: m.vmName, to: m.to, toName: m.toName } satisfies MovedVm),
        inFlight: {
          client: deps.client,
          settled: async (m, vm) => {
            if (vm && vm.powerState === 'Running' && vm.residentOn !== host.ref) return false;
            notSent.push(`${m.vmName} (${!vm ? 'no longer exists' : vm.residentOn === host.ref ? `already on ${name}` : vm.powerState})`);
            return true;
          },
        },
      });
      if (failed.length > 0) throw migrationFailure(`back to ${name}`, moves.length, failed);
      const none = notSent.length > 0 ? `; none sent for ${notSent.join(', ')}` : '';
      return { status: 'done', note: todo.length > 0 ? `${todo.length - notSent.length} VM(s) back on ${name}${none}` : `every VM of ${name} already home` };
    },
  };
}
