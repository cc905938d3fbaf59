/**
 * The multi-phase recovery procedures (R4), driven by the engine while the failed step is 'running' with
 * data.recovery: forget & rejoin (R4.2) and roll back the master (R4.1). Which action is valid, and the checks made
 * when one is chosen, are in recovery.ts. A procedure's phase is in the failed step's data, so a restart continues it.
 */
import type { Clock } from '../clock';
import type { Notifier } from '../domain/ports';
import type { Run, StepRecord } from '../domain/types';
import type { AuditKind } from './audit';
import { backupVerdict } from './end-audit';
import { StepFailure, isConnectionError, isPoolUnavailable, xenErrorCode } from './errors';
import { longCall } from './long-call';
import { verifyNewHost } from './new-host';
import { describeHost, readLivePool, type LiveHost, type LiveHosts } from './pool-state';
import type { RunStore } from './ports';
import { addressTakenBy, aheadRefusal, hostPlanOf, membersAhead, otherMemberAt, validActions, type RecoveryState } from './recovery';
import type { Replacement } from './remap';
import { endAuditOf } from './report';
import type { PoolRuntime } from './runtime';
import type { StepContext } from './step';
import { isOnTarget, versionText } from './steps/common';
import type { HaSaved } from './steps/pool-prep';
import { slowCallMs } from './steps/upgrade';
import { waitForPool } from './wait';
export interface RecoveryEnv {
  rt: PoolRuntime;
  store: RunStore;
  clock: Clock;
  audit: (runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>) => Promise<void>;
  contextFor: (run: Run, stepId: string) => StepContext;
  notify: (run: Run, what: keyof Notifier, fn: (n: Notifier) => Promise<void>) => void;
}

export type RecoveryResult = { status: 'continue' } | { status: 'waiting'; run: Run } | { status: 'closed'; run: Run };

export async function continueRecovery(env: RecoveryEnv, run: Run, step: StepRecord): Promise<RecoveryResult> {
  const rec = step.data?.recovery as RecoveryState;
  return rec.action === 'forget-rejoin' ? forgetRejoin(env, run, step) : rollbackMaster(env, run, step);
}

/** How long (clock) after pool.join returned the joined host's record may take to show in the pool. */
const JOINED_RECORD_GRACE_MS = 5 * 60_000;

/** An operator-driven host (reinstalled, rolled back) becoming a live member: as long as a manual install may take. */
function waitForLiveMember(env: RecoveryEnv, ctx: StepContext, matches: (h: LiveHost) => boolean, failure: (last?: LiveHosts) => Error): Promise<LiveHost> {
  return waitForPool({
    client: env.rt.deps.client,
    clock: env.clock,
    signal: ctx.signal,
    pollMs: env.rt.deps.config.pollMs,
    timeoutMs: env.rt.deps.config.hostTimeoutMs.manual,
    check: (p) => p.hosts.find((h) => h.live && matches(h)),
    onTimeout: ({ last }) => failure(last),
  });
}

async function setPhase(env: RecoveryEnv, run: Run, stepId: string, patch: Partial<RecoveryState>): Promise<Run> {
  return env.store.updateRun(run.id, (r) => {
    const s = r.steps.find((x) => x.id === stepId)!;
    s.data = { ...(s.data ?? {}), recovery: { ...(s.data?.recovery as RecoveryState), ...patch } };
  });
}

/** The failed step goes back to a plain failure (every action offered again): nothing was forgotten. */
async function leaveRecovery(env: RecoveryEnv, run: Run, stepId: string): Promise<void> {
  await env.store.updateRun(run.id, (r) => {
    const s = r.steps.find((x) => x.id === stepId)!;
    const { recovery: _dropped, ...rest } = s.data ?? {};
    s.data = rest;
  });
}

async function forgetRejoin(env: RecoveryEnv, run: Run, step: StepRecord): Promise<RecoveryResult> {
  const { rt } = env;
  const ctx = env.contextFor(run, step.id);
  const name = step.hostName ?? step.id;
  const oldRef = step.host!;
  let rec = step.data!.recovery as RecoveryState;
  const hp = hostPlanOf(run, step)!;
  const advance = async (patch: Partial<RecoveryState>) => {
    run = await setPhase(env, run, step.id, patch);
    rec = { ...rec, ...patch };
  };

  if (rec.phase === 'await-address' || !rec.address) {
    throw new StepFailure(`${name} was forgotten; waiting for its reinstalled address (forget-rejoin with the address)`, { code: 'AWAITING_ADDRESS' });
  }
  const address = rec.address;
  if (rec.phase === 'verify' || rec.phase === 'forget' || rec.phase === 'join') {
    const pool = await readLivePool(rt.deps.client);
    // the address must be the reinstalled machine's: another planned member there would take the failed host's place
    const other = otherMemberAt(run, pool, address, oldRef);
    if (other) {
      if (!rec.forgotten && rec.phase === 'verify') await leaveRecovery(env, run, step.id);
      throw new StepFailure(addressTakenBy(address, other), { code: 'ADDRESS_IN_USE', observed: [describeHost(other)] });
    }
    // a restart after pool.join was sent: the host is already a member, the join is not sent again
    if (pool.hosts.some((h) => h.address === address && h.ref !== oldRef)) await advance({ phase: 'wait-member', forgotten: !pool.hosts.some((h) => h.ref === oldRef) || rec.forgotten });
  }
  if (rec.phase === 'verify') {
    try {
      const verified = await verifyNewHost(rt, address, rec.fingerprint256, hp.to, run.plan.target.label);
      await env.audit(run.id, 'recovery', rec.by, `verified the reinstalled host before forgetting ${name}: ${verified}`, { step: step.id, address });
    } catch (err) {
      // nothing was forgotten: the failed step is offered every action again (retry included)
      if (!rec.forgotten) await leaveRecovery(env, run, step.id);
      throw err;
    }
    await advance({ phase: 'forget' });
  }
  if (rec.phase === 'forget') {
    const pool = await readLivePool(rt.deps.client);
    const h = pool.hosts.find((x) => x.ref === oldRef);
    if (h) {
      if (h.live) {
        await leaveRecovery(env, run, step.id);
        throw new StepFailure(`${name} is live again: it cannot be forgotten (R4.2)`, { observed: [describeHost(h)] });
      }
      try {
        await ctx.act('host.destroy', [oldRef], `${name} (host-forget, R4.2)`);
      } catch (err) {
        // an answer lost after xapi forgot the host: the pool, read again, shows whether it is gone
        const now = isConnectionError(err) ? await readLivePool(rt.deps.client).catch(() => undefined) : undefined;
        const forgotten = xenErrorCode(err) === 'HANDLE_INVALID' || (now !== undefined && !now.hosts.some((x) => x.ref === oldRef));
        if (!forgotten) {
          await leaveRecovery(env, run, step.id);
          throw err;
        }
      }
    }
    await advance({ phase: 'join', forgotten: true });
  }
  if (rec.phase === 'join') {
    const pool = await readLivePool(rt.deps.client);
    if (!rt.freshHostClient) throw new StepFailure('this runner cannot reach a stand-alone host (no fresh host client)');
    const master = pool.hosts.find((h) => h.isMaster);
    if (!master) throw new StepFailure('the pool has no master to join');
    const fresh = rt.freshHostClient(address, rec.fingerprint256);
    const creds = rt.deps.config.poolCredentials;
    try {
      await fresh.login();
      // sent on the fresh host's own client, not ctx.act: fenced the same way (issue 16), before the join and
      // before its task's destroy, so a runner taken over or aborted sends nothing and leaves the task alone
      await ctx.assertLive();
      // audited without its arguments: they hold the pool's password
      await env.audit(run.id, 'xenapi', 'runner', `pool.join on ${address} → master ${master.address} (R4.2)`, { step: step.id, method: 'pool.join', target: address });
      // minutes (reference H4): Async on the fresh host, followed; a join still running there is followed, not re-sent
      // an abort stops following the join (TaskWaitOptions.signal); the join itself is the host's, never cancelled
      const wait = { deadlineMs: env.clock.now() + slowCallMs(rt.deps), beforeDestroy: () => ctx.assertLive(), signal: ctx.signal };
      const tasks = (await fresh.call<Record<string, { name_label?: string; status?: string }>>('task.get_all_records')) ?? {};
      const pending = Object.entries(tasks).find(([, t]) => t.name_label === 'Async.pool.join' && t.status === 'pending')?.[0];
      try {
        if (pending && fresh.waitForTask) await fresh.waitForTask(pending, wait);
        else await fresh.callAsync('pool.join', [master.address, creds.username, creds.password], wait);
      } catch (err) {
        // a join that went through restarts the host's xapi as a slave: its task and its answers as a stand-alone
        // master end there (HOST_STILL_BOOTING, HOST_IS_SLAVE, a lost task or connection). Not a refusal: whether
        // it joined is read from the pool in the wait-member phase, and the join is not sent again.
        if (!isPoolUnavailable(err)) throw err;
        await env.audit(run.id, 'xenapi', 'runner', `pool.join on ${address}: no answer after the call (${(err as Error).message}); membership is read from the pool`, { step: step.id });
      }
    } finally {
      await fresh.logout().catch(() => undefined);
    }
    await advance({ phase: 'wait-member' });
  }
  // wait-member. xapi creates the joining host's record on the master while pool.join runs, so a record at the address
  // must be there soon after the join: when none shows, the join went somewhere else (a wrong address) and the step
  // fails now, offering a corrected forget & rejoin, instead of waiting a whole install timeout
  await waitForPool({
    client: rt.deps.client,
    clock: env.clock,
    signal: ctx.signal,
    pollMs: rt.deps.config.pollMs,
    timeoutMs: Math.min(JOINED_RECORD_GRACE_MS, rt.deps.config.hostTimeoutMs.manual),
    check: (p) => p.hosts.find((h) => h.address === address && h.ref !== oldRef),
    onTimeout: ({ last }) =>
      new StepFailure(`pool.join was accepted at ${address}, but no host with that address appeared in pool ${run.pool}: the address may be wrong. Forget & rejoin again with the reinstalled host's address`, {
        code: 'JOINED_HOST_NOT_SEEN',
        observed: last ? last.hosts.map((h) => `${describeHost(h)} at ${h.address}`) : ['pool unreachable'],
      }),
  });
  const newHost = await waitForLiveMember(env, ctx, (h) => h.address === address && h.ref !== oldRef && isOnTarget(h, hp.to), (last) =>
    new StepFailure(`the host at ${address} did not become a live member on ${run.plan.target.label}`, {
      observed: last ? last.hosts.map(describeHost) : ['pool unreachable'],
    }),
  );
  const replaced: Replacement = { from: oldRef, to: newHost.ref, ...(rec.fingerprint256 ? { fingerprint256: rec.fingerprint256 } : {}) };
  // pinned pools: the rejoined member's confirmed certificate is trusted from now on (persisted in the run: core
  // restores it at start-up)
  if (rec.fingerprint256) rt.trustFingerprint?.(rec.fingerprint256);
  const done = await env.store.updateRun(run.id, (r) => {
    const s = r.steps.find((x) => x.id === step.id)!;
    s.state = 'done';
    s.endedAt = env.clock.now();
    s.data = { ...(s.data ?? {}), replaced, recovery: { ...(s.data?.recovery as RecoveryState), phase: 'finish' }, note: `${name} reinstalled and rejoined` };
  });
  await env.audit(run.id, 'recovery', rec.by, `${name} rejoined the pool as ${newHost.ref} on ${versionText(newHost)}; the rest of the run targets it`, { step: step.id, ...replaced });
  const pin = rec.fingerprint256 ? ` Its confirmed certificate (sha256 ${rec.fingerprint256}) is trusted for this pool; add it to the pool's tls.fingerprint256 in the pools file if the pool is pinned.` : '';
  env.notify(done, 'runEvent', (n) =>
    n.runEvent(done, `${name} is back in the pool on ${versionText(newHost)} (forget + rejoin, R4.2). VMs planned for it now target its new record; the run continues.${pin}`),
  );
  return { status: 'continue' };
}

async function rollbackMaster(env: RecoveryEnv, run: Run, step: StepRecord): Promise<RecoveryResult> {
  const { rt } = env;
  const ctx = env.contextFor(run, step.id);
  const hp = hostPlanOf(run, step)!;
  const name = hp.name;
  let rec = step.data!.recovery as RecoveryState;
  const original = { product: hp.from.product, build: hp.from.build };
  // only a dump that holds pool data is offered for a restore (issue 11.6)
  const verdict = backupVerdict(run);
  const backup = verdict.usable ? verdict.path : undefined;

  if (rec.phase === 'await-original') {
    if (!rec.guided) {
      run = await setPhase(env, run, step.id, { guided: true });
      ctx.say(
        `Rolling back the master ${name} (R4.1): the upgrade will not continue. Restart ${name} and restore ${versionText(original)} ` +
          `(boot the previous version kept by the installer, or reinstall it and restore the pool database${backup ? ` from ${backup}` : ` from a backup of your own — ${verdict.why}`} with xe pool-restore-database). ` +
          `The run waits until ${name} is live on ${versionText(original)}.`,
      ).catch(() => undefined);
    }
    await waitForLiveMember(env, ctx, (h) => h.ref === hp.host && isOnTarget(h, { product: original.product, platform: hp.from.platform, build: original.build }), (last) => {
      const h = last?.hosts.find((x) => x.ref === hp.host);
      return new StepFailure(`${name} is not back live on ${versionText(original)} yet`, { observed: h ? [describeHost(h)] : ['pool unreachable'] });
    });
    // the click may have been taken while the pool could not be read (checkAgainstPool): the members again, before
    // the master is enabled (R4.1)
    const ahead = membersAhead(run, await readLivePool(rt.deps.client));
    if (ahead.length > 0) {
      // the step fails still in this phase: its alert offers what validActions gives a failed step here (Retry
      // included), and the message names exactly those
      const failedHere = { ...run.steps.find((s) => s.id === step.id)!, state: 'failed' as const };
      const offered = validActions({ ...run, state: 'failed' }, failedHere);
      throw new StepFailure(aheadRefusal(run, ahead, offered), { observed: ahead.map((n) => `${n} on ${run.plan.target.label}`) });
    }
    run = await setPhase(env, run, step.id, { phase: 'enable' });
    rec = { ...rec, phase: 'enable' };
  }
  // the master's own remaining steps, run as part of the roll-back (they reconcile like any step)
  const runOwnStep = async (kind: 'enable' | 'restore-vms' | 'move-back'): Promise<void> => {
    const id = `${name}:${kind}`;
    const current = (await env.store.getRun(run.id))!;
    const own = current.steps.find((s) => s.id === id);
    if (!own || own.state === 'done') return;
    const outcome = await rt.steps[kind].execute(env.contextFor(current, id));
    await env.store.updateRun(run.id, (r) => {
      const s = r.steps.find((x) => x.id === id)!;
      s.state = 'done';
      s.endedAt = env.clock.now();
      s.data = { ...(s.data ?? {}), note: `${outcome.status === 'done' && outcome.note ? outcome.note : 'done'} (roll-back)` };
    });
    await env.audit(run.id, 'step', 'runner', `${id} done as part of the roll-back`, { step: id });
  };
  if (rec.phase === 'enable') {
    await runOwnStep('enable');
    run = await setPhase(env, run, step.id, { phase: 'restore' });
    rec = { ...rec, phase: 'restore' };
  }
  if (rec.phase === 'restore') {
    await runOwnStep('restore-vms');
    await runOwnStep('move-back');
    const ha = run.steps.find((s) => s.kind === 'pool-prep')?.data?.ha as HaSaved | undefined;
    const pool = await readLivePool(rt.deps.client);
    if (ha?.wasEnabled && !pool.haEnabled)
      await longCall(rt.deps, ctx, {
        key: 'enableHaCall',
        method: 'pool.enable_ha',
        params: [ha.heartbeatSrs, ha.configuration],
        target: `pool ${run.pool}`,
        budgetMs: slowCallMs(rt.deps),
        reconcile: async () => ((await readLivePool(rt.deps.client)).haEnabled ? 'done' : 'not-done'),
        checkBeforeRetry: "Check the pool's HA state (xe pool-param-get param-name=ha-enabled).",
      });
  }
  const endAudit = await endAuditOf({ client: rt.deps.client, clock: env.clock, store: env.store }, (await env.store.getRun(run.id))!);
  const closed = await env.store.updateRun(run.id, (r) => {
    const s = r.steps.find((x) => x.id === step.id)!;
    s.state = 'failed';
    s.data = { ...(s.data ?? {}), recovery: { ...(s.data?.recovery as RecoveryState), phase: 'finish' } };
    for (const x of r.steps) if (x.state === 'pending' || x.state === 'awaiting-approval') x.state = 'skipped';
    r.state = 'rolled-back';
    r.endedAt = env.clock.now();
    r.endAudit = endAudit;
    // what the pool shows, not what the roll-back meant to do (issue 11)
    r.outcome =
      `rolled back: ${name} is live on ${versionText(original)} again (R4.1)` +
      (endAudit.changed.length ? `; still changed: ${endAudit.changed.join('; ')}` : '; hosts, running VMs and HA are as they were before the run');
  });
  await env.audit(run.id, 'recovery', rec.by, closed.outcome!, { step: step.id });
  return { status: 'closed', run: closed };
}
