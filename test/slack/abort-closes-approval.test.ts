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
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-abort-gate-'));
  const store = await openStore({ path: ':memory:', clock });
  const pool: PoolConfig = {
    name: sim.name, masterUrl: sim.masterUrl, username: sim.username, passwordEnv: 'XS_ABORT_PASSWORD', tls: sim.tls,
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
  const realCore = await createCore({ pools: [pool], store, notifier: forward, clock, logger: silentLogger, env: { XS_ABORT_PASSWORD: sim.password, XSUPGRADE_BACKUPS: dir }, ownerId: 'abort-gate', leaseTtlMs: 20 * 60_000, pollMs: 2000 });
  const h = await startHarness({ core: realCore, pools: [pool], clock, deps: { audit: (e) => store.appendAudit(e), saveSlackRefs: async (runId, refs) => { await store.updateRun(runId, (r) => { r.slack = refs; }); } } });
  notifier = h.slack.notifier;
  return { ...h, sim, store, realCore, pool, async close() { await realCore.shutdown(); await h.stop(); await sim.stop(); await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

let e: Env | undefined;
afterEach(async () => { await e?.close(); e = undefined; });

const planMessages = (env: Env) => env.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && !m.thread_ts && buttonValue(m, ACTION.planReplan));
const message = (env: Env, ts: string) => env.api.messages(CHANNEL).find((m) => m.ts === ts)!;

/**
 * Abort while a host waits at its approval gate: the approval request in the thread loses its Approve / Hold / Abort
 * buttons and says the run was aborted (slack-ux.md §3), like an approved or held gate's.
 */
describe('Abort from the approval message', () => {
  it('replaces the approval request and its buttons by "Run aborted" once the run is aborted', async () => {
    e = await start('7.6');
    await e.command('plan pool-a', { user: REQUESTER });
    const plan = await until('the plan message', () => planMessages(e!).find((m) => buttonValue(m, ACTION.planStart)));
    await e.click(ACTION.planStart, buttonValue(plan, ACTION.planStart)!, { user: REQUESTER, messageTs: plan.ts, blocks: plan.blocks });
    const header = await until('the run header', () => e!.api.messages(CHANNEL).find((m) => !m.thread_ts && !m.ephemeralTo && /^pool-a-\d{8}-\d+ · pool-a/.test(m.text)));
    const runId = header.text.split(' ')[0]!;
    const approval = await until('the approval request', () => e!.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && buttonValue(m, ACTION.approve)));

    // the approver aborts the run with the approval message's own "Abort run" button
    await e.click(ACTION.approvalAbort, buttonValue(approval, ACTION.approvalAbort)!, { user: APPROVER, messageTs: approval.ts, threadTs: header.ts, blocks: approval.blocks });
    await until('the run aborted', () => e!.api.messages(CHANNEL).find((m) => m.thread_ts === header.ts && m.text === `${runId} · pool-a: aborted`));
    expect((await e.store.getRun(runId))?.state).toBe('aborted');
    expect((await e.store.getRun(runId))?.approvals).toEqual([expect.objectContaining({ decision: 'aborted', by: APPROVER })]);

    // every message queued before the summary was delivered (one ordered queue per channel): the approval request
    // must no longer ask for an approval nor offer its buttons
    const after = message(e, approval.ts);
    expect(buttonValue(after, ACTION.approve)).toBeUndefined();
    expect(textOf(after)).not.toMatch(/approval needed/);
    expect(textOf(after)).toMatch(/Run aborted by <@U0MIKA>/);
  });
});
