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
 * A roll-back that failed before it changed anything (still waiting for the master on its old version, or refused
 * there because a member already runs the target) offers Retry too.
 * This module holds the rules and the checks made when an action is chosen; the procedures are in recovery-procedures.ts.
 */
import type { NewHostProbe, RecoveryRequest } from '../domain/ports';
import { AFTER_UPGRADE_KINDS, type HostPlan, type RecoveryAction, type Ref, type Run, type StepRecord } from '../domain/types';
import { normalizeFingerprint } from '../xenapi/tls';
import { describeHost, readLivePool, type LiveHost, type LivePool } from './pool-state';
import { hostRemap } from './remap';
import { lookAtNewHost } from './new-host';
import type { PoolRuntime } from './runtime';
import { isOnTarget } from './steps/common';

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
  if (rec?.action === 'rollback-master') {
    // until the master is back on its old version and the members are checked (await-original), the roll-back has
    // sent nothing to the pool: Retry (the master's upgrade fixed) is still a way out, and the roll-back, chosen
    // again, resumes where it was. Once the master is re-enabled on its old version, only finishing it or Abort remain
    return rec.phase === 'await-original' ? ['retry', 'rollback-master', 'abort'] : ['rollback-master', 'abort'];
  }
  const actions: RecoveryAction[] = ['retry'];
  // R3.10: an update's precheck failed on this host: continue without that update (recorded, shown in the end audit)
  if (step.kind === 'apply-updates' && (step.data?.failed as { uuid?: string } | null | undefined)?.uuid) actions.push('skip-update');
  const hp = hostPlanOf(run, step);
  if (hp?.isMaster) {
    if ((HOST_DOWN_KINDS.has(step.kind) || step.kind === 'enable') && upgradedNonMasters(run).length === 0) actions.push('rollback-master');
    // the master is upgraded and enabled: a VM that cannot come back on it (CPU features, a VM deleted meanwhile)
    // must not hold the other hosts, which Retry cannot change and Abort would leave in mixed mode (R3.5)
    if (AFTER_UPGRADE_KINDS.has(step.kind)) actions.push('skip-host');
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
  if (req.attempt !== undefined && req.attempt !== step.attempts) {
    return {
      ok: false,
      code: 'conflict',
      error: `this alert is about attempt ${req.attempt} of ${step.id}, which has run again and failed since (attempt ${step.attempts}): ${req.action} refused; choose in the newer alert`,
    };
  }
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
export function otherMemberAt(run: Run, pool: LivePool, address: string, ownRef: Ref | undefined): LiveHost | undefined {
  const remap = hostRemap(run);
  const planned = new Set(run.plan.hosts.filter((hp) => hp.host !== ownRef).map((hp) => remap.get(hp.host) ?? hp.host));
  return pool.hosts.find((h) => h.address === address && planned.has(h.ref));
}

export function addressTakenBy(address: string, host: LiveHost): string {
  return `address ${address} belongs to ${host.name}, already a member of the pool: give the reinstalled host's management address (R4.2)`;
}

/** Members (not the master) the live pool shows on the target although they were not on it before the run. */
export function membersAhead(run: Run, pool: LivePool): string[] {
  return run.plan.hosts
    .filter((hp) => {
      if (hp.isMaster || isOnTarget({ product: hp.from.product, build: hp.from.build }, hp.to)) return false;
      const h = pool.hosts.find((x) => x.ref === hp.host);
      return !!h && isOnTarget(h, hp.to);
    })
    .map((hp) => hp.name);
}

/**
 * R4.1: why a master is not rolled back below members that already run the target, and the ways out among `offered`
 * (the actions of the alert the operator decides in): the message names each of them and no other.
 */
export function aheadRefusal(run: Run, ahead: string[], offered: RecoveryAction[]): string {
  const ways: Partial<Record<RecoveryAction, string>> = {
    retry: "fix the master's upgrade and retry",
    'rollback-master': `reinstall ${ahead.join(', ')} on the old version, then roll back the master again`,
    abort: 'abort the run',
  };
  const named = offered.flatMap((a) => (ways[a] ? [ways[a]] : []));
  return `rollback refused: ${ahead.join(', ')} already run ${run.plan.target.label}; a master rolled back below its members breaks the pool (R4.1). Decide: ${named.join(', or ')}`;
}

/** Checks against the live pool, before anything is written (R4.1 refusal, R4.2 "confirmed not live"). */
export async function checkAgainstPool(rt: PoolRuntime, run: Run, step: StepRecord, req: RecoveryRequest): Promise<{ ok: true } | Refusal> {
  if (req.action !== 'rollback-master' && req.action !== 'forget-rejoin') return { ok: true };
  let pool: LivePool;
  try {
    pool = await readLivePool(rt.deps.client);
  } catch (err) {
    // R4.1 is for a master that does not come back: its pool cannot be read then. The run's records already say no
    // member was upgraded (validActions); the procedure checks the live pool again once it answers, before it
    // changes anything, so the click is taken and its guidance shown now
    if (req.action === 'rollback-master') return { ok: true };
    return { ok: false, code: 'conflict', error: `cannot read pool ${run.pool} to check ${req.action}: ${(err as Error).message}` };
  }
  if (req.action === 'rollback-master') {
    const ahead = membersAhead(run, pool);
    if (ahead.length > 0) return { ok: false, code: 'conflict', error: aheadRefusal(run, ahead, validActions(run, step)) };
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
  // a new attempt of the step, as a Retry makes one: if the procedure fails, its alert is told from the one before
  s.attempts += 1;
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
        // a wait for a host gets a fresh timeout: the operator's Retry is their decision to wait again (a restart
        // keeps `since`: the deadline of a wait survives a crash)
        if (s.kind === 'wait-host') delete rest.since;
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
