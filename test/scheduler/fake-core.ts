import type { Core, Notifier } from '../../src/domain/ports';
import type { Actor, HostPlan, Plan, Run } from '../../src/domain/types';
import { poolConfigSchema, type PoolConfig } from '../../src/config/pools';
import { createScheduler, type Scheduler } from '../../src/scheduler';
import { openStore, type Store } from '../../src/store';
import { samplePlan, sampleRun } from '../store/fixtures/sample';

/** A jest.fn Core keeping runs in a map: start creates a running run, hold pauses, resume runs again. */
export function fakeCore(opts: { plan: () => Plan; now: () => number; store?: Store }) {
  const runs = new Map<string, Run>();
  let counter = 0;
  const core = {
    listPools: jest.fn(async () => []),
    plan: jest.fn(async () => ({ ok: true as const, value: opts.plan() })),
    start: jest.fn(async (pool: string, o: { planHash?: string }, actor?: Actor) => {
      const run = sampleRun(`${pool}-run-${++counter}`, { pool, planHash: o.planHash ?? '', createdAt: opts.now(), updatedAt: opts.now() });
      runs.set(run.id, run);
      // as the real core: the run's start is audited with the window that started it (same transaction as the run)
      await opts.store?.appendAudit({ at: opts.now(), runId: run.id, kind: 'state', actor: actor?.userId ?? 'test', message: `run ${run.id} started`, detail: actor?.window ? { window: actor.window } : {} });
      return { ok: true as const, value: run };
    }),
    approve: jest.fn(async () => ({ ok: false as const, error: 'no', code: 'forbidden' as const })),
    hold: jest.fn(async (id: string, _step?: string, actor?: Actor) => {
      const run = runs.get(id)!;
      run.state = 'paused';
      run.updatedAt = opts.now();
      if (actor) run.pausedBy = { userId: actor.userId, source: actor.source, at: opts.now() };
      return { ok: true as const, value: run };
    }),
    resume: jest.fn(async (id: string) => {
      const run = runs.get(id)!;
      run.state = 'running';
      delete run.pausedBy;
      run.updatedAt = opts.now();
      return { ok: true as const, value: run };
    }),
    abort: jest.fn(),
    recover: jest.fn(),
    restore: jest.fn(),
    /** the live pool: mixed (7.6.0 and 7.1.1) unless a test sets other hosts */
    liveHosts: jest.fn(async (_pool: string) => ({
      ok: true as const,
      value: [
        { name: 'xs-a1', product: '7.6.0', build: '', enabled: true, live: true },
        { name: 'xs-a2', product: '7.1.1', build: '', enabled: true, live: true },
      ],
    })),
    getRun: jest.fn(async (id: string) => runs.get(id)),
    status: jest.fn(async (pool?: string) => [...runs.values()].filter((r) => r.pool === pool).reverse()),
    history: jest.fn(async (pool: string) => [...runs.values()].filter((r) => r.pool === pool).reverse()),
  };
  return { core: core as unknown as Core & typeof core, runs };
}

export function fakeNotifier() {
  const n = {
    runStarted: jest.fn(async () => undefined),
    runUpdated: jest.fn(async () => undefined),
    runEvent: jest.fn(async (_run: Run, _text: string) => undefined),
    approvalNeeded: jest.fn(async () => undefined),
    approvalDecided: jest.fn(async () => undefined),
    stepFailed: jest.fn(async () => undefined),
    runFinished: jest.fn(async () => undefined),
    poolNotice: jest.fn(async (_pool: string, _text: string) => undefined),
  };
  return n as Notifier & typeof n;
}

export function poolConfig(name: string, timezone: string): PoolConfig {
  return poolConfigSchema.parse({
    name,
    masterUrl: 'http://127.0.0.2:4000',
    username: 'root',
    passwordEnv: 'XS_POOL_PASSWORD',
    tls: { mode: 'insecure-http' },
    target: '7.6',
    upgrade: { mode: 'manual' },
    slack: { channel: '#ops', approvers: { users: ['U0APPROVER'], groups: ['S0ADMINS'] } },
    timezone,
  });
}

export const host = (name: string, over: Partial<HostPlan> = {}): HostPlan => ({
  host: `OpaqueRef:${name}`, name, isMaster: name.endsWith('1'),
  from: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' },
  to: { product: '7.6.0', platform: '3.0.0' }, alreadyDone: false, migrations: [], stops: [], stepIds: [], ...over,
});
export const approvedPlan = (over: Partial<Plan> = {}) => samplePlan({ id: 'plan-approved', hosts: [host('xs-a1'), host('xs-a2')], ...over });

/**
 * A scheduler of pool-a (fake core and notifier) on a store of its own, or on `store` (a second scheduler on one
 * store, as a second process): the approved plan saved, the clock at `now`, moved by setNow / tickAt.
 */
export async function setup(opts: { timezone?: string; now: number; replan?: () => Plan; store?: Store; settings?: object; groupsOf?: (userId: string, groups: string[]) => Promise<string[]> }) {
  let now = opts.now;
  const store = opts.store ?? (await openStore({ path: ':memory:', clock: { now: () => now, sleep: async () => undefined, scale: 1 } }));
  if (!opts.store) await store.savePlan('pool-a', approvedPlan());
  const { core, runs } = fakeCore({ plan: opts.replan ?? (() => approvedPlan({ id: 'plan-fresh', createdAt: now })), now: () => now, store });
  const notifier = fakeNotifier();
  const scheduler: Scheduler = createScheduler({
    core, store, notifier, pools: [poolConfig('pool-a', opts.timezone ?? 'Europe/Berlin')],
    clock: { now: () => now, sleep: async () => undefined, scale: 1 }, now: () => now, settings: opts.settings, groupsOf: opts.groupsOf,
  });
  const notices = () => notifier.poolNotice.mock.calls.map((c) => c[1]);
  return {
    store, core, runs, notifier, scheduler, notices,
    setNow: (t: number) => { now = t; },
    tickAt: async (t: number) => { now = t; return scheduler.tick(t); },
  };
}
