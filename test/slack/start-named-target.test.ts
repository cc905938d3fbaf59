import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScaledClock } from '../../src/clock';
import type { PoolConfig } from '../../src/config/pools';
import { createCore, type CoreHandle } from '../../src/core';
import type { Notifier } from '../../src/domain/ports';
import { silentLogger } from '../../src/log';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, GROUP, REQUESTER } from './helpers/fixtures';
import { Harness, startHarness } from './helpers/harness';
import { buttonValue, textOf, until } from './e2e/helpers';

jest.setTimeout(120_000);

interface Env extends Harness { sim: SimPool; store: Store; realCore: CoreHandle; pool: PoolConfig; close(): Promise<void> }

async function start(target: string): Promise<Env> {
  const clock = new ScaledClock(3000);
  const sim = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock });
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-start-target-'));
  const store = await openStore({ path: ':memory:', clock });
  const pool: PoolConfig = {
    name: sim.name, masterUrl: sim.masterUrl, username: sim.username, passwordEnv: 'XS_TARGET_PASSWORD', tls: sim.tls,
    target,
    upgrade: { mode: 'automatic', repositoryUrl: 'http://repo.example.com/xenserver/7.6/' },
    slack: { channel: CHANNEL, approvers: { users: [APPROVER], groups: [GROUP] }, allowSelfApproval: false },
    returnPolicy: 'none', timezone: 'UTC', hostTimeoutMinutes: 90,
  };
  let notifier: Notifier | undefined;
  const forward = new Proxy({} as Notifier, {
    get: (_t, prop: string) => async (...args: unknown[]) => {
      const t = notifier as unknown as Record<string, (...a: unknown[]) => Promise<void>> | undefined;
      if (t && typeof t[prop] === 'function') await t[prop](...args);
    },
  });
  const realCore = await createCore({ pools: [pool], store, notifier: forward, clock, logger: silentLogger, env: { XS_TARGET_PASSWORD: sim.password, XSUPGRADE_BACKUPS: dir }, ownerId: 'start-target', leaseTtlMs: 20 * 60_000, pollMs: 2000 });
  const h = await startHarness({ core: realCore, pools: [pool], clock, deps: { audit: (e) => store.appendAudit(e), saveSlackRefs: async (runId, refs) => { await store.updateRun(runId, (r) => { r.slack = refs; }); } } });
  notifier = h.slack.notifier;
  return { ...h, sim, store, realCore, pool, async close() { await realCore.shutdown(); await h.stop(); await sim.stop(); await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

let e: Env | undefined;
afterEach(async () => { await e?.close(); e = undefined; });

const planMessages = (env: Env) => env.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planReplan));

/**
 * `/xsupgrade plan <pool> <target>` posts a plan with a Start button for that target. The start re-makes the plan
 * from the live pool towards the target of the plan being started (not the pools file's), so an unchanged pool is
 * started, and the plan the operator saw stays the pool's latest.
 */
describe('Start of a plan made for an explicit target', () => {
  it('starts the plan shown when the pool has not changed, instead of claiming the pool changed and replacing the latest plan', async () => {
    // the pools file aims at 8.2.1 (blocked from 7.1.1, R1.2); the operator plans the step that is possible: 7.6
    e = await start('8.2.1');
    await e.command('plan pool-a 7.6', { user: REQUESTER });
    const shown = await until('the 7.6 plan message', () => planMessages(e!).find((m) => buttonValue(m, ACTION.planStart)));
    const value = JSON.parse(buttonValue(shown, ACTION.planStart)!) as { planHash: string; planAt: number };
    expect(textOf(shown)).toContain('XenServer 7.6');

    await e.click(ACTION.planStart, buttonValue(shown, ACTION.planStart)!, { user: REQUESTER, messageTs: shown.ts, blocks: shown.blocks });
    const decided = await until('a run or a refusal', () =>
      e!.api.messages().find((m) => (m.ephemeralTo === REQUESTER && /Start pool-a/.test(textOf(m))) || (!m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text))),
    );
    // nothing changed on the pool between the plan and the click: no "changed since plan" (untrue), a run instead
    expect(textOf(decided)).not.toMatch(/changed since plan/);
    expect((await e.store.listRuns({ pool: 'pool-a' })).map((r) => r.planHash)).toEqual([value.planHash]);
    // and the plan the operator saw is still the pool's latest (not silently replaced by one nobody was shown)
    expect((await e.store.getLatestPlan('pool-a'))?.id).toBe(value.planHash);
  });
});
