/**
 * A two-host pool for the end audit of VMs stopped by the run (end-audit-paused and end-audit-counts tests): before
 * the run app Running and held Paused, both on h2 (and, when asked, other Running on h1); the run suspended app and
 * held for h2 (stop-vms recorded both) and never stopped other.
 */
import type { PoolSnapshot, PowerState, Run } from '../../src/domain/types';
import { baselineOf } from '../../src/runner/baseline';
import { PoolBuilder } from '../planner/builder';
import { makePlan, makeRun } from './helpers';

export const ref = (h: string): string => `OpaqueRef:host-${h}`;

export type Power = { app: PowerState; held: PowerState; other?: PowerState };

export function pool(version: string, power: Power): PoolSnapshot {
  const b = new PoolBuilder('pool-t')
    .host('h1', { master: true, version })
    .host('h2', { version })
    .sr('shared-nfs', { shared: true })
    .vm('app', { host: 'h2', power: power.app })
    .vm('held', { host: 'h2', power: power.held });
  if (power.other) b.vm('other', { host: 'h1', power: power.other });
  return b.build();
}

/** The run, done, with its stop records and its baseline (`other` Running on h1 before the run when `withOther`). */
export function runWithStops(withOther = false): Run {
  const plan = makePlan(['h1', 'h2']);
  for (const h of plan.hosts) h.host = ref(h.name);
  for (const s of plan.steps) if (s.hostName) s.host = ref(s.hostName);
  const run = makeRun(plan);
  for (const s of run.steps) if (s.hostName) s.host = ref(s.hostName);
  const stopped = {
    'OpaqueRef:vm-app': { name: 'app', priorState: 'Running', host: ref('h2'), action: 'suspend', stopped: true },
    'OpaqueRef:vm-held': { name: 'held', priorState: 'Paused', host: ref('h2'), action: 'suspend', stopped: true },
  };
  run.steps.push({ id: 'h2:stop-vms', kind: 'stop-vms', host: ref('h2'), hostName: 'h2', state: 'done', attempts: 1, data: { stopped } });
  return { ...run, baseline: baselineOf(pool('7.1.0', { app: 'Running', held: 'Paused', ...(withOther ? { other: 'Running' as const } : {}) })), state: 'done' };
}
