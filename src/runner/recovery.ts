/**
 * Recovery actions after a failed step (R4). Which actions are valid depends on the failure; each is validated
 * again when invoked, against the run's revision and the step's state, so a stale or duplicate action is refused
 * and never applied twice.
 *
 * - retry (R4.3): the step runs again; it reconciles with the pool first.
 * - forget-rejoin (R4.2, non-master): host.destroy once the host is confirmed not live; the operator reinstalls it
 *   and gives its address; pool.join is called ON the fresh host with the pool's credentials; once it is a live
 *   member on the target, the rest of the run targets its new record (placement re-planned) and continues.
 * - rollback-master (R4.1, master): never continue; refused when another host already runs the target. The operator
 *   restores the master's previous version; the runner waits for it live on its original version, re-enables it,
 *   restarts/resumes what was stopped for it, moves its VMs back per policy, re-enables HA, closes as rolled-back.
 * - skip-host (non-master): the host's remaining steps are skipped; it stays disabled, and the run says so.
 * - abort: stop, with a report of every host and VM (core).
 *
 * A multi-phase recovery is durable: its phase is in the failed step's data (`recovery`), so a restart continues it.
 */
import type { Clock } from '../clock';
import type { Notifier, RecoveryRequest } from '../domain/ports';
import type { HostPlan, RecoveryAction, Ref, Run, StepRecord } from '../domain/types';
import type { AuditKind } from './audit';
import { StepFailure, xenErrorCode } from './errors';
import { describeHost, readLivePool, type LiveHost, type LiveHosts, type LivePool } from './pool-state';
import type { RunStore } from './ports';
import type { StepContext } from './step';
import { isOnTarget, versionText } from './steps/common';
import type { HaSaved } from './steps/pool-prep';
import { waitForPool } from './wait';
import type { PoolRuntime } from './runtime';

export interface RecoveryState {
  action: 'forget-rejoin' | 'rollback-master';
  phase: 'forget' | 'await-address' | 'join' | 'wait-member' | 'await-original' | 'enable' | 'restore' | 'finish';
  by: string;
  address?: string;
  guided?: boolean;
}

/** forget-rejoin: old host ref → the rejoined host's new ref */
export interface Replacement {
  from: Ref;
  to: Ref;
}

export function hostPlanOf(run: Run, step: StepRecord): HostPlan | undefined {
  return step.host ? run.plan.hosts.find((h) => h.host === step.host) : undefined;
}

export function hostRemap(run: Run): Map<Ref, Ref> {
  const map = new Map<Ref, Ref>();
  for (const s of run.steps) {
    const r = s.data?.replaced as Replacement | undefined;
    if (r) map.set(r.from, r.to);
  }
  return map;
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
  if (rec?.action === 'forget-rejoin' && rec.phase !== 'forget') return ['forget-rejoin', 'abort'];
  if (rec?.action === 'rollback-master') return ['rollback-master', 'abort'];
  const actions: RecoveryAction[] = ['retry'];
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
  const rec = step.data?.recovery as RecoveryState | undefined;
  if (req.action === 'forget-rejoin' && rec?.phase === 'await-address' && !req.address) {
    return { ok: false, code: 'invalid', error: `${step.hostName} is forgotten: give the reinstalled host's management address` };
  }
  if (req.address !== undefined && !/^[A-Za-z0-9.:[\]-]{1,253}$/.test(req.address)) {
    return { ok: false, code: 'invalid', error: `address: expected a host name or IP address, got "${req.address}"` };
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
    const rec = step.data?.recovery as RecoveryState | undefined;
    const h = pool.hosts.find((x) => x.ref === step.host);
    if (!rec && h?.live) {
      return { ok: false, code: 'conflict', error: `${h.name} is live: only a host that is down can be forgotten (R4.2). ${describeHost(h)}` };
    }
    const other = req.address ? otherMemberAt(run, pool, req.address, step.host) : undefined;
    if (other) return { ok: false, code: 'invalid', error: addressTakenBy(req.address!, other) };
  }
  return { ok: true };
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
        break;
      }
      case 'skip-host':
        for (const x of r.steps) if (x.host === s.host && x.state !== 'done') x.state = 'skipped';
        break;
      case 'forget-rejoin':
        underRecovery(s, { action: 'forget-rejoin', phase: prev?.phase === 'await-address' ? 'join' : (prev?.phase ?? 'forget'), by, address: req.address ?? prev?.address });
        break;
      case 'rollback-master':
        underRecovery(s, { action: 'rollback-master', phase: prev?.phase ?? 'await-original', by, guided: prev?.guided });
        break;
      case 'abort':
        throw new StaleAction('abort goes through core.abort');
    }
  };
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

async function forgetRejoin(env: RecoveryEnv, run: Run, step: StepRecord): Promise<RecoveryResult> {
  const { rt } = env;
  const ctx = env.contextFor(run, step.id);
  const name = step.hostName ?? step.id;
  const oldRef = step.host!;
  let rec = step.data!.recovery as RecoveryState;
  const hp = hostPlanOf(run, step)!;

  if (rec.phase === 'forget') {
    const pool = await readLivePool(rt.deps.client);
    const h = pool.hosts.find((x) => x.ref === oldRef);
    if (h) {
      if (h.live) throw new StepFailure(`${name} is live again: it cannot be forgotten (R4.2)`, { observed: [describeHost(h)] });
      try {
        await ctx.act('host.destroy', [oldRef], `${name} (host-forget, R4.2)`);
      } catch (err) {
        if (xenErrorCode(err) !== 'HANDLE_INVALID') throw err;
      }
    }
    // The operator usually reinstalled the host first and gave its address with the request (slack-ux §4): join at once.
    const next = rec.address ? 'join' : 'await-address';
    run = await setPhase(env, run, step.id, { phase: next });
    rec = { ...rec, phase: next };
    if (next === 'await-address')
      ctx.say(`${name} is forgotten (host.destroy, R4.2). Reinstall ${run.plan.target.label} on it, then choose forget-rejoin again with its management address.`).catch(() => undefined);
  }
  if (rec.phase === 'await-address' || (rec.phase === 'join' && !rec.address)) {
    throw new StepFailure(`${name} was forgotten; waiting for its reinstalled address (forget-rejoin with the address)`, { code: 'AWAITING_ADDRESS' });
  }
  if (rec.phase === 'join') {
    const pool = await readLivePool(rt.deps.client);
    // the address must be the reinstalled machine's: another planned member there would take the failed host's place
    const other = otherMemberAt(run, pool, rec.address!, oldRef);
    if (other) throw new StepFailure(addressTakenBy(rec.address!, other), { code: 'ADDRESS_IN_USE', observed: [describeHost(other)] });
    const already = pool.hosts.find((h) => h.address === rec.address);
    if (!already) {
      if (!rt.freshHostClient) throw new StepFailure('this runner cannot reach a stand-alone host (no fresh host client)');
      const master = pool.hosts.find((h) => h.isMaster);
      if (!master) throw new StepFailure('the pool has no master to join');
      const fresh = rt.freshHostClient(rec.address!);
      const creds = rt.deps.config.poolCredentials;
      await fresh.login();
      try {
        // audited without its arguments: they hold the pool's password
        await env.audit(run.id, 'xenapi', 'runner', `pool.join on ${rec.address} → master ${master.address} (R4.2)`, { step: step.id, method: 'pool.join', target: rec.address });
        await fresh.call('pool.join', [master.address, creds.username, creds.password]);
      } finally {
        await fresh.logout().catch(() => undefined);
      }
    }
    run = await setPhase(env, run, step.id, { phase: 'wait-member' });
    rec = { ...rec, phase: 'wait-member' };
  }
  // wait-member
  const newHost = await waitForLiveMember(env, ctx, (h) => h.address === rec.address && isOnTarget(h, hp.to), (last) =>
    new StepFailure(`the host at ${rec.address} did not become a live member on ${run.plan.target.label}`, {
      observed: last ? last.hosts.map(describeHost) : ['pool unreachable'],
    }),
  );
  const replaced: Replacement = { from: oldRef, to: newHost.ref };
  const done = await env.store.updateRun(run.id, (r) => {
    const s = r.steps.find((x) => x.id === step.id)!;
    s.state = 'done';
    s.endedAt = env.clock.now();
    s.data = { ...(s.data ?? {}), replaced, recovery: { ...(s.data?.recovery as RecoveryState), phase: 'finish' }, note: `${name} reinstalled and rejoined` };
  });
  await env.audit(run.id, 'recovery', rec.by, `${name} rejoined the pool as ${newHost.ref} on ${versionText(newHost)}; the rest of the run targets it`, { step: step.id, ...replaced });
  env.notify(done, 'runEvent', (n) =>
    n.runEvent(done, `${name} is back in the pool on ${versionText(newHost)} (forget + rejoin, R4.2). VMs planned for it now target its new record; the run continues.`),
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
  const backup = run.steps.find((s) => s.kind === 'backup')?.data?.path as string | undefined;

  if (rec.phase === 'await-original') {
    if (!rec.guided) {
      run = await setPhase(env, run, step.id, { guided: true });
      ctx.say(
        `Rolling back the master ${name} (R4.1): the upgrade will not continue. Restart ${name} and restore ${versionText(original)} ` +
          `(boot the previous version kept by the installer, or reinstall it and restore the pool database${backup ? ` from ${backup}` : ''} with xe pool-restore-database). ` +
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
    if (ha?.wasEnabled && !pool.haEnabled) await ctx.act('pool.enable_ha', [ha.heartbeatSrs, ha.configuration], `pool ${run.pool}`);
  }
  const closed = await env.store.updateRun(run.id, (r) => {
    const s = r.steps.find((x) => x.id === step.id)!;
    s.state = 'failed';
    s.data = { ...(s.data ?? {}), recovery: { ...(s.data?.recovery as RecoveryState), phase: 'finish' } };
    for (const x of r.steps) if (x.state === 'pending' || x.state === 'awaiting-approval') x.state = 'skipped';
    r.state = 'rolled-back';
    r.endedAt = env.clock.now();
    r.outcome = `rolled back: ${name} is live on ${versionText(original)} again (R4.1); no other host was upgraded; VMs stopped for it restarted`;
  });
  await env.audit(run.id, 'recovery', rec.by, closed.outcome!, { step: step.id });
  return { status: 'closed', run: closed };
}
