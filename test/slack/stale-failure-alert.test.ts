/**
 * A failure alert left in the thread after its failure was handled elsewhere (Retry from the CLI) still carries
 * buttons whose value is only {runId, stepId}. When the SAME step then fails again with a DIFFERENT error, a click on
 * the OLD alert must not act on the new failure the operator has not seen (and certainly not on an update other than
 * the one the button and its confirm dialog named).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Actor, Run } from '../../src/domain/types';
import type { FakeMessage } from '../../src/sandbox/fake-web-api';
import { loadScenario } from '../../src/sim';
import { writeHotfixRepository } from '../../src/sim/hotfixes';
import { ACTION } from '../../src/slack/blocks/ids';
import { APPROVER, CHANNEL, REQUESTER } from './helpers/fixtures';
import { buttonValue, startSlackE2E, textOf, until, type SlackE2E } from './e2e/helpers';

jest.setTimeout(240_000);

const APPROVER_ACTOR: Actor = { userId: APPROVER, source: 'slack', channel: CHANNEL };
const CLI: Actor = { userId: 'cli:operator', source: 'cli' };
const STEP = 'xs-p2:apply-updates';

type Env = SlackE2E;

/** pool-p (update-only run) through the real Slack app: the precheck of XS76E010 fails once on xs-p2, then XS76E011's once. */
async function start(): Promise<Env> {
  const sc = loadScenario('manifests/demo/pool-p.yaml');
  const repo = writeHotfixRepository(sc.pool.name, sc.hotfixes, mkdtempSync(join(tmpdir(), 'xsu-stale-alert-updates-')));
  const e = await startSlackE2E({
    scenario: 'manifests/demo/pool-p.yaml',
    faults: [
      { kind: 'api-error', method: 'pool_update.precheck', host: 'xs-p2', update: 'XS76E010', code: 'UPDATE_PRECHECK_FAILED_WRONG_SERVER_VERSION', params: ['XS76E010'], when: 'before', times: 1 },
      { kind: 'api-error', method: 'pool_update.precheck', host: 'xs-p2', update: 'XS76E011', code: 'UPDATE_PRECHECK_FAILED_CONFLICT_PRESENT', params: ['XS76E011', 'XS76E009'], when: 'before', times: 1 },
    ] as never,
    pool: { upgrade: { mode: 'manual' }, updateRepository: repo, hostTimeoutMinutes: 240 },
  });
  const close = e.close;
  e.close = async () => {
    await close();
    rmSync(repo, { recursive: true, force: true });
  };
  return e;
}

/** Approves gates (as the approver, through core) until the run fails or ends. */
async function driveToFailure(e: Env, runId: string): Promise<Run> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const run = (await e.store.getRun(runId))!;
    if (['failed', 'done', 'aborted'].includes(run.state)) return run;
    const gate = run.steps.find((s) => s.state === 'awaiting-approval');
    if (run.state === 'awaiting-approval' && gate) await e.realCore.approve(runId, gate.id, APPROVER_ACTOR);
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alerts = (e: Env) => e.api.messages(CHANNEL).filter((m) => !m.ephemeralTo && m.thread_ts && /precheck of update/.test(textOf(m)));
const current = (e: Env, m: FakeMessage) => e.api.messages(CHANNEL).find((x) => x.ts === m.ts)!;

/** Up to the second failure: alert #1 (XS76E010) still with its buttons, alert #2 (XS76E011) posted. */
async function toSecondFailure(e: Env): Promise<{ runId: string; first: FakeMessage; second: FakeMessage; uuid10: string; uuid11: string }> {
  const plan = await e.realCore.plan('pool-p', {}, { userId: REQUESTER, source: 'slack', channel: CHANNEL });
  if (!plan.ok) throw new Error(plan.error);
  const started = await e.realCore.start('pool-p', { planHash: plan.value.id, planMadeAt: plan.value.createdAt }, { userId: REQUESTER, source: 'slack', channel: CHANNEL });
  if (!started.ok) throw new Error(started.error);
  const runId = started.value.id;

  const failed1 = await driveToFailure(e, runId);
  expect(failed1.state).toBe('failed');
  expect(failed1.steps.find((s) => s.id === STEP)).toMatchObject({ state: 'failed', data: expect.objectContaining({ failed: expect.objectContaining({ name: 'XS76E010' }) }) });
  const first = await until('alert #1', () => alerts(e).find((m) => /XS76E010/.test(textOf(m)) && buttonValue(m, ACTION.recoverSkipUpdate)));
  expect(textOf(first)).toContain('Skip XS76E010');

  // the operator at the console retries (xsupgrade resume --action retry): the Slack alert #1 is not touched
  const retried = await e.realCore.recover(runId, { action: 'retry', stepId: STEP }, CLI);
  expect(retried.ok).toBe(true);

  const failed2 = await driveToFailure(e, runId);
  expect(failed2.state).toBe('failed');
  expect(failed2.steps.find((s) => s.id === STEP)).toMatchObject({ state: 'failed', data: expect.objectContaining({ failed: expect.objectContaining({ name: 'XS76E011' }) }) });
  const second = await until('alert #2', () => alerts(e).find((m) => m.ts !== first.ts && /XS76E011/.test(textOf(m)) && buttonValue(m, ACTION.recoverSkipUpdate)));
  // precondition of the scenario: alert #1 still offers its buttons in the thread
  expect(buttonValue(current(e, first), ACTION.recoverSkipUpdate)).toBeDefined();
  const uuidOf = (r: Run) => (r.steps.find((s) => s.id === STEP)!.data!.failed as { uuid: string }).uuid;
  return { runId, first: current(e, first), second, uuid10: uuidOf(failed1), uuid11: uuidOf(failed2) };
}

let e: Env | undefined;
afterEach(async () => {
  await e?.close();
  e = undefined;
});

describe('a stale failure alert after the same step failed again with another error', () => {
  it('"Skip XS76E010" on the old alert does not skip XS76E011 (which the operator was never asked about)', async () => {
    e = await start();
    const { runId, first, uuid10, uuid11 } = await toSecondFailure(e);
    expect(uuid10).not.toBe(uuid11);

    await e.click(ACTION.recoverSkipUpdate, buttonValue(first, ACTION.recoverSkipUpdate)!, { user: APPROVER, messageTs: first.ts, blocks: first.blocks });
    // let the click be handled
    await until('the click handled', () => e!.api.messages().some((m) => m.ephemeralTo === APPROVER) || e!.api.messages(CHANNEL).some((m) => /skipped on xs-p2/.test(textOf(m))));
    await new Promise((r) => setTimeout(r, 300));

    const after = (await e.store.getRun(runId))!;
    const skipped = (after.steps.find((s) => s.id === STEP)!.data?.skipped as string[] | undefined) ?? [];
    const names = skipped.map((uuid) => (uuid === uuid10 ? 'XS76E010' : uuid === uuid11 ? 'XS76E011' : uuid));
    const audit = (await e.store.listAudit(runId)).map((a) => a.message);
    // the operator confirmed "Skip XS76E010 on xs-p2?": XS76E011 must not be the update skipped
    expect({ state: after.state, skipped: names }).toEqual({ state: 'failed', skipped: [] });
    expect(audit.filter((m) => /^skip-update on/.test(m))).toEqual([]);
  });

  it('Retry on the old alert is refused: it would act on a failure (XS76E011) the operator has not seen', async () => {
    e = await start();
    const { runId, first } = await toSecondFailure(e);

    await e.click(ACTION.recoverRetry, buttonValue(first, ACTION.recoverRetry)!, { user: APPROVER, messageTs: first.ts, blocks: first.blocks });
    await until('the click handled', () => e!.api.messages().some((m) => m.ephemeralTo === APPROVER) || /Retry\* chosen/.test(textOf(current(e!, first))));
    await new Promise((r) => setTimeout(r, 300));

    const audit = (await e.store.listAudit(runId)).map((a) => `${a.kind} ${a.actor} ${a.message}`);
    expect(audit.filter((m) => m.startsWith(`recovery ${APPROVER} retry on`))).toEqual([]);
    // the operator is told, and the run is still failed at the failure they have not decided on
    expect(textOf(e.api.messages().find((m) => m.ephemeralTo === APPROVER)!)).toMatch(/this alert is about attempt 1 of xs-p2:apply-updates, which has run again and failed since \(attempt 2\).*choose in the newer alert/);
    expect((await e.store.getRun(runId))!.steps.find((s) => s.id === STEP)!.state).toBe('failed');
  });
});
