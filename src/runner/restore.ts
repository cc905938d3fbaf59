/**
 * Restore after an abort (issue 10.7): put back what the run changed on the host it was working on — re-enable the
 * host if the run disabled it, start or resume the VMs the run stopped for it as they were before the run (Running,
 * or Paused through start_paused, never VM.unpause; one found up in the other state is left as it is and said, as
 * restore-vms does), re-enable HA if the run disabled it (R2.4; xapi refuses HA while the pool is mixed, which is
 * then said). Live migrations are not undone.
 *
 * restoreOffer() is pure (what the run's records say could be put back); executeRestore() re-reads the live pool and
 * does only what is still needed, each side effect audited before it is sent, so a second Restore after a crash or
 * a double click repeats nothing that is already back. Its audits and progress writes are fenced by the pool's lease:
 * once another replica holds it, Restore stops at its next write and sends nothing more; a lease renewal refused stops
 * it at once, even while it follows a task (deps.signal). A start or resume of a VM already in progress (the aborted
 * run's restore-vms, its answer lost, or an operator's) is followed to its end, never sent a second time.
 */
import type { Clock } from '../clock';
import type { Ref, RestoreRecord, Run } from '../domain/types';
import { XenApiTaskLostError, XenApiTimeoutError } from '../xenapi';
import type { AuditKind } from './audit';
import { isConnectionError, toStepError } from './errors';
import { isFenced } from './fencing';
import { describeCandidate, isRunning as isTaskRunning, taskCandidates, type TaskCandidate } from './long-call';
import { describeHost, operationInProgress, readLivePool, readVmNow, VM_START_OPERATIONS, VM_STOP_OPERATIONS, type LivePool, type LiveVm } from './pool-state';
import type { PoolClient } from './ports';
import { hostRemap } from './remap';
import type { HaSaved } from './steps/pool-prep';
import { bringBackCall, isUp, leftAsFound, wantedState } from './steps/restore-vms';
import { mayHaveStopped, type StoppedVm } from './steps/stop-vms';

export interface RestoreOffer {
  /** the host the run was working on when it stopped */
  host?: { ref: Ref; name: string };
  /** the run disabled it (its disable step found it enabled) */
  enableHost: boolean;
  /** VMs the run suspended or shut down for that host */
  vms: Array<{ ref: Ref } & StoppedVm>;
  /** the run disabled HA */
  ha?: HaSaved;
}

/** The host of the last host step the run started (the one it was working on when it stopped). */
function currentHost(run: Run): { ref: Ref; name: string } | undefined {
  const started = run.steps.filter((s) => s.host && s.state !== 'pending' && s.state !== 'skipped');
  const last = started[started.length - 1];
  return last?.host ? { ref: hostRemap(run).get(last.host) ?? last.host, name: last.hostName ?? last.host } : undefined;
}

export function restoreOffer(run: Run): RestoreOffer | undefined {
  if (run.state !== 'aborted') return undefined;
  const host = currentHost(run);
  const stepOf = (kind: string) => (host ? run.steps.find((s) => s.kind === kind && s.hostName === host.name) : undefined);
  const disable = stepOf('disable');
  const enableHost = !!disable && disable.data?.wasEnabled === true && stepOf('enable')?.state !== 'done';
  const stopped = (stepOf('stop-vms')?.data?.stopped ?? {}) as Record<string, StoppedVm>;
  const vms = stepOf('restore-vms')?.state === 'done' ? [] : Object.entries(stopped).filter(([, v]) => mayHaveStopped(v)).map(([ref, v]) => ({ ref, ...v }));
  const ha = run.steps.find((s) => s.kind === 'pool-prep')?.data?.ha as HaSaved | undefined;
  const offer: RestoreOffer = { host, enableHost, vms, ...(ha?.wasEnabled ? { ha } : {}) };
  return offer.enableHost || offer.vms.length || offer.ha ? offer : undefined;
}

export interface RestoreDeps {
  client: PoolClient;
  /**
   * The audit written before each side effect. Fenced by the pool's lease (core/restore.ts): once another replica
   * holds the lease it throws FencedError, and nothing more is sent.
   */
  audit: (runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>) => Promise<void>;
  /**
   * Persist progress after each side effect (the record says what Restore has done so far). Fenced like `audit`: a
   * FencedError stops Restore, so a replica that lost the lease neither overwrites the holder's record nor sends more.
   */
  save: (record: RestoreRecord) => Promise<void>;
  /** who holds the pool's lease now, in words, once Restore lost it ("the pool's lease passed to …") */
  leaseLost?: () => Promise<string>;
  /** the client's clock: each task is followed until RESTORE_TASK_WAIT_MS after its call */
  clock: Clock;
  /**
   * Aborted once the pool's lease is lost (a renewal refused: core/restore.ts keepLease). Restore stops at once, even
   * while following a task: that task is left running (and not destroyed) for whoever drives the pool now.
   */
  signal?: AbortSignal;
}

/** How long Restore follows one call's task before it says the call is still running (enable_ha: minutes). */
export const RESTORE_TASK_WAIT_MS = 30 * 60_000;

/** Restore may not go on: its lease was taken over, or its own store could not be written (the message says which, and where). */
class RestoreStopped extends Error {}

/**
 * Do what is still needed of the offer on the live pool; returns what was done and what could not be. It does not
 * throw: a pool that cannot be read, or a lease lost on the way, ends it with what was done so far and why it stopped.
 */
export async function executeRestore(deps: RestoreDeps, run: Run, offer: RestoreOffer, record: RestoreRecord): Promise<RestoreRecord> {
  const rec: RestoreRecord = { ...record, did: [...record.did], left: [] };
  try {
    await putBack(deps, run, offer, rec);
  } catch (err) {
    rec.left.push(err instanceof RestoreStopped ? err.message : `the pool could not be read or acted on: ${(err as Error).message}`);
  }
  rec.state = rec.left.length ? 'partial' : 'done';
  return rec;
}

async function putBack(deps: RestoreDeps, run: Run, offer: RestoreOffer, rec: RestoreRecord): Promise<void> {
  const { client } = deps;
  const failed = (what: string, err: unknown) => {
    const e = toStepError(err);
    rec.left.push(`${what}: the pool answered ${e.code ?? 'an error'}${e.message && e.message !== e.code ? ` (${e.message})` : ''}`);
  };
  /** The pool's lease is no longer Restore's: it stops, nothing more is sent or written. */
  const leaseGone = async (where: string): Promise<never> => {
    const holder = (await deps.leaseLost?.().catch(() => undefined)) ?? "the pool's lease was taken over";
    throw new RestoreStopped(`${holder}: Restore stopped ${where}; nothing more was sent`);
  };
  /**
   * A write to the bot's own store (an audit, the progress record) failed: Restore stops there, nothing more is sent.
   * Refused because the pool's lease changed hands (fenced), or the store unreachable: then the pool is not at fault,
   * and a second Restore re-reads the pool and does only what is still needed.
   */
  const stopOnStoreError = async (err: unknown, where: string): Promise<never> => {
    if (isFenced(err)) return leaseGone(where);
    throw new RestoreStopped(
      `the bot's own store could not be written ${where}: ${(err as Error).message}. Restore stopped there and sent nothing more to the pool; ` +
        `what it lists as done is done on the pool. Click Restore again: it re-reads the pool and does only what is still needed`,
    );
  };
  /**
   * A wait on the pool (a task followed), ended at once when the lease is lost (deps.signal): Restore stops. The
   * client's wait is given the same signal (TaskWaitOptions.signal): it stops following too, without cancelling or
   * destroying the task (nor does `keepTaskIfLeaseLost` let it destroy one). Whichever of the two ends first, a lost
   * lease is said as such.
   */
  const whileLeaseHeld = async <T>(waiting: Promise<T>, where: string): Promise<T> => {
    const signal = deps.signal;
    if (!signal) return waiting;
    let onAbort = (): void => undefined;
    const lost = new Promise<'lost'>((resolve) => {
      onAbort = () => resolve('lost');
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      let first: { value: T } | 'lost';
      try {
        first = await Promise.race([waiting.then((value) => ({ value })), lost]);
      } catch (err) {
        if (signal.aborted) return await leaseGone(where); // the wait rejected with the signal's reason first
        throw err;
      }
      if (first !== 'lost') return first.value;
      return await leaseGone(where);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
  /** a task whose wait was left behind once the lease was lost is not destroyed by it: it is the lease holder's to see */
  const keepTaskIfLeaseLost = async (): Promise<void> => {
    if (deps.signal?.aborted) throw new Error("the pool's lease was lost: the task is left to whoever drives the pool now");
  };
  /**
   * The tasks of `Async.<method>` running on the pool that a Restore of this run may have sent: created since the
   * run was aborted (no Restore sent one before). pool.enable_ha only (`ownsTasksOfMethod`).
   */
  const runningTasksOf = async (method: string): Promise<TaskCandidate[]> =>
    (await taskCandidates(client, method, run.endedAt ?? Number.NEGATIVE_INFINITY)).filter((t) => isTaskRunning(t));
  const listed = (tasks: TaskCandidate[]) => tasks.map(describeCandidate).join('; ');
  /**
   * One side effect, audited before it is sent, through `Async.` and its task followed: re-enabling HA and a VM's
   * start or resume take minutes on a real pool, past a synchronous call's 60 s timeout (reference top 1). A call
   * whose answer never came may have been carried out: its task is looked for and followed, else the pool is read
   * again, and what it shows is what is said (never re-sent blindly, never called a refusal). `isDone` tells from the
   * live pool whether the effect is there.
   */
  const send = async (step: {
    method: string;
    params: unknown[];
    target: string;
    what: string;
    did: string;
    isDone: (pool: LivePool) => boolean;
    /**
     * one such call per pool (pool.enable_ha): the only task of it on the pool that a Restore may have sent is this
     * call's, and is followed; of several, none is (which one is this call's cannot be told)
     */
    ownsTasksOfMethod?: boolean;
  }): Promise<void> => {
    // a Restore clicked again while the previous one's call still runs: its task is followed, not a second call sent.
    // Several running: which one a Restore sent cannot be told (another client's has the same name_label); none is
    // followed at a guess, and none is sent on top of them (as longCall: exactly one candidate, or none adopted)
    const pending = step.ownsTasksOfMethod && client.waitForTask ? await runningTasksOf(step.method) : [];
    if (pending.length > 1) {
      return void rec.left.push(
        `${step.what}: ${pending.length} tasks of Async.${step.method} are running on the pool (${listed(pending)}); which one is Restore's cannot be told, ` +
          `so none is followed and ${step.method} is not sent again; check the pool before clicking Restore again`,
      );
    }
    const running = pending[0]?.ref;
    if (deps.signal?.aborted) await leaseGone(`before ${step.method} ${step.target}`);
    try {
      const message = running ? `following ${running}, the ${step.method} ${step.target} sent before (Restore after abort)` : `${step.method} ${step.target} (Restore after abort)`;
      await deps.audit(run.id, 'xenapi', rec.by, message, { method: step.method, target: step.target, ...(running ? { task: running } : {}) });
    } catch (err) {
      await stopOnStoreError(err, `before ${step.method} ${step.target}`);
    }
    const issuedAt = deps.clock.now();
    const deadlineMs = issuedAt + RESTORE_TASK_WAIT_MS;
    const stillRunning = (err: XenApiTimeoutError) =>
      rec.left.push(`${step.what}: ${step.method} still running on the pool after ${RESTORE_TASK_WAIT_MS / 60_000} min (${err.what}); check the pool before clicking Restore again`);
    const following = `while following ${step.method} ${step.target}`;
    const follow = async (task: string, how: string): Promise<boolean> => {
      try {
        await whileLeaseHeld(client.waitForTask!(task, { deadlineMs, beforeDestroy: keepTaskIfLeaseLost, signal: deps.signal }), `${following} (task ${task})`);
        rec.did.push(`${step.did} (its task ${task} followed: ${how})`);
      } catch (err) {
        if (err instanceof RestoreStopped) throw err;
        if (err instanceof XenApiTimeoutError) stillRunning(err);
        else if (!isConnectionError(err) && !(err instanceof XenApiTaskLostError)) failed(step.what, err);
        else return false;
      }
      return true;
    };
    let lost: unknown;
    /** tasks that could each be the call whose answer was lost: none is followed */
    let ambiguous: TaskCandidate[] = [];
    if (running) {
      if (await follow(running, 'sent before, still running when Restore was clicked again')) return;
      lost = new Error(`its task ${running} could not be followed`);
    } else {
      try {
        // the signal ends the following of its task only: the call itself, once sent, is never abandoned mid-answer
        await whileLeaseHeld(client.callAsync(step.method, step.params, { deadlineMs, beforeDestroy: keepTaskIfLeaseLost, signal: deps.signal }), following);
        return void rec.did.push(step.did);
      } catch (err) {
        if (err instanceof RestoreStopped) throw err;
        if (err instanceof XenApiTimeoutError) return void stillRunning(err);
        if (!isConnectionError(err) && !(err instanceof XenApiTaskLostError)) {
          // refused; the effect may be there all the same (a second enable_ha after a first one's lost answer: HA_IS_ENABLED)
          const now = await readLivePool(client).catch(() => undefined);
          if (now && step.isDone(now)) return void rec.did.push(`${step.did} (seen on the pool; ${step.method} answered ${toStepError(err).code ?? 'an error'})`);
          return failed(step.what, err);
        }
        lost = err;
      }
      // the answer was lost: xapi's task for the call, if it made one and it can be told apart (the only task of the
      // method created since the call was issued), says how it ended
      const candidates = step.ownsTasksOfMethod && client.waitForTask ? await taskCandidates(client, step.method, issuedAt).catch(() => []) : [];
      if (candidates.length === 1 && (await follow(candidates[0]!.ref, `the answer to Async.${step.method} was lost`))) return;
      if (candidates.length > 1) ambiguous = candidates;
    }
    const now = await readLivePool(client).catch(() => undefined);
    if (now && step.isDone(now)) rec.did.push(`${step.did} (seen on the pool: the answer to Async.${step.method} was lost)`);
    else
      rec.left.push(
        `${step.what}: no answer to Async.${step.method} (${toStepError(lost).message}), ` +
          (ambiguous.length ? `${ambiguous.length} tasks of Async.${step.method} on the pool could each be it (${listed(ambiguous)}) and none was followed, ` : '') +
          `and ${now ? 'the pool does not show it done' : 'the pool could not be read again'}: xapi may still be doing it; check the pool before clicking Restore again`,
      );
  };
  /** Restore's progress record (fenced: a lease lost, or a store that cannot be written, stops Restore here). */
  const saveProgress = (after: string): Promise<void> => deps.save(rec).catch((err: unknown) => stopOnStoreError(err, `after ${after} (its progress not written)`));
  /** The side effect, then Restore's progress record. */
  const act = async (step: Parameters<typeof send>[0]): Promise<void> => {
    await send(step);
    await saveProgress(`${step.method} ${step.target}`);
  };
  let pool = await readLivePool(client);
  const host = offer.host ? pool.hosts.find((h) => h.ref === offer.host!.ref) : undefined;

  if (offer.enableHost && offer.host) {
    if (!host) rec.left.push(`${offer.host.name} is no longer a member of the pool: nothing to enable`);
    else if (!host.live) rec.left.push(`${host.name} is not live, so it cannot be enabled now (${describeHost(host)}); enable it once it is back (xe host-enable)`);
    else if (!host.enabled) {
      const isEnabled = (p: LivePool) => p.hosts.some((h) => h.ref === host.ref && h.enabled);
      await act({ method: 'host.enable', params: [host.ref], target: host.name, what: `enabling ${host.name}`, did: `${host.name} enabled`, isDone: isEnabled });
    }
  }

  /**
   * The VM as the pool shows it once no stop, start or resume of it is in progress (R6.2: the VMs the run stopped are
   * put back). The aborted run's stop may still be running on xapi (a suspend of a large VM takes minutes, and the
   * replica that sent it may be gone): the VM still shows Running, and would end down after Restore called itself
   * done. A start or resume may be in progress too (the aborted run's restore-vms, its answer lost, or an operator's):
   * xapi would refuse a second one (OTHER_OPERATION_IN_PROGRESS), so it is followed, not sent again, as restore-vms
   * does. Each is followed to its end (its task kept, not destroyed: it may be another client's), then the VM is read
   * again. `vm` undefined: it no longer exists; `started`: the start or resume followed; undefined: still being
   * stopped or started, said in `left`.
   */
  const withNothingInProgress = async (vm: { ref: Ref; name: string }): Promise<{ vm: LiveVm | undefined; started?: { task: Ref; op: string } } | undefined> => {
    const followed = new Set<string>();
    let started: { task: Ref; op: string } | undefined;
    for (;;) {
      const now = await readVmNow(client, vm.ref, vm.name);
      const stop = operationInProgress(now, VM_STOP_OPERATIONS);
      // as restore-vms' settle: a VM already Running is not waited for (an unpause of it is not Restore's concern)
      const start = stop || now?.powerState === 'Running' ? undefined : operationInProgress(now, VM_START_OPERATIONS);
      const { task, op } = stop ?? start ?? {};
      if (!now || !task) return { vm: now, ...(started ? { started } : {}) };
      const still = `${vm.name} (${now.powerState}) is still being ${stop ? 'stopped' : 'started'}: ${op} in progress (task ${task})`;
      if (followed.has(task) || !client.waitForTask) {
        rec.left.push(`${still}; it was not put back: click Restore again once it has ended`);
        return undefined;
      }
      followed.add(task);
      if (start) {
        started = { task, op: op! };
        await deps
          .audit(run.id, 'xenapi', rec.by, `${vm.name}: following its ${op} in progress (task ${task}), not sent again (Restore after abort)`, { vm: vm.ref, task })
          .catch((err: unknown) => stopOnStoreError(err, `before following ${op} of ${vm.name}`));
      }
      try {
        const waiting = client.waitForTask(task, { keep: true, deadlineMs: deps.clock.now() + RESTORE_TASK_WAIT_MS, signal: deps.signal });
        await whileLeaseHeld(waiting, `while following ${op} of ${vm.name} (task ${task})`);
      } catch (err) {
        if (err instanceof RestoreStopped) throw err;
        if (err instanceof XenApiTimeoutError) {
          rec.left.push(`${still} after ${RESTORE_TASK_WAIT_MS / 60_000} min; it was not put back: check the pool before clicking Restore again`);
          return undefined;
        }
        // the stop or start refused (the VM stays as it was) or its task lost: the VM read again says where it is
      }
    }
  };

  pool = await readLivePool(client);
  for (const vm of offer.vms) {
    const settled = await withNothingInProgress(vm);
    if (!settled) continue;
    const live = settled.vm;
    if (!live) {
      rec.left.push(`${vm.name} no longer exists in the pool`);
      continue;
    }
    // back as it was before the run, by restore-vms' rule (R3.7/R6.2): Running, or Paused (start_paused), never unpaused
    const want = wantedState(vm);
    if (live.powerState === want) {
      // a start or resume followed brought it back: nothing sent (it may be another client's, so not called Restore's)
      if (settled.started) {
        const { op, task } = settled.started;
        rec.did.push(`${vm.name} is ${want} as before the run: the ${op} in progress on it (task ${task}) was followed to its end, not sent again`);
        await saveProgress(`following ${op} of ${vm.name}`);
      }
      continue;
    }
    if (isUp(live.powerState)) {
      // up in the other state: someone paused or unpaused it since the run stopped it; not Restore's to undo
      rec.left.push(leftAsFound(vm, live.powerState).said);
      continue;
    }
    const on = pool.hosts.find((h) => h.ref === (hostRemap(run).get(vm.host) ?? vm.host));
    if (!on || !on.live) {
      rec.left.push(`${vm.name} (${live.powerState}): its host ${on?.name ?? offer.host?.name ?? '?'} is not live; start or resume it once the host is back`);
      continue;
    }
    const paused = want === 'Paused' ? ' (paused, as before the run)' : '';
    const call = { ...bringBackCall(live.powerState, vm.ref, on.ref, want), target: `${vm.name} on ${on.name}${paused}` };
    const isBack = (p: LivePool) => p.vms.some((v) => v.ref === vm.ref && v.powerState === want);
    await act({ ...call, what: `${vm.name} (${live.powerState})`, did: `${vm.name} ${call.method === 'VM.resume_on' ? 'resumed' : 'started'} on ${on.name}${paused}`, isDone: isBack });
  }

  if (offer.ha) {
    pool = await readLivePool(client);
    if (!pool.haEnabled) {
      const versions = new Set(pool.hosts.map((h) => `${h.product}/${h.build}`));
      if (versions.size > 1) {
        rec.left.push('HA stays off: the pool is in mixed mode and xapi refuses HA until every host runs the same version (R2.4, R3.5)');
      } else {
        const params = [offer.ha.heartbeatSrs, offer.ha.configuration];
        await act({ method: 'pool.enable_ha', params, target: `pool ${run.pool}`, what: 're-enabling HA', did: 'HA re-enabled', isDone: (p) => p.haEnabled, ownsTasksOfMethod: true });
      }
    }
  }
}
