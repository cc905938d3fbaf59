import type { PoolSnapshot, Precheck } from '../../domain/types';
import { PrecheckContext, listNames } from '../context';

/**
 * A Paused VM on a host the plan takes down. xapi live-migrates and suspends only Running VMs (VM.pool_migrate and
 * VM.suspend answer VM_BAD_POWER_STATE for a Paused one) and a clean shutdown needs a Running guest, so the plan
 * has no action that works without deciding for the operator what the paused guest may lose: it blocks (R3.7: no
 * VM may run on a host when it goes down), naming the VMs and the two ways out. Never planned as a migration.
 */
export function pausedVmChecks(snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const goingDown = new Set(ctx.order.map((h) => h.ref));
  const paused = snapshot.vms.filter((v) => v.powerState === 'Paused' && v.residentOn && goingDown.has(v.residentOn));
  if (paused.length === 0) return [];
  const where = paused.map((v) => `${v.name} on ${ctx.hostName(v.residentOn)}`);
  return [
    {
      id: 'vm-paused',
      rule: 'R3.7',
      severity: 'blocker',
      subjects: { hosts: [...new Set(paused.map((v) => ctx.hostName(v.residentOn)))], vms: paused.map((v) => v.name) },
      message:
        `${listNames(where, 4)} ${paused.length === 1 ? 'is' : 'are'} Paused: xapi migrates and suspends only Running VMs ` +
        `(VM_BAD_POWER_STATE), so ${paused.length === 1 ? 'it' : 'they'} can neither leave the host nor be suspended before it goes down`,
      fix: {
        kind: 'manual',
        guidance:
          'unpause it (`xe vm-unpause uuid=…`) so the plan live-migrates it, or, if it may stay off, shut it down (`xe vm-shutdown uuid=… --force`, its memory state is lost); then plan again',
      },
    },
  ];
}
