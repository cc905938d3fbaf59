/**
 * An aborted run for the tests of Restore after abort (src/runner/restore.ts): pool h1, h2; h1's steps done, h2 done up
 * to its approval, then its stop-vms with the stop records `stopped` (one planned stop per VM).
 */
import type { Run } from '../../src/domain/types';
import type { StoppedVm } from '../../src/runner/steps/stop-vms';
import { makePlan, makeRun } from './helpers';

export const H1 = 'ref-h1';
export const H2 = 'ref-h2';

/** `stopState`: done (every stop made), or failed (the run aborted while a stop was under way); h2 was disabled by the run */
export function abortedAtH2StopVms(stopped: Record<string, StoppedVm>, stopState: 'done' | 'failed'): Run {
  const plan = makePlan(['h1', 'h2']);
  const at = plan.steps.findIndex((s) => s.id === 'h2:approval');
  plan.steps.splice(at + 1, 0, {
    id: 'h2:stop-vms',
    kind: 'stop-vms',
    host: H2,
    hostName: 'h2',
    description: 'stop',
    expectedSeconds: 1,
    stops: Object.entries(stopped).map(([vm, rec]) => ({ vm, vmName: rec.name, host: H2, action: rec.action, reason: 'R2.5 disks on a local SR' })),
  });
  const run = makeRun(plan);
  run.state = 'aborted';
  for (const s of run.steps) {
    if (s.id.startsWith('h1:') || s.id === 'backup' || ['h2:disable', 'h2:evacuate', 'h2:approval'].includes(s.id)) s.state = 'done';
  }
  run.steps.find((s) => s.id === 'h2:disable')!.data = { wasEnabled: false };
  const stop = run.steps.find((s) => s.id === 'h2:stop-vms')!;
  stop.state = stopState;
  stop.data = { stopped };
  return run;
}

/**
 * The reads Restore makes of that pool: h1 and h2 live and enabled, HA off, no task; `vms` gives the VM records
 * (ref → record) as the pool shows them at the time of the call. Any other call is refused as unexpected.
 */
export function poolReads(vms: () => Record<string, unknown>) {
  const host = (name: string) => ({ uuid: `u-${name}`, name_label: name, address: `10.0.0.${name.slice(1)}`, enabled: true, metrics: `m-${name}`, software_version: { product_version: '7.1.1' }, other_config: {} });
  return async <T>(method: string, params: unknown[] = []): Promise<T> => {
    switch (method) {
      case 'pool.get_all_records':
        return { 'OpaqueRef:pool': { name_label: 'pool-t', master: H1, ha_enabled: false, other_config: {} } } as T;
      case 'host.get_all_records':
        return { [H1]: host('h1'), [H2]: host('h2') } as T;
      case 'host_metrics.get_all_records':
        return { 'm-h1': { live: true }, 'm-h2': { live: true } } as T;
      case 'VM.get_all_records':
        return vms() as T;
      case 'VM.get_record': {
        const record = vms()[String(params[0])];
        if (!record) throw new Error(`unexpected call ${method} ${JSON.stringify(params)}`);
        return record as T;
      }
      case 'task.get_all_records':
        return {} as T;
      default:
        throw new Error(`unexpected call ${method} ${JSON.stringify(params)}`);
    }
  };
}
