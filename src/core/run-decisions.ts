/**
 * The decisions a human (or a window) takes on a run: approve or hold a gate, pause, resume, abort, and the recovery
 * actions of a failed step (retry, skip, forget & rejoin, roll back). Each is authorised (forRun), re-validated at
 * the moment it is taken (the store's compare-and-set: a stale click is refused with the reason, and audited), and
 * recorded with who took it in the same transaction (cas); the engine is then told to move on.
 */
import type { Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import type { Core, CoreErrorCode, CoreResult, RecoveryRequest } from '../domain/ports';
import { AFTER_UPGRADE_KINDS, TERMINAL_RUN_STATES, type Actor, type Run, type StepRecord } from '../domain/types';
import { mention } from '../domain/mention';
import type { AuditKind } from '../runner/audit';
import { abortedOutcome } from '../runner/end-audit';
import type { Engine, PoolRuntime } from '../runner/engine';
import { readLivePoolFor, vmByRef, type LivePool } from '../runner/pool-state';
import type { PoolClient } from '../runner/ports';
import { mayHaveStopped, type StoppedVm } from '../runner/steps/stop-vms';
import { checkAgainstPool, checkRequest, recoveryMutation, StaleAction } from '../runner/recovery';
import { skippedHostState } from '../runner/skip-host';
import { endAuditOf, runReport } from '../runner/report';
import type { Store } from '../store';
import type { XenApiClient } from '../xenapi';
import { describeActor, type Decision } from './authorize';
import { fail, ok } from './result';

/** What a decision writes to the audit log with the change it makes (in the same transaction). */
export interface Audited {
  kind: AuditKind;
  message: string;
  detail?: Record<string, unknown>;
}

export interface DecisionEnv {
  store: Store;
  clock: Clock;
  engine: Pick<Engine, 'notify' | 'drive' | 'interrupt' | 'whenIdle'>;
  /** the run and its pool, once `actor` is authorised for `decision` (refusals audited) */
  forRun(runId: string, actor: Actor, decision: Decision): Promise<CoreResult<{ run: Run; pool: PoolConfig }>>;
  /** the run changed by `mutate` and audited by `audited`, in one transaction; a StaleAction becomes a 'conflict' refusal */
  cas(run: Run, actor: Actor, mutate: (r: Run) => void, audited: (r: Run) => Audited): Promise<CoreResult<Run>>;
  refuse<T>(runId: string, actor: Actor, code: CoreErrorCode, error: string): Promise<CoreResult<T>>;
  audit(runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>): Promise<void>;
  runtime(pool: string): { runtime: PoolRuntime; client: XenApiClient } | undefined;
}

export type RunDecisions = Pick<Core, 'approve' | 'hold' | 'resume' | 'abort' | 'recover'>;

const listed = (names: string[]): string => names.join(', ');
const plural = (names: string[], one: string, many: string): string => (names.length === 1 ? one : many);

/**
 * Skip host at a failed restore-vms: what became of the VMs this run stopped for the host (its stop-vms records that
 * count as stopped by the run, mayHaveStopped, as the end audit reads them), from the pool read now. When the pool
 * cannot be read it says so, and which VMs stay stopped is given as the bot's inference only.
 */
export async function stoppedVmsNow(client: PoolClient, run: Run, hostName: string): Promise<string> {
  const records = (run.steps.find((s) => s.id === `${hostName}:stop-vms`)?.data?.stopped ?? {}) as Record<string, StoppedVm>;
  const byRun = Object.entries(records).filter(([, rec]) => mayHaveStopped(rec));
  if (byRun.length === 0) return 'The run stopped no VM for it.';
  let pool: LivePool;
  try {
    pool = await readLivePoolFor(client, { vms: byRun.map(([ref]) => ref) });
  } catch (err) {
    return (
      `The pool could not be read to see which of the VMs this run stopped for it (${listed(byRun.map(([, rec]) => rec.name))}) run again (${(err as Error).message}): ` +
      "the bot concludes that those restore-vms did not start stay stopped (start them yourself; the run's end lists the ones still down)."
    );
  }
  const down: string[] = [];
  const running: string[] = [];
  const gone: string[] = [];
  for (const [ref, rec] of byRun) {
    const vm = vmByRef(pool, ref);
    if (!vm) gone.push(rec.name);
    else if (vm.powerState === 'Running') running.push(rec.name);
    else down.push(`${rec.name} (${vm.powerState})`);
  }
  const parts = [
    ...(down.length ? [`${listed(down)} ${plural(down, 'stays', 'stay')} stopped (start ${plural(down, 'it', 'them')} yourself; the run's end lists ${plural(down, 'it', 'them')})`] : []),
    ...(running.length ? [`${listed(running)} ${plural(running, 'is', 'are')} running again`] : []),
    ...(gone.length ? [`${listed(gone)} no longer ${plural(gone, 'exists', 'exist')} in the pool`] : []),
  ];
  return `Of the VMs this run stopped for it, the pool shows: ${parts.join('; ')}.`;
}

export function runDecisions(env: DecisionEnv): RunDecisions {
  const { store, clock, engine, forRun, cas, refuse, audit } = env;
  /**
   * Abort, from the run's Abort button or command; with `failed`, from a failure alert's Abort, which is refused
   * once that failure was handled (the run is no longer failed at that step, or failed there again since), in the
   * same write as the abort.
   */
  async function abortRun(runId: string, actor: Actor, failed?: Pick<RecoveryRequest, 'stepId' | 'attempt'>): Promise<CoreResult<Run>> {
    const got = await forRun(runId, actor, 'abort');
    if (!got.ok) return got;
    const at = clock.now();
    const res = await cas(got.value.run, actor, (r) => {
      if (TERMINAL_RUN_STATES.includes(r.state)) throw new StaleAction(`run ${r.id} is already ${r.state}`);
      // the same check as the alert's other buttons (abort is valid for every failed step)
      const checked = failed === undefined ? undefined : checkRequest(r, { action: 'abort', ...failed });
      if (checked && !checked.ok) throw new StaleAction(checked.error);
      for (const s of r.steps) if (s.state === 'awaiting-approval') r.approvals.push({ stepId: s.id, decision: 'aborted', by: actor.userId, at });
      r.state = 'aborted';
      r.endedAt = at;
      r.outcome = `aborted by ${mention(actor.userId)}`;
    }, () => ({ kind: 'state', message: `run aborted by ${actor.userId}` }));
    if (!res.ok) return res;
    engine.interrupt(runId, `aborted by ${actor.userId}`);
    await engine.whenIdle(runId, { loopOnly: true });
    const stopped = (await store.getRun(runId))!;
    const client = env.runtime(got.value.run.pool)?.client;
    const report = await runReport(client, stopped);
    // what the abort leaves changed, from the live pool against the baseline (issue 11): said, never implied
    const endAudit = await endAuditOf({ client, clock, store }, stopped);
    const final = await store.updateRun(runId, (r) => {
      for (const s of r.steps) {
        if (s.state === 'running' || s.state === 'awaiting-approval') {
          s.state = 'failed';
          s.error = { message: `interrupted: run aborted by ${mention(actor.userId)}` };
        }
      }
      r.endAudit = endAudit;
      r.outcome = `${abortedOutcome(actor.userId, endAudit)}\n${report}`;
    });
    // the abort itself was audited with its decision (cas); this is what the pool was found in afterwards
    await audit(runId, 'state', actor.userId, `report of the abort by ${actor.userId}`, { report });
    // the gates the abort closed: their approval requests lose their buttons and say so
    for (const a of res.value.approvals.filter((x) => x.decision === 'aborted' && x.at === at && x.by === actor.userId)) {
      const gate = final.steps.find((s) => s.id === a.stepId);
      if (gate) engine.notify(final, 'approvalDecided', (n) => n.approvalDecided(final, gate, 'aborted', actor.userId));
    }
    engine.notify(final, 'runFinished', (n) => n.runFinished(final));
    return ok(final);
  }

  const decisions: RunDecisions = {
    async approve(runId, stepId, actor) {
      const got = await forRun(runId, actor, 'approve');
      if (!got.ok) return got;
      const { run } = got.value;
      const step = run.steps.find((s) => s.id === stepId);
      if (!step) return fail('not-found', `run ${runId} has no step ${stepId}`);
      if (step.kind !== 'approval') return refuse(runId, actor, 'invalid', `${stepId} is not an approval gate`);
      const at = clock.now();
      const res = await cas(run, actor, (r) => {
        const s = r.steps.find((x) => x.id === stepId)!;
        const prior = r.approvals.find((a) => a.stepId === stepId && a.decision === 'approved');
        if (prior) throw new StaleAction(`${stepId} was already approved by ${mention(prior.by)}`);
        if (s.state !== 'awaiting-approval' || (r.state !== 'awaiting-approval' && r.state !== 'paused')) {
          throw new StaleAction(`${stepId} is not waiting for approval (step ${s.state}, run ${r.state})`);
        }
        r.approvals.push({ stepId, decision: 'approved', by: actor.userId, at });
        s.state = 'done';
        s.endedAt = at;
        // a paused run stays paused: the approval is recorded, nothing moves until someone resumes (the Hold promise)
        const paused = r.state === 'paused';
        s.data = { ...(s.data ?? {}), note: `approved by ${mention(actor.userId)}`, ...(paused ? { approvedWhilePaused: true } : {}) };
        if (!paused) r.state = 'running';
      }, (r) => ({
        kind: 'approval',
        message: `${stepId} approved by ${describeActor(actor)}${r.state === 'paused' ? '; the run stays paused until someone resumes it' : ''}`,
        detail: { step: stepId },
      }));
      if (!res.ok) return res;
      const decided = res.value;
      const stillPaused = decided.state === 'paused';
      engine.notify(decided, 'approvalDecided', (n) => n.approvalDecided(decided, decided.steps.find((s) => s.id === stepId)!, 'approved', actor.userId));
      if (!stillPaused) engine.drive(runId, { waitForLease: true });
      return res;
    },

    async hold(runId, stepId, actor) {
      const got = await forRun(runId, actor, 'hold');
      if (!got.ok) return got;
      const at = clock.now();
      const res = await cas(got.value.run, actor, (r) => {
        if (stepId) {
          const s = r.steps.find((x) => x.id === stepId);
          if (!s || s.state !== 'awaiting-approval' || r.state !== 'awaiting-approval') throw new StaleAction(`${stepId} is not waiting for approval: hold refused`);
          r.approvals.push({ stepId, decision: 'held', by: actor.userId, at });
        } else if (r.state === 'paused' && r.pausedBy?.source === 'scheduler' && actor.source !== 'scheduler') {
          // a human pausing a run a window paused takes the pause over: the next window must not resume it
        } else if (r.state !== 'running' && r.state !== 'awaiting-approval') {
          throw new StaleAction(`run ${r.id} is ${r.state}: nothing to pause`);
        }
        r.state = 'paused';
        r.pausedBy = { userId: actor.userId, source: actor.source, at };
      }, () => ({
        kind: 'approval',
        message: stepId ? `${stepId} held by ${describeActor(actor)}` : `run paused by ${describeActor(actor)}: the host in progress finishes, no next host starts`,
        detail: { step: stepId, ...(actor.window ? { window: actor.window } : {}) },
      }));
      if (!res.ok) return res;
      const held = res.value;
      if (stepId) engine.notify(held, 'approvalDecided', (n) => n.approvalDecided(held, held.steps.find((s) => s.id === stepId)!, 'held', actor.userId));
      else engine.notify(held, 'runUpdated', (n) => n.runUpdated(held));
      return res;
    },

    async resume(runId, actor) {
      const got = await forRun(runId, actor, 'resume');
      if (!got.ok) return got;
      const { run } = got.value;
      if (run.state === 'running' || run.state === 'awaiting-approval') {
        // nothing to un-pause: make sure somebody drives it (e.g. `xsupgrade resume` after a crash)
        if (run.state === 'running') engine.drive(run.id, { waitForLease: true });
        else {
          const gate = run.steps.find((s) => s.state === 'awaiting-approval');
          if (gate) engine.notify(run, 'approvalNeeded', (n) => n.approvalNeeded(run, gate));
        }
        await audit(runId, 'resume', actor.userId, `resume requested by ${actor.userId}: run is ${run.state}`);
        return ok(run);
      }
      const res = await cas(run, actor, (r) => {
        if (r.state !== 'paused') throw new StaleAction(`run ${r.id} is ${r.state}: only a paused run resumes${r.state === 'failed' ? ' (choose a recovery action)' : ''}`);
        if (actor.source === 'scheduler' && r.pausedBy && r.pausedBy.source !== 'scheduler') throw new StaleAction(`run ${r.id} was paused by <@${r.pausedBy.userId}>: a window never resumes a run a human paused`);
        // the host whose gate was approved during the pause may now go ahead
        for (const s of r.steps) {
          if (!s.data?.approvedWhilePaused) continue;
          const { approvedWhilePaused: _released, ...rest } = s.data; // replaced, not edited: stored data is frozen
          s.data = rest;
        }
        r.state = r.steps.some((s) => s.state === 'awaiting-approval') ? 'awaiting-approval' : 'running';
        delete r.pausedBy;
      }, () => ({ kind: 'state', message: `run resumed by ${describeActor(actor)}`, detail: actor.window ? { window: actor.window } : undefined }));
      if (!res.ok) return res;
      const resumed = res.value;
      const gate = resumed.steps.find((s) => s.state === 'awaiting-approval');
      if (resumed.state === 'awaiting-approval' && gate) engine.notify(resumed, 'approvalNeeded', (n) => n.approvalNeeded(resumed, gate));
      // a runner that died may still hold the pool lease for this run: the loop waits for it to expire and takes the
      // run over (a terminal has no replica sweep to adopt it later; without the wait, nothing drove it)
      else engine.drive(runId, { waitForLease: true });
      return res;
    },

    async abort(runId, actor) {
      return abortRun(runId, actor);
    },

    async recover(runId, req: RecoveryRequest, actor) {
      // the Abort of a failure alert: refused like its other buttons once the failure was handled (a retry chosen
      // elsewhere): it must not abort the run that has gone on since
      if (req.action === 'abort') return abortRun(runId, actor, { stepId: req.stepId, attempt: req.attempt });
      const got = await forRun(runId, actor, 'recover');
      if (!got.ok) return got;
      const { run } = got.value;
      const checked = checkRequest(run, req);
      if (!checked.ok) return refuse(runId, actor, checked.code, checked.error);
      const rt = env.runtime(run.pool)!;
      const live = await checkAgainstPool(rt.runtime, run, checked.step, req);
      if (!live.ok) return refuse(runId, actor, live.code, live.error);
      const res = await cas(run, actor, recoveryMutation(req, actor.userId, { revision: run.revision }), () => ({
        kind: 'recovery',
        message: `${req.action} on ${req.stepId} by ${actor.userId}${req.address ? ` (address ${req.address})` : ''}`,
        detail: { ...req },
      }));
      if (!res.ok) return res;
      const updated = res.value;
      if (req.action === 'skip-update') {
        const failed = checked.step.data?.failed as { name?: string } | undefined;
        const text = `${failed?.name ?? 'The update'} skipped on ${checked.step.hostName} by ${mention(actor.userId)} (R3.10): the run continues without it there; the end audit lists it as missing.`;
        engine.notify(updated, 'runEvent', (n) => n.runEvent(updated, text));
      }
      if (req.action === 'skip-host') {
        const host = checked.step.hostName;
        const text = !AFTER_UPGRADE_KINDS.has(checked.step.kind)
          ? `${host} skipped by ${mention(actor.userId)}: ${skippedWords(run, checked.step)}`
          : checked.step.kind === 'restore-vms'
            ? `The rest of ${host} skipped by ${mention(actor.userId)}: it stays on the target, enabled. ${await stoppedVmsNow(rt.runtime.deps.client, run, host ?? '?')} The run goes on.`
            : `The rest of ${host} skipped by ${mention(actor.userId)}: it stays on the target, enabled; its VMs are not moved back. The run goes on.`;
        engine.notify(updated, 'runEvent', (n) => n.runEvent(updated, text));
      }
      engine.notify(updated, 'runUpdated', (n) => n.runUpdated(updated));
      engine.drive(runId, { waitForLease: true });
      return res;
    },
  };
  return decisions;
}

/** What Skip host left a host before its restore as, from the run's records (runner/skip-host.ts), said after the click. */
function skippedWords(run: Run, step: StepRecord): string {
  const target = run.plan.target.product;
  const mixed = `the pool stays in mixed mode (R3.5) until it is handled`;
  const state = skippedHostState(run, step);
  switch (state.kind) {
    case 'back-on-target':
      return `the run saw it back on ${target}; it stays on it as its failed step left it (check whether it is enabled). The run goes on.`;
    case 'was-on-target':
      return `it was on ${target} before the run and stays on it as its failed step left it (check whether it is enabled). The run goes on.`;
    case 'version-unknown':
      return `its version is unknown (the run took it down for its upgrade and has not seen it back); ${mixed}.`;
    case 'upgrade-pending':
      return `it was last seen on its old version with its upgrade ${state.applied ? 'applied' : 'prepared'}, which its next reboot brings up; it stays disabled; ${mixed}.`;
    case 'old-version':
      return `it stays disabled and is not upgraded; ${mixed}.`;
  }
}
