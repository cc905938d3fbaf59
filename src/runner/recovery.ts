/**
 * Recovery actions after a failed step (R4). Which actions are valid depends on the failure; each is validated
 * again when invoked, against the run's revision and the step's state, so a stale or duplicate action is refused
 * and never applied twice.
 *
 * - retry (R4.3): the step runs again; it reconciles with the pool first, and so do the host's preparation steps
 *   before it (preparationToRecheck): a host re-enabled by a reboot is disabled and emptied again.
 * - forget-rejoin (R4.2, non-master): the operator reinstalls the host and gives its address; the bot reads the
 *   certificate there (probeNewHost, nothing sent) and an approver confirms its SHA-256 fingerprint. Then, in order:
 *   verify (log in pinned to that fingerprint: a fresh stand-alone host on the target, no guests), forget the old
 *   record (host.destroy, only once the host is confirmed not live), pool.join ON the fresh host, wait for it as a
 *   live member; the rest of the run targets its new record (placement re-planned) and continues. Nothing is
 *   forgotten and no credential is sent before the new host is verified; a wrong address can be corrected (a new
 *   forget-rejoin with another address) until the join succeeded.
 * - rollback-master (R4.1, master): never continue; refused when another host already runs the target. The operator
 *   restores the master's previous version; the runner waits for it live on its original version, re-enables it,
 *   restarts/resumes what was stopped for it, moves its VMs back per policy, re-enables HA, closes as rolled-back.
 * - skip-host (non-master): the host's remaining steps are skipped; it stays disabled, and the run says so.
 * - abort: stop, with a report of every host and VM (core).
 *
 * A multi-phase recovery is durable: its phase is in the failed step's data (`recovery`), so a restart continues it.
 */
import type { Clock } from '../clock';
import type { NewHostProbe, Notifier, RecoveryRequest } from '../domain/ports';
import { normalizeFingerprint } from '../xenapi/tls';
import { lookAtNewHost, verifyNewHost } from './new-host';
import type { HostPlan, RecoveryAction, Ref, Run, StepRecord } from '../domain/types';
import type { AuditKind } from './audit';
import { StepFailure, isConnectionError, isPoolUnavailable, xenErrorCode } from './errors';
import { describeHost, readLivePool, type LiveHost, type LiveHosts, type LivePool } from './pool-state';
import type { RunStore } from './ports';
import type { StepContext } from './step';
import { isOnTarget, versionText } from './steps/common';
import type { HaSaved } from './steps/pool-prep';
import { waitForPool } from './wait';
import { longCall } from './long-call';
import { slowCallMs } from './steps/upgrade';
import { hostRemap, type Replacement } from './remap';
import { endAuditOf } from './report';
import { backupVerdict } from './end-audit';
import type { PoolRuntime } from './runtime';

export interface RecoveryState {
  action: 'forget-rejoin' | 'rollback-master';
  /** forget-rejoin: verify → forget → join → wait-member ('await-address': runs stored by an older version) */
  phase: 'verify' | 'forget' | 'await-address' | 'join' | 'wait-member' | 'await-original' | 'enable' | 'restore' | 'finish';
  by: string;
  address?: string;
  /** forget-rejoin over https: the certificate fingerprint an approver confirmed for `address` */
  fingerprint256?: string;
  /** forget-rejoin: the old host record is gone (host.destroy done) */
  forgotten?: boolean;
  guided?: boolean;
}

/** The old record of the host is gone: only another forget-rejoin (a corrected address) or abort can follow. */
function oldRecordForgotten(rec: RecoveryState | undefined): boolean {
  return rec?.action === 'forget-rejoin' && (!!rec.forgotten || rec.phase === 'await-address' || rec.phase === 'join' || rec.phase === 'wait-member');
}

export { hostRemap, type Replacement } from './remap';

export function hostPlanOf(run: Run, step: StepRecord): HostPlan | undefined {
  return step.host ? run.plan.hosts.find((h) => h.host === step.host) : undefined;
}

/** A host other than the master whose upgrade went through (its wait-host step is done). */
export function upgradedNonMasters(run: Run): string[] {
  return run.plan.hosts
    .filter((h) => !h.isMaster && run.steps.some((s) => s.kind === 'wait-host' && s.host === h.host && s.state === 'done'))
    .map((h) => h.name);
}

const HOST_DOWN_KINDS = new Set(['upgrade', 'wait-host']);

/** The actions that make sense for this failed step, in the order they are offered. */
export function validActions(run: Run, step: StepRecord): RecoveryAction[] {
  if (run.state !== 'failed' || step.state !== 'failed') return [];
  const rec = step.data?.recovery as RecoveryState | undefined;
  if (oldRecordForgotten(rec)) return ['forget-rejoin', 'abort'];
  if (rec?.action === 'rollback-master') return ['rollback-master', 'abort'];
  const actions: RecoveryAction[] = ['retry'];
  // R3.10: an update's precheck failed on this host: continue without that update (recorded, shown in the end audit)
  if (step.kind === 'apply-updates' && (step.data?.failed as { uuid?: string } | null | undefined)?.uuid) actions.push('skip-update');
  const hp = hostPlanOf(run, step);
  if (hp?.isMaster) {
    if ((HOST_DOWN_KINDS.has(step.kind) || step.kind === 'enable') && upgradedNonMasters(run).length === 0) actions.push('rollback-master');
  } else if (hp) {
    if (HOST_DOWN_KINDS.has(step.kind)) actions.push('forget-rejoin');
    actions.push('skip-host');
  }
  actions.push('abort');
  return actions;
}

export type Refusal = { ok: false; code: 'conflict' | 'invalid' | 'not-found'; error: string };

/** Checks on the stored run only (the CAS in applyRecovery repeats them atomically). */
export function checkRequest(run: Run, req: RecoveryRequest): { ok: true; step: StepRecord } | Refusal {
  const step = run.steps.find((s) => s.id === req.stepId);
  if (!step) return { ok: false, code: 'not-found', error: `run ${run.id} has no step ${req.stepId}` };
  if (run.state !== 'failed') return { ok: false, code: 'conflict', error: `run ${run.id} is ${run.state}, not failed: ${req.action} refused (already handled?)` };
  if (step.state !== 'failed') return { ok: false, code: 'conflict', error: `step ${step.id} is ${step.state}, not failed: ${req.action} refused (already handled?)` };
  const valid = validActions(run, step);
  if (!valid.includes(req.action)) {
    const why =
      req.action === 'rollback-master' && hostPlanOf(run, step)?.isMaster && upgradedNonMasters(run).length > 0
        ? `: ${upgradedNonMasters(run).join(', ')} already run the target, so rolling the master back would leave members newer than their master (R4.1). Decide: fix the cause and retry the master, or restore those hosts too`
        : '';
    return { ok: false, code: 'invalid', error: `${req.action} is not valid for ${step.id}${why}; valid: ${valid.join(', ')}` };
  }
  if (req.action === 'forget-rejoin' && !req.address) {
    return {
      ok: false,
      code: 'invalid',
      error: `address: give the reinstalled ${step.hostName ?? 'host'}'s management address; the bot verifies the host there before it forgets anything (R4.2)`,
    };
  }
  if (req.address !== undefined && !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(req.address)) {
    return { ok: false, code: 'invalid', error: `address: expected a host name or IP address, got "${req.address}"` };
  }
  if (req.fingerprint256 !== undefined && normalizeFingerprint(req.fingerprint256).length !== 64) {
    return { ok: false, code: 'invalid', error: `fingerprint256: expected a SHA-256 fingerprint (32 hex pairs like AB:CD:…), got "${req.fingerprint256}"` };
  }
  return { ok: true, step };
}

/** A member of the pool at `address` that is one of the run's planned hosts other than `ownRef` (the host being replaced). */
function otherMemberAt(run: Run, pool: LivePool, address: string, ownRef: Ref | undefined): LiveHost | undefined {
  const remap = hostRemap(run);
  const planned = new Set(run.plan.hosts.filter((hp) => hp.host !== ownRef).map((hp) => remap.get(hp.host) ?? hp.host));
  return pool.hosts.find((h) => h.address === address && planned.has(h.ref));
}

function addressTakenBy(address: string, host: LiveHost): string {
  return `address ${address} belongs to ${host.name}, already a member of the pool: give the reinstalled host's management address (R4.2)`;
}

/** Checks against the live pool, before anything is written (R4.1 refusal, R4.2 "confirmed not live"). */
export async function checkAgainstPool(rt: PoolRuntime, run: Run, step: StepRecord, req: RecoveryRequest): Promise<{ ok: true } | Refusal> {
  if (req.action !== 'rollback-master' && req.action !== 'forget-rejoin') return { ok: true };
  let pool: LivePool;
  try {
    pool = await readLivePool(rt.deps.client);
  } catch (err) {
    return { ok: false, code: 'conflict', error: `cannot read pool ${run.pool} to check ${req.action}: ${(err as Error).message}` };
  }
  if (req.action === 'rollback-master') {
    const ahead = run.plan.hosts.filter((hp) => {
      if (hp.isMaster || isOnTarget({ product: hp.from.product, build: hp.from.build }, hp.to)) return false;
      const h = pool.hosts.find((x) => x.ref === hp.host);
      return !!h && isOnTarget(h, hp.to);
    });
    if (ahead.length > 0) {
      return {
        ok: false,
        code: 'conflict',
        error: `rollback refused: ${ahead.map((h) => h.name).join(', ')} already run ${run.plan.target.label}; a master rolled back below its members breaks the pool (R4.1). Decide: fix the master's upgrade and retry, or reinstall those hosts on the old version first`,
      };
    }
  }
  if (req.action === 'forget-rejoin') {
    const h = pool.hosts.find((x) => x.ref === step.host);
    if (h?.live) {
      return { ok: false, code: 'conflict', error: `${h.name} is live: only a host that is down can be forgotten (R4.2). ${describeHost(h)}` };
    }
    const other = req.address ? otherMemberAt(run, pool, req.address, step.host) : undefined;
    if (other) return { ok: false, code: 'invalid', error: addressTakenBy(req.address!, other) };
    if (rt.scheme === 'https:' && !req.fingerprint256) {
      return {
        ok: false,
        code: 'invalid',
        error: `fingerprint256: confirm the certificate of the host at ${req.address} first (the forget & rejoin dialog shows it; on the CLI run resume without --fingerprint to see it). Nothing was done`,
      };
    }
  }
  return { ok: true };
}

/**
 * Forget & rejoin, first half: what is at `address` before anything is trusted or sent there (a TLS handshake reads
 * its certificate; no request, no credential), and which VMs lose their disks with the old host's local storage.
 */
export async function probeNewHost(rt: PoolRuntime, run: Run, step: StepRecord, address: string): Promise<{ ok: true; value: NewHostProbe } | Refusal> {
  const checked = checkRequest(run, { action: 'forget-rejoin', stepId: step.id, address });
  if (!checked.ok) return checked;
  let pool: LivePool;
  try {
    pool = await readLivePool(rt.deps.client);
  } catch (err) {
    return { ok: false, code: 'conflict', error: `cannot read pool ${run.pool} to check forget-rejoin: ${(err as Error).message}` };
  }
  const old = pool.hosts.find((x) => x.ref === step.host);
  if (old?.live) return { ok: false, code: 'conflict', error: `${old.name} is live: only a host that is down can be forgotten (R4.2). ${describeHost(old)}` };
  const other = otherMemberAt(run, pool, address, step.host);
  if (other) return { ok: false, code: 'invalid', error: addressTakenBy(address, other) };
  const seen = await lookAtNewHost(rt, run.pool, old?.ref, address);
  return seen.ok ? seen : { ok: false, code: seen.code, error: seen.error };
}

/** The synchronous CAS mutation for a recovery request; throws (nothing written) when the run moved on. */
/** The failed step runs again under a recovery procedure (the engine continues it); its error is kept as lastError. */
function underRecovery(s: StepRecord, recovery: RecoveryState): void {
  s.state = 'running';
  s.data = { ...(s.data ?? {}), lastError: s.error, recovery };
  delete s.error;
}

export function recoveryMutation(req: RecoveryRequest, by: string, expect: { revision: number }): (r: Run) => void {
  return (r) => {
    if (r.revision !== expect.revision) throw new StaleAction(`run ${r.id} changed since it was read (revision ${expect.revision} → ${r.revision}): ${req.action} refused`);
    const checked = checkRequest(r, req);
    if (!checked.ok) throw new StaleAction(checked.error);
    const s = checked.step;
    const prev = s.data?.recovery as RecoveryState | undefined;
    r.state = 'running';
    delete r.outcome;
    switch (req.action) {
      case 'retry': {
        s.state = 'pending';
        const { recovery: _dropped, ...rest } = s.data ?? {};
        s.data = { ...rest, lastError: s.error };
        delete s.error;
        for (const again of preparationToRecheck(r, s)) again.state = 'pending';
        break;
      }
      case 'skip-host':
        for (const x of r.steps) if (x.host === s.host && x.state !== 'done') x.state = 'skipped';
        break;
      case 'skip-update': {
        const failed = s.data?.failed as { uuid: string } | undefined;
        const skipped = (s.data?.skipped as string[] | undefined) ?? [];
        s.state = 'pending';
        s.data = { ...(s.data ?? {}), lastError: s.error, skipped: [...skipped, failed!.uuid], failed: null };
        delete s.error;
        break;
      }
      case 'forget-rejoin':
        // always verify first: a corrected address (even after the old record was forgotten) starts over at the new host
        underRecovery(s, {
          action: 'forget-rejoin',
          phase: 'verify',
          by,
          address: req.address,
          ...(req.fingerprint256 ? { fingerprint256: req.fingerprint256 } : {}),
          ...(oldRecordForgotten(prev) ? { forgotten: true } : {}),
        });
        break;
      case 'rollback-master':
        underRecovery(s, { action: 'rollback-master', phase: prev?.phase ?? 'await-original', by, guided: prev?.guided });
        break;
      case 'abort':
        throw new StaleAction('abort goes through core.abort');
    }
  };
}

const PREPARATION = new Set(['disable', 'evacuate', 'stop-vms']);

/**
 * R4.3 Retry reconciles with the live pool first: the host's preparation steps already done (disable, evacuate,
 * stop-vms) run again before the failed step. A host that was powered off and on since is enabled again (xapi
 * enables a host when it boots) and VMs may have started on it; each of these steps re-reads the pool and does only
 * what is missing (disabled again, VMs that appeared re-placed and migrated, planned stops re-checked), so a host
 * still as it was costs a few reads. Not once the host's shutdown was issued: then it is down on purpose and the
 * upgrade/wait steps reconcile themselves. Their data is kept (restore-vms needs what stop-vms recorded).
 */
export function preparationToRecheck(run: Run, failed: StepRecord): StepRecord[] {
  if (!failed.host || !['evacuate', 'stop-vms', 'approval', 'upgrade'].includes(failed.kind)) return [];
  if (failed.kind === 'upgrade' && failed.data?.shutdownIssued) return [];
  const at = run.steps.indexOf(failed);
  return run.steps.filter((x, i) => i < at && x.host === failed.host && x.state === 'done' && PREPARATION.has(x.kind));
}

export class StaleAction extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleAction';
  }
}

// ---------------------------------------------------------------------------------------------
// Multi-phase procedures, driven by the engine while the failed step is 'running' with data.recovery.
// ---------------------------------------------------------------------------------------------

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
      const wait = { deadlineMs: env.clock.now() + slowCallMs(rt.deps), beforeDestroy: () => ctx.assertLive() };
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
