/** Drives the real core + runner against a real simulator (real XML-RPC, real client), on a fast clock. */
import { ScaledClock } from '../../src/clock';
import type { PoolConfig } from '../../src/config/pools';
import { createCore, type CoreHandle } from '../../src/core';
import type { Actor, Run, RunState, UpgradeMode } from '../../src/domain/types';
import { silentLogger } from '../../src/log';
import { loadScenario, startSimulator, type Scenario, type SimPool, type TestCa } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { recordingNotifier } from './helpers';
import { XenApiClient } from '../../src/xenapi';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const APPROVER: Actor = { userId: 'UAPPROVER1', source: 'slack', channel: 'CPOOL', groups: [] };
export const REQUESTER: Actor = { userId: 'UREQUEST1', source: 'slack', channel: 'CPOOL', groups: [] };

export interface Harness {
  sim: SimPool;
  store: Store;
  core: CoreHandle;
  notifier: ReturnType<typeof recordingNotifier>;
  pool: PoolConfig;
  clock: ScaledClock;
  dir: string;
  close(): Promise<void>;
}

export function poolConfigFor(sim: SimPool, mode: UpgradeMode, extra: Partial<PoolConfig> = {}): PoolConfig {
  const upgrade: PoolConfig['upgrade'] =
    mode === 'automatic'
      ? { mode, repositoryUrl: 'http://repo.example.com/xenserver/7.6/' }
      : mode === 'update'
        ? { mode, updateIso: 'XS76E000' }
        : { mode };
  return {
    name: sim.name,
    masterUrl: sim.masterUrl,
    username: sim.username,
    passwordEnv: 'XS_SIM_PASSWORD',
    tls: sim.tls,
    target: '7.6',
    upgrade,
    slack: { channel: 'CPOOL', approvers: { users: [APPROVER.userId], groups: [] }, allowSelfApproval: false },
    returnPolicy: 'none',
    timezone: 'UTC',
    // generous: a loaded CI machine makes real milliseconds expensive in clock time (tests of the timeout set their own)
    hostTimeoutMinutes: 240,
    ...extra,
  };
}

export async function startHarness(
  scenario: string,
  mode: UpgradeMode,
  opts: {
    scale?: number;
    autoApprove?: boolean;
    pool?: Partial<PoolConfig>;
    storePath?: string;
    faults?: Parameters<SimPool['control']['injectFault']>[0][];
    /** a plain-HTTP simulator (pool tls: insecure-http); HTTPS with every host pinned by default */
    http?: boolean;
    /** host certificates issued by this test CA, and the pool in tls: verify mode with it */
    ca?: TestCa;
    /** changes to the scenario before the simulator starts (extra VMs, power states…) */
    edit?: (s: Scenario) => void;
    /** the engine's named points (a crash test throws RunInterrupted at one: the step stays running, as after a kill) */
    checkpoint?: (label: string) => Promise<void>;
  } = {},
): Promise<Harness> {
  const clock = new ScaledClock(opts.scale ?? 3000);
  const sc = loadScenario(scenario);
  opts.edit?.(sc);
  const sim = await startSimulator(sc, { clock, http: opts.http, ca: opts.ca });
  for (const f of opts.faults ?? []) sim.control.injectFault(f);
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-runner-'));
  const store = await openStore({ path: opts.storePath ?? ':memory:', clock });
  let core: CoreHandle | undefined;
  const notifier = recordingNotifier({
    approvalNeeded: async (run, step) => {
      if (opts.autoApprove !== false) await core!.approve(run.id, step.id, APPROVER);
    },
  });
  const pool = poolConfigFor(sim, mode, opts.pool);
  core = await coreForSim(sim, { store, clock, dir, ownerId: 'test-runner', pool, notifier, checkpoint: opts.checkpoint });
  return {
    sim,
    store,
    core,
    notifier,
    pool,
    clock,
    dir,
    async close() {
      await core!.shutdown();
      await sim.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Real-time polling until step `stepId` is done or failed, or the run ended (bounded, never asserts durations). */
export async function waitForStepEnd(store: Store, runId: string, stepId: string, realMs = 90_000): Promise<Run> {
  const until = Date.now() + realMs;
  for (;;) {
    const run = (await store.getRun(runId))!;
    const s = run.steps.find((x) => x.id === stepId)!;
    if (s.state === 'done' || s.state === 'failed' || ['failed', 'aborted', 'done'].includes(run.state)) return run;
    if (Date.now() > until) throw new Error(`${stepId} still ${s.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Real-time polling of the store until the run reaches one of `states` (bounded, never asserts durations). */
export async function waitForRun(store: Store, runId: string, states: RunState[], realMs = 40_000): Promise<Run> {
  const until = Date.now() + realMs;
  for (;;) {
    const run = await store.getRun(runId);
    if (run && states.includes(run.state)) return run;
    if (Date.now() > until) throw new Error(`run ${runId} still ${run?.state} (steps: ${run?.steps.map((s) => `${s.id}=${s.state}`).join(' ')}) ${run?.outcome ?? ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function planAndStart(h: Harness, by: Actor = REQUESTER): Promise<Run> {
  const plan = await h.core.plan(h.pool.name, {}, by);
  if (!plan.ok) throw new Error(plan.error);
  if (!plan.value.executable) throw new Error(`plan not executable: ${plan.value.prechecks.filter((p) => p.severity === 'blocker').map((p) => p.message).join('; ')}`);
  const started = await h.core.start(h.pool.name, { planHash: plan.value.id.slice(0, 12) }, by);
  if (!started.ok) throw new Error(started.error);
  return started.value;
}

/**
 * A core of its own for one simulated pool (in automatic mode unless `pool` is given), on a store and clock the test
 * keeps (a bot that restarts, or that sees its pool replaced, is a second core or a second simulator on them);
 * backups go to `dir`.
 */
export function coreForSim(
  sim: SimPool,
  on: {
    store: Store;
    clock: ScaledClock;
    dir: string;
    ownerId: string;
    pool?: PoolConfig;
    notifier?: ReturnType<typeof recordingNotifier>;
    leaseTtlMs?: number;
    checkpoint?: (label: string) => Promise<void>;
    clientFactory?: (pool: PoolConfig) => XenApiClient;
  },
): Promise<CoreHandle> {
  return createCore({
    ...(on.clientFactory ? { clientFactory: on.clientFactory } : {}),
    ...(on.checkpoint ? { checkpoint: on.checkpoint } : {}),
    pools: [on.pool ?? poolConfigFor(sim, 'automatic')],
    store: on.store,
    notifier: on.notifier ?? recordingNotifier(),
    clock: on.clock,
    logger: silentLogger,
    env: { XS_SIM_PASSWORD: sim.password, XSUPGRADE_BACKUPS: on.dir },
    ownerId: on.ownerId,
    leaseTtlMs: on.leaseTtlMs ?? 20 * 60_000,
    pollMs: 2000,
  });
}

/** Plans and starts a run of `pool` on `core` (not a Harness's), and waits for its first approval gate. */
export async function startToFirstGate(core: CoreHandle, store: Store, pool: string, by: Actor = REQUESTER): Promise<Run> {
  const plan = await core.plan(pool, {}, by);
  if (!plan.ok) throw new Error(plan.error);
  const started = await core.start(pool, { planHash: plan.value.id, planMadeAt: plan.value.createdAt }, by);
  if (!started.ok) throw new Error(started.error);
  const waiting = await waitForRun(store, started.value.id, ['awaiting-approval', 'failed']);
  if (waiting.state !== 'awaiting-approval') throw new Error(`run ${waiting.id} failed before its first gate: ${waiting.outcome ?? ''}`);
  return waiting;
}

export function runningVmPlacement(sim: SimPool): Record<string, string | null> {
  return Object.fromEntries(sim.inspect().vms.filter((v) => v.powerState === 'Running').map((v) => [v.name, v.residentOn]));
}

/** approve every gate, in order, until the run waits at `stopAt` (returned) or ends */
export async function approveGates(h: Harness, runId: string, stopAt?: string): Promise<Run> {
  for (;;) {
    const run = await waitForRun(h.store, runId, ['awaiting-approval', 'failed', 'done']);
    const gate = run.steps.find((s) => s.state === 'awaiting-approval');
    if (!gate || gate.id === stopAt) return run;
    const approved = await h.core.approve(runId, gate.id, APPROVER);
    if (!approved.ok) throw new Error(`approving ${gate.id}: ${approved.error}`);
    for (let r = await h.store.getRun(runId); r?.steps.find((s) => s.id === gate.id)?.state === 'awaiting-approval'; r = await h.store.getRun(runId))
      await new Promise((res) => setTimeout(res, 20));
  }
}

/** Real-time polling until `check` holds (bounded; for states the simulator reaches by itself). */
export async function until(what: string, check: () => boolean, realMs = 30_000): Promise<void> {
  const end = Date.now() + realMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Approve every gate (as APPROVER) until the run waits at `gate`. */
export async function approveUntilGate(h: Harness, runId: string, gate: string): Promise<Run> {
  const end = Date.now() + 60_000;
  for (;;) {
    const run = (await h.store.getRun(runId))!;
    const waiting = run.steps.find((s) => s.state === 'awaiting-approval');
    if (run.state === 'awaiting-approval' && waiting?.id === gate) return run;
    if (run.state === 'awaiting-approval' && waiting) {
      const ok = await h.core.approve(runId, waiting.id, APPROVER);
      if (!ok.ok) throw new Error(ok.error);
    }
    if (Date.now() > end || ['failed', 'done', 'aborted'].includes(run.state)) throw new Error(`run ${runId} is ${run.state} before ${gate}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A XenAPI session of someone acting on the pool outside the bot (an operator at xe or XenCenter). */
export async function outsideClient(h: Harness): Promise<XenApiClient> {
  const c = new XenApiClient({ url: h.sim.masterUrl, username: h.sim.username, password: h.sim.password, tls: h.sim.tls, clock: h.clock, logger: silentLogger });
  await c.login();
  return c;
}
