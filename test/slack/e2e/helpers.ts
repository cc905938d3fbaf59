import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../../../src/clock';
import type { PoolConfig } from '../../../src/config/pools';
import { createCore, type CoreHandle } from '../../../src/core';
import type { Notifier } from '../../../src/domain/ports';
import { silentLogger } from '../../../src/log';
import type { FakeMessage } from '../../../src/sandbox/fake-web-api';
import { loadScenario, startSimulator, type SimPool } from '../../../src/sim';
import { openStore, type Store } from '../../../src/store';
import { createScheduler, type Scheduler } from '../../../src/scheduler';
import { APPROVER, CHANNEL, GROUP } from '../helpers/fixtures';
import { Harness, startHarness } from '../helpers/harness';

/** The real core and runner on the simulator, driven only through the real Slack app and the fake Web API. */
export interface SlackE2E extends Harness {
  sim: SimPool;
  store: Store;
  realCore: CoreHandle;
  pool: PoolConfig;
  /** the real scheduler behind the schedule commands (its ticks are driven by the test, never by a timer) */
  scheduler: Scheduler;
  close(): Promise<void>;
}

/**
 * `target`: the pools file's target (default 7.6); `scenario`: the demo scenario file (default pool-a); `pool`: other
 * fields of the pools file's entry (an update repository, manual mode…)
 */
export async function startSlackE2E(
  opts: { faults?: Parameters<SimPool['control']['injectFault']>[0][]; scale?: number; target?: string; scenario?: string; pool?: Partial<PoolConfig> } = {},
): Promise<SlackE2E> {
  const clock = new ScaledClock(opts.scale ?? 3000);
  const sim = await startSimulator(loadScenario(opts.scenario ?? 'manifests/demo/pool-a.yaml'), { clock });
  for (const f of opts.faults ?? []) sim.control.injectFault(f);
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-slack-e2e-'));
  const store = await openStore({ path: ':memory:', clock });
  const pool: PoolConfig = {
    name: sim.name,
    masterUrl: sim.masterUrl,
    username: sim.username,
    passwordEnv: 'XS_SLACK_E2E_PASSWORD',
    tls: sim.tls,
    target: opts.target ?? '7.6',
    upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/7.6/' },
    slack: { channel: CHANNEL, approvers: { users: [APPROVER], groups: [GROUP] }, allowSelfApproval: false },
    returnPolicy: 'none',
    timezone: 'UTC',
    hostTimeoutMinutes: 90,
    ...opts.pool,
  };
  let notifier: Notifier | undefined;
  const forward = new Proxy({} as Notifier, {
    get: (_t, prop: string) => async (...args: unknown[]) => {
      const target = notifier as unknown as Record<string, (...a: unknown[]) => Promise<void>> | undefined;
      if (target && typeof target[prop] === 'function') await target[prop](...args);
    },
  });
  const realCore = await createCore({
    pools: [pool],
    store,
    notifier: forward,
    clock,
    logger: silentLogger,
    env: { XS_SLACK_E2E_PASSWORD: sim.password, XSUPGRADE_BACKUPS: dir },
    ownerId: 'slack-e2e',
    leaseTtlMs: 20 * 60_000,
    pollMs: 2000,
  });
  const scheduler = createScheduler({ core: realCore, store, notifier: forward, pools: [pool], clock, logger: silentLogger });
  const h = await startHarness({
    core: realCore,
    pools: [pool],
    clock,
    deps: {
      scheduler,
      audit: (e) => store.appendAudit(e),
      saveSlackRefs: async (runId, refs) => {
        await store.updateRun(runId, (r) => {
          r.slack = refs;
        });
      },
    },
  });
  notifier = h.slack.notifier;
  return {
    ...h,
    sim,
    store,
    realCore,
    pool,
    scheduler,
    async close() {
      await realCore.shutdown();
      await h.stop();
      await sim.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls (real time, bounded) until `probe` returns a value; never asserts a duration. */
export async function until<T>(what: string, probe: () => T | undefined | false, realMs = 60_000): Promise<T> {
  const deadline = Date.now() + realMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

export function buttonValue(m: FakeMessage, actionId: string): string | undefined {
  for (const b of (m.blocks ?? []) as Array<{ type: string; elements?: Array<{ action_id?: string; value?: string }> }>) {
    const el = b.type === 'actions' ? b.elements?.find((e) => e.action_id === actionId) : undefined;
    if (el?.value) return el.value;
  }
  return undefined;
}

export const textOf = (m: FakeMessage) => `${m.text}\n${JSON.stringify(m.blocks ?? [])}`;
