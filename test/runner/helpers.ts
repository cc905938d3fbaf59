/** Small fakes for runner unit tests: a plan with two hosts, a recording notifier, a scripted step registry. */
import { ScaledClock, type Clock } from '../../src/clock';
import type { Store } from '../../src/store';
import type { Notifier } from '../../src/domain/ports';
import type { Plan, PlanStep, Run, StepKind } from '../../src/domain/types';
import type { RunnerConfig } from '../../src/runner/ports';
import type { StepModule, StepOutcome, StepContext } from '../../src/runner/step';
import type { StepRegistry } from '../../src/runner/steps';

export const fastClock = () => new ScaledClock(20_000);

/** The runner settings of the pool-t fakes (short timeouts, master at `masterAddress`). */
export function testRunnerConfig(masterAddress: string, over: Partial<RunnerConfig> = {}): RunnerConfig {
  return {
    pool: 'pool-t',
    backupsDir: '/tmp/none',
    poolCredentials: { username: 'root', password: 'x', masterAddress },
    hostTimeoutMs: { automatic: 1000, manual: 1000, update: 1000 },
    pollMs: 100,
    migrationConcurrency: 2,
    enableRetries: 2,
    ...over,
  };
}

/** What another process does while a pool-t runner ('runner-a', holding the lease) works (issue 16). */
export type Interference = 'take-over' | 'abort';

/** `what`, done to the run `runId()` as another process would: a replica takes the lease over, or someone aborts. */
export function interferer(store: Pick<Store, 'releaseLease' | 'acquireLease' | 'updateRun'>, clock: Clock, runId: () => string): (what: Interference) => Promise<void> {
  return async (what) => {
    if (what === 'take-over') {
      // this runner stalled past its lease; another replica took the pool over
      await store.releaseLease('pool-t', 'runner-a');
      await store.acquireLease('pool-t', 'runner-b', runId(), 60_000, clock.now());
    } else {
      await store.updateRun(runId(), (r) => void (r.state = 'aborted'));
    }
  };
}

const HOST_KINDS: StepKind[] = ['disable', 'evacuate', 'approval', 'upgrade', 'wait-host', 'enable'];

export function makePlan(hosts = ['h1', 'h2']): Plan {
  const steps: PlanStep[] = [{ id: 'backup', kind: 'backup', description: 'backup', expectedSeconds: 1 }];
  for (const h of hosts) for (const k of HOST_KINDS) steps.push({ id: `${h}:${k}`, kind: k, host: `ref-${h}`, hostName: h, description: k, expectedSeconds: 1 });
  steps.push({ id: 'pool-finish', kind: 'pool-finish', description: 'finish', expectedSeconds: 1 });
  return {
    id: 'a'.repeat(64),
    pool: 'pool-t',
    target: { product: '7.6.0', platform: '2.7.0', label: 'XenServer 7.6' },
    mode: 'automatic',
    returnPolicy: 'none',
    createdAt: 0,
    prechecks: [],
    executable: true,
    hosts: hosts.map((h, i) => ({
      host: `ref-${h}`,
      name: h,
      isMaster: i === 0,
      from: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' },
      to: { product: '7.6.0', platform: '2.7.0' },
      alreadyDone: false,
      migrations: [],
      stops: [],
      stepIds: HOST_KINDS.map((k) => `${h}:${k}`),
    })),
    steps,
    migrations: { planned: 0, lowerBound: 0 },
    estimateSeconds: 0,
    toolsUpgrade: [],
  };
}

export function makeRun(plan: Plan, id = 'pool-t-20260101-1'): Run {
  return {
    id,
    pool: plan.pool,
    plan,
    planHash: plan.id,
    requestedBy: 'U1',
    state: 'running',
    steps: plan.steps.map((s) => ({ id: s.id, kind: s.kind, host: s.host, hostName: s.hostName, state: 'pending', attempts: 0 })),
    approvals: [],
    createdAt: 0,
    updatedAt: 0,
    revision: 0,
    // recorded already: these engine tests script the steps and have no pool to read (sim tests record a real one)
    baseline: { takenAt: 0, haEnabled: false, hosts: [], vms: [] },
  };
}

export type NotifierCall = { method: keyof Notifier; runId?: string; stepId?: string; text?: string; actions?: string[] };

export function recordingNotifier(hooks: Partial<Notifier> = {}): Notifier & { calls: NotifierCall[] } {
  const calls: NotifierCall[] = [];
  const rec =
    (method: keyof Notifier) =>
    async (...args: unknown[]): Promise<void> => {
      const run = args[0] as Run | string;
      const call: NotifierCall = { method, runId: typeof run === 'string' ? run : run.id };
      if (typeof args[1] === 'string') call.text = args[1];
      else if (args[1] && typeof args[1] === 'object') call.stepId = (args[1] as { id: string }).id;
      if (Array.isArray(args[2])) call.actions = args[2] as string[];
      calls.push(call);
      await (hooks[method] as ((...a: unknown[]) => Promise<void>) | undefined)?.(...args);
    };
  return {
    calls,
    runStarted: rec('runStarted'),
    runUpdated: rec('runUpdated'),
    runEvent: rec('runEvent'),
    approvalNeeded: rec('approvalNeeded'),
    approvalDecided: rec('approvalDecided'),
    stepFailed: rec('stepFailed'),
    runFinished: rec('runFinished'),
    poolNotice: rec('poolNotice'),
  };
}

/** Every kind does `behaviour(ctx)` (default: done), and records what it saw. */
export function scriptedSteps(behaviour: (ctx: StepContext) => Promise<StepOutcome | undefined> = async () => undefined) {
  const seen: Array<{ id: string; stateInStore?: string; attempts: number }> = [];
  const module = (kind: StepKind): StepModule => ({
    kind,
    async execute(ctx) {
      seen.push({ id: ctx.step.id, attempts: ctx.step.attempts });
      const out = await behaviour(ctx);
      if (out) return out;
      if (kind === 'approval') {
        return ctx.run.approvals.some((a) => a.stepId === ctx.step.id && a.decision === 'approved') ? { status: 'done' } : { status: 'awaiting-approval' };
      }
      return { status: 'done' };
    },
  });
  const kinds: StepKind[] = ['backup', 'pool-prep', 'disable', 'evacuate', 'stop-vms', 'approval', 'upgrade', 'wait-host', 'enable', 'restore-vms', 'move-back', 'pool-finish'];
  const registry = Object.fromEntries(kinds.map((k) => [k, module(k)])) as StepRegistry;
  return { registry, seen };
}
