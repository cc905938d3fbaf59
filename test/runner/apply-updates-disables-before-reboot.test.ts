/**
 * apply-updates (R3.10) on a host whose xapi is still starting. After a reboot, real xapi sets live=true at
 * Pool.hello, writes boot_time and the versions in dbsync, and sets enabled=true only at the END of its start-up
 * (reference D4). wait-host ends on live + boot_time changed, so apply-updates can first read the host disabled; xapi
 * then enables it during the minutes of precheck + apply. The hotfix reboot must still go to a disabled host (7.6
 * refuses an enabled one: HOST_NOT_DISABLED, reference C1): the host is read again just before the reboot and
 * disabled if it is enabled.
 */
import { silentLogger } from '../../src/log';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext } from '../../src/runner/step';
import { createApplyUpdatesStep } from '../../src/runner/steps/apply-updates';
import { XenApiError } from '../../src/xenapi';
import { fastClock, makePlan, makeRun, recordingNotifier } from './helpers';

function world() {
  const clock = fastClock();
  const plan = makePlan(['h1', 'h2']);
  plan.steps.push({ id: 'h2:apply-updates', kind: 'apply-updates', host: 'ref-h2', hostName: 'h2', description: 'updates', expectedSeconds: 1 });
  plan.updates = {
    repository: '/srv/updates',
    items: [{ uuid: 'u1', name: 'XS76E001', version: '1.0', description: 'hotfix', guidance: ['restartHost'], prerequisites: [], source: '/srv/updates/XS76E001.iso', size: 1 }],
    hosts: [{ host: 'ref-h2', name: 'h2', updates: ['u1'], restart: 'host' }],
    extraReboots: 1,
  };
  const run = makeRun(plan);
  const step = run.steps.find((s) => s.id === 'h2:apply-updates')!;
  step.data = {};
  // h2 is back from its upgrade: live, new boot_time, on the target, but its xapi has not finished starting
  const h2 = { enabled: false, bootTime: '5000.0', applied: false };
  const sent: string[] = [];
  const hostRec = (name: string, enabled: boolean, bootTime: string) => ({
    uuid: `uuid-${name}`,
    name_label: name,
    address: `10.0.0.${name === 'h1' ? 1 : 2}`,
    enabled,
    metrics: `m-${name}`,
    software_version: { product_version: '7.6.0', platform_version: '2.7.0', build_number: '' },
    other_config: { boot_time: bootTime },
    resident_VMs: [],
  });
  const client = {
    call: async (method: string) => {
      switch (method) {
        case 'pool.get_all_records':
          return { 'OpaqueRef:pool': { name_label: 'pool-t', master: 'ref-h1', ha_enabled: false, other_config: {} } };
        case 'host.get_all_records':
          return { 'ref-h1': hostRec('h1', true, '2000.0'), 'ref-h2': hostRec('h2', h2.enabled, h2.bootTime) };
        case 'host_metrics.get_all_records':
          return { 'm-h1': { live: true }, 'm-h2': { live: true } };
        case 'VM.get_all_records_where':
          return {};
        case 'pool_update.get_all_records':
          return { 'ref-u1': { uuid: 'u1', name_label: 'XS76E001', hosts: h2.applied ? ['ref-h2'] : [] } };
        default:
          throw new Error(`unexpected call ${method}`);
      }
    },
    waitForTask: async () => {
      h2.applied = true;
      return '';
    },
  };
  const ctx = {
    run,
    step,
    planStep: run.plan.steps.find((s) => s.id === 'h2:apply-updates')!,
    hostPlan: run.plan.hosts[1],
    log: silentLogger,
    signal: new AbortController().signal,
    assertLive: async () => undefined,
    resolveHost: (r: string) => r,
    act: async (method: string) => {
      sent.push(method);
      switch (method) {
        case 'host.disable':
          h2.enabled = false;
          return '';
        case 'pool_update.precheck':
          // the precheck script takes minutes; meanwhile xapi's start-up completes and it enables the host itself
          h2.enabled = true;
          return 'ok';
        case 'Async.pool_update.apply':
          return 'OpaqueRef:task-apply';
        case 'host.reboot':
          if (h2.enabled) throw new XenApiError('HOST_NOT_DISABLED', [], 'host.reboot', '10.0.0.1');
          h2.bootTime = '9000.0';
          h2.enabled = true;
          return '';
        default:
          throw new Error(`unexpected side effect ${method}`);
      }
    },
    audit: async () => undefined,
    say: async () => undefined,
    saveData: async (patch: Record<string, unknown>) => void (step.data = { ...(step.data ?? {}), ...patch }),
    checkpoint: async () => undefined,
    dataOf: () => undefined,
  } as unknown as StepContext;
  const deps = {
    client: client as unknown as StepDeps['client'],
    clock,
    config: { pollMs: 10_000, hostTimeoutMs: { automatic: 3600_000, manual: 3600_000, update: 3600_000 } },
    notifier: recordingNotifier(),
    logger: silentLogger,
  } as unknown as StepDeps;
  return { ctx, deps, sent };
}

it('R3.10: a host whose xapi enables it only after its start-up is disabled before its hotfix reboot, and the reboot goes through', async () => {
  const { ctx, deps, sent } = world();
  const out = await createApplyUpdatesStep(deps)
    .execute(ctx)
    .catch((err: Error) => ({ status: 'threw', message: `${(err as { code?: string }).code ?? ''} ${err.message}` }));
  expect(out).toEqual(expect.objectContaining({ status: "done" })); // a failure shows as { status: "threw", message }
  // the reboot went to a disabled host, once
  expect(sent.filter((m) => m === 'host.reboot')).toHaveLength(1);
  expect(sent.lastIndexOf('host.disable')).toBeGreaterThan(sent.indexOf('pool_update.precheck'));
});
