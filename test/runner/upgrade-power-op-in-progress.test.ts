/**
 * The upgrade step when host.shutdown/host.reboot does not answer (ETIMEDOUT) and the pool shows it in progress.
 * A real host.reboot is synchronous: 7.6 runs prepare_for_poweroff (unplug of every PBD, reference top 2) before it
 * answers, and the host stays live, with its old boot_time and the operation in host.current_operations, until its
 * "shutting down" heartbeat (reference C4). A reboot slowed by a hung SR unplug outlasts the client's 60 s request
 * timeout and the step's 5 min grace. While the operation is in current_operations it is in progress: it stays
 * recorded as issued and is never sent again (architecture.md: "never a shutdown twice"); only "live, same
 * boot_time, no power operation in progress" for the whole grace means it did not go out.
 */
import { silentLogger } from '../../src/log';
import { isPoolUnavailable } from '../../src/runner/errors';
import type { StepDeps } from '../../src/runner/ports';
import type { StepContext, StepOutcome } from '../../src/runner/step';
import { createUpgradeStep } from '../../src/runner/steps/upgrade';
import { XenApiConnectionError, XenApiError } from '../../src/xenapi';
import type { Clock } from '../../src/clock';
import { makePlan, makeRun, recordingNotifier } from './helpers';

/** A clock that moves only when slept on: each poll is exactly pollMs apart, however loaded the machine is. */
function steppedClock(): Clock {
  let t = Date.parse('2026-12-03T05:30:00Z');
  return {
    scale: 1,
    now: () => t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      t += ms;
    },
  };
}

/** o: clock ms after the call when the op leaves h2's current_operations, and when h2 is no longer live */
function world(o: { opEndsAfterMs?: number; downAfterMs?: number } = {}) {
  const clock = steppedClock();
  const run = makeRun(makePlan(['h1', 'h2']));
  run.plan.mode = 'manual'; // host.shutdown; the same reconcile decides for host.reboot
  const step = run.steps.find((s) => s.id === 'h2:upgrade')!;
  step.data = {};
  const ops: Record<string, string> = {}; // host h2's current_operations
  const sent: string[] = [];
  let calledAt: number | undefined;
  const since = () => (calledAt === undefined ? -1 : clock.now() - calledAt);
  const host = (name: string, product: string, isH2: boolean) => ({
    uuid: `uuid-${name}`,
    name_label: name,
    address: `10.0.0.${name === 'h1' ? 1 : 2}`,
    enabled: name === 'h1',
    metrics: `m-${name}`,
    software_version: { product_version: product, platform_version: product === '7.6.0' ? '2.7.0' : '2.1.1', build_number: '' },
    other_config: { boot_time: name === 'h1' ? '2000.0' : '1000.0' },
    resident_VMs: [],
    current_operations: isH2 ? { ...ops } : {},
  });
  const client = {
    call: async (method: string) => {
      if (method === 'pool.get_all_records') return { 'OpaqueRef:pool': { name_label: 'pool-t', master: 'ref-h1', ha_enabled: false, other_config: {} } };
      // the master is already on the target (R3.2); h2 stays live with its old boot_time while its reboot is prepared
      if (method === 'host.get_all_records') {
        if (o.opEndsAfterMs !== undefined && since() >= o.opEndsAfterMs) delete ops['OpaqueRef:task-power'];
        return { 'ref-h1': host('h1', '7.6.0', false), 'ref-h2': host('h2', '7.1.1', true) };
      }
      if (method === 'host_metrics.get_all_records') {
        return { 'm-h1': { live: true }, 'm-h2': { live: o.downAfterMs === undefined || since() < o.downAfterMs } };
      }
      if (method === 'VM.get_all_records_where') return {};
      throw new Error(`unexpected call ${method}`);
    },
  };
  const ctx = {
    run,
    step,
    planStep: run.plan.steps.find((s) => s.id === 'h2:upgrade')!,
    hostPlan: run.plan.hosts[1],
    log: silentLogger,
    signal: new AbortController().signal,
    resolveHost: (r: string) => r,
    act: async (method: string, params: unknown[]) => {
      sent.push(method);
      if (sent.filter((m) => m === method).length > 1) {
        // what 7.6 answers to a second power operation while the first is in progress (reference C3)
        throw new XenApiError('OTHER_OPERATION_IN_PROGRESS', ['host', String(params[0]), 'shutdown'], method, '10.0.0.1');
      }
      calledAt = clock.now();
      // accepted: xapi shows it in current_operations while prepare_for_poweroff runs; the answer outlasts 60 s
      ops['OpaqueRef:task-power'] = 'shutdown';
      throw new XenApiConnectionError('cannot reach 10.0.0.1: ETIMEDOUT', '10.0.0.1', method, 'ETIMEDOUT');
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
  return { ctx, deps, sent, step, clock };
}

/** as the engine does (engine.ts runStep): a "pool unavailable" error re-runs the step, which reconciles first */
async function runLikeEngine(ctx: StepContext, deps: StepDeps): Promise<{ done?: string; failed?: unknown }> {
  const upgrade = createUpgradeStep(deps);
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return { done: ((await upgrade.execute(ctx)) as Extract<StepOutcome, { status: 'done' }>).note };
    } catch (err) {
      last = err;
      if (!isPoolUnavailable(err)) break;
    }
  }
  return { failed: last };
}

it('a shutdown the pool shows in progress (host.current_operations) the whole time is followed, never sent again, and the step fails saying so', async () => {
  const { ctx, deps, sent, step } = world();
  const outcome = await runLikeEngine(ctx, deps);
  expect(sent.filter((m) => m === 'host.shutdown')).toHaveLength(1);
  // the record still says the shutdown went out: the pool showed it in progress all along
  expect(step.data?.shutdownIssued).toBe(true);
  // still in progress after the mode's host timeout (1 h): the operator is told what the pool shows
  expect(outcome.failed).toMatchObject({ code: 'SHUTDOWN_IN_PROGRESS' });
  expect((outcome.failed as { observed?: string[] }).observed?.[0]).toContain('shutdown (task OpaqueRef:task-power)');
});

it('a shutdown seen in progress and then the host going down: issued once, the step is done', async () => {
  const { ctx, deps, sent, step } = world({ opEndsAfterMs: 8 * 60_000, downAfterMs: 8 * 60_000 + 20_000 });
  const outcome = await runLikeEngine(ctx, deps);
  expect(outcome.done).toBe('host.shutdown issued on h2');
  expect(sent).toEqual(['host.shutdown']);
  expect(step.data?.shutdownIssued).toBe(true);
});

it('the 5 min grace counts from the last time the operation was in progress: the host going down 4 min after it ended is still "issued"', async () => {
  // the op is shown for 10 min, the host goes down 4 min after it ended (14 min after the call)
  const { ctx, deps, sent } = world({ opEndsAfterMs: 10 * 60_000, downAfterMs: 14 * 60_000 });
  const outcome = await runLikeEngine(ctx, deps);
  expect(outcome.done).toBe('host.shutdown issued on h2');
  expect(sent).toEqual(['host.shutdown']);
});

it('the operation gone and the host live with the same boot_time for the whole grace: it did not go out (the recorded marker is cleared)', async () => {
  const { ctx, deps, sent, step } = world({ opEndsAfterMs: 30_000 });
  let result: unknown;
  await createUpgradeStep(deps).execute(ctx).catch((err: unknown) => (result = err));
  expect(isPoolUnavailable(result)).toBe(true); // the call's own ETIMEDOUT: the engine re-runs the step
  expect(sent).toEqual(['host.shutdown']);
  expect(step.data?.shutdownIssued).toBe(false);
});
