/**
 * The Slack app (test/slack/helpers/harness.ts: Bolt, the fake Web API) on the REAL core, runner and store, against
 * the simulator's pool-a: for tests of what operators see in Slack when the run itself moves on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../../../src/clock';
import type { PoolConfig } from '../../../src/config/pools';
import { createCore, type CoreHandle } from '../../../src/core';
import type { Notifier } from '../../../src/domain/ports';
import { silentLogger } from '../../../src/log';
import { loadScenario, startSimulator, type SimPool } from '../../../src/sim';
import { openStore, type Store } from '../../../src/store';
import { ACTION } from '../../../src/slack/blocks/ids';
import { buttonValue } from '../e2e/helpers';
import { APPROVER, CHANNEL, GROUP } from './fixtures';
import { Harness, startHarness } from './harness';

export interface RealCoreEnv extends Harness {
  sim: SimPool;
  store: Store;
  realCore: CoreHandle;
  pool: PoolConfig;
  close(): Promise<void>;
}

/** pool-a on the simulator (automatic mode, pools file target `target`), its core notifying the Slack app. */
export async function startRealCore(target: string): Promise<RealCoreEnv> {
  const clock = new ScaledClock(3000);
  const sim = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-slack-core-'));
  const store = await openStore({ path: ':memory:', clock });
  const pool: PoolConfig = {
    name: sim.name,
    masterUrl: sim.masterUrl,
    username: sim.username,
    passwordEnv: 'XS_SIM_PASSWORD',
    tls: sim.tls,
    target,
    upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/7.6/' },
    slack: { channel: CHANNEL, approvers: { users: [APPROVER], groups: [GROUP] }, allowSelfApproval: false },
    returnPolicy: 'none',
    timezone: 'UTC',
    hostTimeoutMinutes: 90,
  };
  // the core is made before the app whose notifier it calls
  let notifier: Notifier | undefined;
  const forward = new Proxy({} as Notifier, {
    get: (_t, prop: string) => async (...args: unknown[]) => {
      const t = notifier as unknown as Record<string, (...a: unknown[]) => Promise<void>> | undefined;
      if (t && typeof t[prop] === 'function') await t[prop](...args);
    },
  });
  const realCore = await createCore({ pools: [pool], store, notifier: forward, clock, logger: silentLogger, env: { XS_SIM_PASSWORD: sim.password, XSUPGRADE_BACKUPS: dir }, ownerId: 'slack-core', leaseTtlMs: 20 * 60_000, pollMs: 2000 });
  const h = await startHarness({
    core: realCore,
    pools: [pool],
    clock,
    deps: {
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
    async close() {
      await realCore.shutdown();
      await h.stop();
      await sim.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The plan messages in the channel (not thread replies, not ephemeral). */
export const planMessages = (env: RealCoreEnv) => env.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planReplan));
