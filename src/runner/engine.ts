/**
 * The runner's engine: a level-triggered loop driving one Run through plan.steps, one step at a time (so within a
 * pool strictly one host at a time, R3.1); runs of different pools have their own loops and go in parallel.
 *
 * Each turn re-reads the run from the store and decides with guard clauses: finished / failed / waiting for an
 * approver → stop; paused → only finish the host in progress; otherwise run the next step. A step's state is
 * written BEFORE its side effect starts (running, attempts+1) and after it ends (done / failed / awaiting-approval).
 * The pool's lease is held (and renewed) while a loop runs, released when it stops. After a restart recoverRuns()
 * picks up runs left running: an interrupted step is simply executed again — steps reconcile with the pool first,
 * and the upgrade step never re-issues a shutdown it recorded (steps/upgrade.ts).
 *
 * Several replicas (issue 16, docs/ha.md): the lease carries a fencing token, and every write a loop makes (step
 * transitions, step data, the audit record written before each XenAPI side effect) passes it to the store, which
 * checks it in the same transaction. A replica that stalled past its lease and was taken over gets FencedError on
 * its next write and stops: it persists nothing more and sends no further side effect. adoptOrphans() (called
 * periodically by `serve`) takes over runs whose holder stopped renewing; onRunChanged() wakes the holder when a
 * decision was stored by another replica.
 */
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Notifier } from '../domain/ports';
import { TERMINAL_RUN_STATES, type Run, type StepRecord } from '../domain/types';
import { NotifyQueue, auditor, type AuditKind } from './audit';
import { fencedStore, isFenced, renewLeaseWhileHeld } from './fencing';
import { RunInterrupted, isPoolUnavailable, toStepError } from './errors';
import { endAuditUnreadText, endNotRecordedText, notStartedText, readFailedText, retryStoreCall, runnerAudit, StoreUnavailable, storeFailed, type Recorded } from './store-calls';
import type { Fence, PoolClient, RunStore } from './ports';

export { fencedStore, isFenced } from './fencing';
import { validActions } from './recovery';
import { continueRecovery, type RecoveryEnv } from './recovery-procedures';
import { baselineOf } from './baseline';
import { doneOutcome } from './end-audit';
import { isFinalHop } from '../planner/hops';
import { endAuditOf } from './report';
import { readSnapshot } from '../inventory';
import type { StepContext } from './step';
import { buildStepContext, type StepContextDeps, type StepWriter } from './step-context';
import type { PoolRuntime } from './runtime';

export type { PoolRuntime } from './runtime';

export interface EngineDeps {
  store: RunStore;
  clock: Clock;
  notifier: Notifier;
  logger: Logger;
  /** who drives: written in the pool's lease */
  ownerId: string;
  /** per-pool runtime (client, steps, settings); undefined when the pool is not configured */
  runtime(pool: string): PoolRuntime | undefined;
  /** lease time-to-live (clock ms), renewed every third of it; default 60 s */
  leaseTtlMs?: number;
  /** re-executions of a step that failed only because the pool did not answer; default 3 */
  transientRetries?: number;
  /** named points (before:<step>, after:<step>, <step>:<label>) where the crash tests stop the process */
  checkpoint?: (label: string) => Promise<void>;
  /** Multi-hop (R1.4): a non-final hop's run is done and `nextHop` ('replanning') is stored: plan the next hop */
  onHopDone?: (run: Run) => void;
}

const TERMINAL = new Set<string>(TERMINAL_RUN_STATES);

/**
 * The store stayed unavailable for a call of the step (its context aborts the loop's signal with it): thrown by the
 * step, or caught by it (an item's failure, a wrapped error), it stops the loop with its text, never as the step's failure.
 */
function storeStopped(err: unknown, signal: AbortSignal): StoreUnavailable | undefined {
  if (err instanceof StoreUnavailable) return err;
  return signal.reason instanceof StoreUnavailable ? signal.reason : undefined;
}

interface Loop {
  controller: AbortController;
  done: Promise<void>;
  /** another drive() arrived while looping: look again before stopping */
  wake: boolean;
  /** the store as this loop writes to it: fenced with its lease once it holds one */
  store: RunStore;
  audit: ReturnType<typeof auditor>;
  fence?: Fence;
}

export function nextStepIndex(run: Run): number {
  return run.steps.findIndex((s) => s.state !== 'done' && s.state !== 'skipped');
}

/**
 * While a run is paused (hold without a gate, a window's end) the host in progress is finished — its gate was
 * passed, so it may already be down — and nothing else starts: the run stops before the next host's first step.
 */
export function mayContinueWhilePaused(run: Run, step: StepRecord): boolean {
  if (!step.host || step.kind === 'approval') return false;
  const gate = run.steps.find((s) => s.kind === 'approval' && s.host === step.host);
  // a gate approved while the run was paused does not release its host: the run waits for a resume
  return gate?.state === 'done' && gate.data?.approvedWhilePaused !== true;
}

export class Engine {
  private readonly loops = new Map<string, Loop>();
  private readonly notifications: NotifyQueue;
  private readonly audit: ReturnType<typeof auditor>;
  /** what a step's context takes from the engine (step-context.ts) */
  private readonly stepDeps: StepContextDeps;
  private readonly leaseTtlMs: number;
  private stopping = false;
  /** aborted by shutdown(): ends recoverRuns' waits for the store */
  private readonly stopped = new AbortController();

  constructor(private readonly deps: EngineDeps) {
    this.notifications = new NotifyQueue(deps.logger);
    this.audit = auditor(deps.store, deps.clock);
    this.stepDeps = {
      clock: deps.clock,
      logger: deps.logger,
      ownerId: deps.ownerId,
      checkpoint: deps.checkpoint,
      notify: (run, what, fn) => this.notify(run, what, fn),
    };
    this.leaseTtlMs = deps.leaseTtlMs ?? 60_000;
  }

  /** Best-effort notifier call, queued in order per run. */
  notify(run: Run, what: keyof Notifier, fn: (n: Notifier) => Promise<void>): void {
    this.notifications.push(run.id, what, () => fn(this.deps.notifier));
  }

  /** Make sure a loop drives this run (idempotent: a second call only asks the loop to look again). */
  drive(runId: string, opts: { waitForLease?: boolean } = {}): void {
    if (this.stopping) return;
    const existing = this.loops.get(runId);
    if (existing) {
      existing.wake = true;
      return;
    }
    const loop: Loop = { controller: new AbortController(), done: Promise.resolve(), wake: false, store: this.deps.store, audit: this.audit };
    this.loops.set(runId, loop);
    loop.done = this.loop(runId, loop, opts)
      .catch((err: unknown) => this.deps.logger.error({ runId, err: (err as Error)?.message ?? String(err) }, 'run loop crashed'))
      .finally(() => {
        if (this.loops.get(runId) === loop) this.loops.delete(runId);
        // a drive() that arrived while this loop was winding down must not be lost
        if (loop.wake && !this.stopping) this.drive(runId, opts);
      });
  }

  isDriving(runId: string): boolean {
    return this.loops.has(runId);
  }

  /**
   * Resolves when this process no longer drives the run and (unless `loopOnly`) its notifications went out.
   * Code that may itself run inside a notification (core.abort called from a notifier) must use loopOnly.
   */
  async whenIdle(runId: string, opts: { loopOnly?: boolean } = {}): Promise<void> {
    for (let loop = this.loops.get(runId); loop; loop = this.loops.get(runId)) await loop.done;
    if (!opts.loopOnly) await this.notifications.flush(runId);
  }

  /** Stop the run's step now (abort elsewhere, hold of a running gate…); the step stays resumable. */
  interrupt(runId: string, reason: string): void {
    this.loops.get(runId)?.controller.abort(new RunInterrupted(reason));
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.stopped.abort(new RunInterrupted('runner shutting down'));
    for (const [id, loop] of this.loops) loop.controller.abort(new RunInterrupted(`runner shutting down (run ${id} resumes on restart)`));
    await Promise.all([...this.loops.values()].map((l) => l.done));
    await this.notifications.flush();
  }

  /**
   * On process start: pick up every run left running, waiting at a gate or paused mid-host, re-reading the pool
   * through its steps (audit 'resume'). Gates are announced again; other runs are driven once the previous
   * owner's lease has expired. A run paused before its next host stays as it is, audited and not announced.
   * Its store calls are tried again like the run loop's (store-calls.ts; the audit record read back before a new
   * try): a store that stays unavailable for one run's calls leaves that run as the store shows it (logged), and the
   * other runs are still recovered.
   */
  async recoverRuns(): Promise<string[]> {
    const { store, clock, logger } = this.deps;
    const retry = <T>(runId: string, call: () => Promise<T>, recorded: Recorded<T> | undefined, kind: 'read' | 'write') =>
      retryStoreCall({ runId, store, signal: this.stopped.signal, clock, logger }, call, recorded, (err) => storeFailed(err, kind));
    let runs: Run[];
    try {
      runs = await retry('', () => store.listRuns({ states: ['running', 'awaiting-approval', 'paused'] }), undefined, 'read');
    } catch (err) {
      if (err instanceof RunInterrupted) return []; // shut down while it waited for the store
      throw err;
    }
    const resumed: string[] = [];
    for (const run of runs) {
      if (!this.deps.runtime(run.pool) || this.loops.has(run.id)) continue;
      try {
        if (await this.recoverRun(run, retry)) resumed.push(run.id);
      } catch (err) {
        if (err instanceof RunInterrupted) break; // shut down while it waited for the store
        if (!(err instanceof StoreUnavailable)) throw err;
        logger.error(
          { runId: run.id, err: err.said },
          `the store stayed unavailable while run ${run.id} was recovered at startup: not driven by this runner (nothing sent); a restart of the bot or a Resume of the run takes it up. The other runs are recovered`,
        );
      }
    }
    return resumed;
  }

  /** recoverRuns for one run; true: resumed (driven, or its gate announced again). */
  private async recoverRun(
    run: Run,
    retry: <T>(runId: string, call: () => Promise<T>, recorded: Recorded<T> | undefined, kind: 'read' | 'write') => Promise<T>,
  ): Promise<boolean> {
    const next = run.steps[nextStepIndex(run)];
    const where = next ? `${next.id} (${next.state})` : 'its end';
    // an append whose answer was lost may have been committed: read back before a new try, never written twice
    const resumeAudit = (message: string, detail: Record<string, unknown>) => {
      const { append, recorded } = runnerAudit(this.audit, this.deps.store, this.deps.clock, run.id, 'resume', message, detail);
      return retry(run.id, append, recorded, 'write');
    };
    const lease = await retry(run.id, () => this.deps.store.getLease(run.pool), undefined, 'read');
    if (run.state !== 'awaiting-approval' && lease && lease.runId === run.id && lease.owner !== this.deps.ownerId && this.deps.clock.now() < lease.expiresAt) {
      // another replica's lease is live (issue 16): it may be driving the run; stand by, say nothing in Slack (a
      // take-over, if it comes, is audited and announced by takeLease)
      await resumeAudit(`runner ${this.deps.ownerId} started: run ${run.id} at ${where} is held by ${lease.owner} until ${new Date(lease.expiresAt).toISOString()}; resuming run ${run.id} here only if that lease expires`, {
        state: run.state,
        step: next?.id,
        holder: lease.owner,
      });
      this.drive(run.id, { waitForLease: true });
      return false;
    }
    if (run.state === 'paused' && next && !mayContinueWhilePaused(run, next)) {
      // held before its next host ("Pause means paused"): nothing changes for it, so nothing is said in its thread;
      // a Resume drives it (as adoptOrphans leaves it)
      await resumeAudit(`runner ${this.deps.ownerId} started: run ${run.id} stays paused at ${where} until someone resumes it`, {
        state: run.state,
        step: next.id,
      });
      return false;
    }
    await resumeAudit(`runner ${this.deps.ownerId} started: resuming run ${run.id} (${run.state}) at ${where}${run.state === 'paused' && next ? ', the host in progress only' : ''}`, {
      state: run.state,
      step: next?.id,
    });
    const said =
      run.state === 'paused' && next
        ? `The runner restarted; the run is paused: it finishes the host in progress, resuming at ${where}, then stays paused until someone resumes it. The pool state is re-read before anything else.`
        : `The runner restarted; resuming at ${where}. The pool state is re-read before anything else.`;
    this.notify(run, 'runEvent', (n) => n.runEvent(run, said));
    const gate = run.steps.find((s) => s.state === 'awaiting-approval');
    if (run.state === 'awaiting-approval' && gate) {
      this.notify(run, 'approvalNeeded', (n) => n.approvalNeeded(run, gate));
      return true;
    }
    this.drive(run.id, { waitForLease: true });
    return true;
  }

  /**
   * Several replicas (issue 16): drive every run left running (or paused mid-host) whose lease nobody renews —
   * its replica died or stalled. Called every third of the lease TTL by `serve`; the store's lease decides which
   * replica gets it, and the new holder re-reads the pool through the steps before acting (as after a restart).
   */
  async adoptOrphans(): Promise<string[]> {
    const { store, clock } = this.deps;
    if (this.stopping) return [];
    const adopted: string[] = [];
    for (const run of await store.listRuns({ states: ['running', 'paused'] })) {
      if (!this.deps.runtime(run.pool) || this.loops.has(run.id)) continue;
      const next = run.steps[nextStepIndex(run)];
      if (run.state === 'paused' && !(next && mayContinueWhilePaused(run, next))) continue;
      const lease = await store.getLease(run.pool);
      if (lease && (clock.now() < lease.expiresAt || lease.runId !== run.id)) continue;
      adopted.push(run.id);
      this.drive(run.id, { waitForLease: true });
    }
    return adopted;
  }

  /**
   * A run changed in the store, possibly on another replica (PostgreSQL NOTIFY): the loop driving it here looks
   * again — an approval continues it, an abort stops its step now instead of at the next side effect.
   */
  onRunChanged(runId: string): void {
    const loop = this.loops.get(runId);
    if (!loop) return;
    loop.wake = true;
    void this.deps.store.getRun(runId).then(
      (run) => {
        if (run && TERMINAL.has(run.state)) this.interrupt(runId, `run ${run.state}`);
      },
      () => undefined,
    );
  }

  /**
   * A StepContext for any step of the run (the recovery procedures reuse step modules through it). `writer` is the run
   * loop's (its store, audit and controller): the step's store calls are tried again as the loop's own (store-calls.ts).
   * Built by step-context.ts.
   */
  contextFor(
    run: Run,
    stepId: string,
    signal: AbortSignal,
    rt: PoolRuntime,
    writer: StepWriter = { store: this.deps.store, audit: this.audit },
  ): StepContext {
    return buildStepContext(this.stepDeps, run, stepId, signal, rt, writer);
  }

  // ---------------------------------------------------------------------------------------------

  private async loop(runId: string, loop: Loop, opts: { waitForLease?: boolean }): Promise<void> {
    const { store, logger } = this.deps;
    const first = await this.firstRead(loop, runId);
    if (!first) return;
    const rt = this.deps.runtime(first.pool);
    const log = logger.child({ runId, pool: first.pool });
    if (!rt) {
      log.error('pool is not in the configuration: run not driven');
      return;
    }
    if (!(await this.takeLease(first, loop, opts.waitForLease ?? false, log))) return;
    // the run's pool only: after a restart, the client has not met it yet (a master of another pool at the pools
    // file's address fails the first step that calls it, EFOREIGNPOOL, before any side effect)
    if (first.poolUuid) rt.deps.client.expectPool?.(first.poolUuid);
    const renewal = this.renewLease(first, loop, log);
    try {
      for (;;) {
        loop.wake = false;
        if (loop.controller.signal.aborted) return;
        const run = await this.readRun(loop, runId, (err) => readFailedText('to go on with it', 'No further step was started', undefined, err));
        if (!run || TERMINAL.has(run.state) || run.state === 'failed' || run.state === 'awaiting-approval') {
          if (loop.wake) continue;
          return;
        }
        const idx = nextStepIndex(run);
        if (idx === -1) {
          await this.finish(run, rt.deps.client, loop);
          return;
        }
        const step = run.steps[idx]!;
        if (run.state === 'paused' && !mayContinueWhilePaused(run, step)) {
          if (loop.wake) continue;
          log.info({ step: step.id }, 'run paused before the next host');
          return;
        }
        if (!run.baseline && run.steps.every((s) => s.state === 'pending')) {
          await this.recordBaseline(run, step, rt, loop);
          continue;
        }
        if (step.state === 'running' && step.data?.recovery) await this.recover(run, step, loop, rt);
        else await this.runStep(run, idx, loop, rt);
      }
    } catch (err) {
      if (err instanceof StoreUnavailable) {
        log.error({ err: err.message }, 'the store stayed unavailable for a write or read of this loop: it stops, the run stays recoverable');
        this.notify(first, 'runEvent', (n) => n.runEvent(first, err.said));
        return;
      }
      if (err instanceof RunInterrupted) return; // stopped while it waited for the store (shutdown, abort)
      if (!isFenced(err)) throw err;
      log.error({ err: (err as Error).message }, 'the pool lease was taken over by another replica: this one stops and writes nothing more');
    } finally {
      loop.controller.abort(new RunInterrupted('loop ended'));
      await renewal;
      await store.releaseLease(first.pool, this.deps.ownerId, loop.fence?.token).catch(() => undefined);
    }
  }

  /**
   * The loop's first read of the run, tried again like its other reads. No lease is held yet and the thread cannot be
   * told without the run: a store that stays unavailable is logged with the run id, and the run stays as the store
   * shows it — a restart (recoverRuns), a Resume or `serve`'s sweep (adoptOrphans) drives it again.
   */
  private async firstRead(loop: Loop, runId: string): Promise<Run | undefined> {
    try {
      return await this.readRun(loop, runId, (err) => storeFailed(err, 'read'));
    } catch (err) {
      if (err instanceof RunInterrupted) return undefined; // shut down while it waited for the store
      if (!(err instanceof StoreUnavailable)) throw err;
      this.deps.logger.error(
        { runId, err: err.said },
        `the store stayed unavailable for the first read of run ${runId}: not driven by this runner (no lease taken, nothing sent); a restart of the bot or a Resume of the run takes it up, \`xsupgrade serve\` by itself`,
      );
      return undefined;
    }
  }

  private async takeLease(run: Run, loop: Loop, wait: boolean, log: Logger): Promise<boolean> {
    const { store, clock, ownerId } = this.deps;
    for (;;) {
      const lease = await store.acquireLease(run.pool, ownerId, run.id, this.leaseTtlMs, clock.now());
      if (lease.ok) {
        if (lease.tookOverFrom) {
          log.warn({ from: lease.tookOverFrom, token: lease.token }, 'took over the pool lease of a runner that stopped');
          this.notify(run, 'runEvent', (n) =>
            n.runEvent(run, `Runner ${ownerId} took over this run: ${lease.tookOverFrom} stopped renewing its lease. The pool state is re-read before anything else.`),
          );
        }
        if (lease.token !== undefined) {
          loop.fence = { pool: run.pool, owner: ownerId, token: lease.token };
          loop.store = fencedStore(store, loop.fence);
          // each record names the replica that wrote it (which one sent a XenAPI call, after a take-over)
          const fencedAudit = auditor(loop.store, clock);
          loop.audit = (runId, kind, actor, message, detail) => fencedAudit(runId, kind, actor, message, { ...detail, replica: ownerId, token: lease.token });
        }
        return true;
      }
      if (!wait || lease.runId !== run.id) {
        log.info({ holder: lease.holder, heldFor: lease.runId }, 'pool lease held elsewhere: not driving');
        return false;
      }
      // a runner that died still holds it: wait for its expiry, then take over (recorded by the store)
      try {
        await clock.sleep(Math.max(1, lease.expiresAt - clock.now() + 1), loop.controller.signal);
      } catch {
        return false;
      }
    }
  }

  private async renewLease(run: Run, loop: Loop, log: Logger): Promise<void> {
    const { store, clock, ownerId } = this.deps;
    const ended = await renewLeaseWhileHeld({
      store,
      clock,
      pool: run.pool,
      owner: ownerId,
      ttlMs: this.leaseTtlMs,
      token: loop.fence?.token,
      signal: loop.controller.signal,
      onError: (err) => log.warn({ err: (err as Error).message }, 'lease renewal failed; will retry'),
      afterRenewal: async () => {
        const now = await store.getRun(run.id);
        if (now && TERMINAL.has(now.state)) loop.controller.abort(new RunInterrupted(`run ${now.state}`));
      },
    });
    if (ended === 'lost') {
      log.error('lost the pool lease: stopping this loop');
      loop.controller.abort(new RunInterrupted('lease lost'));
    }
  }

  private async runStep(run: Run, idx: number, loop: Loop, rt: PoolRuntime): Promise<void> {
    const { clock } = this.deps;
    const { store } = loop;
    const record = run.steps[idx]!;
    const interrupted = record.state === 'running';
    await this.deps.checkpoint?.(`before:${record.id}`);
    // nothing sent yet for this attempt (an earlier one's effects are on the pool, read first when the step runs)
    const before = `Nothing was sent to the pool for ${record.id}${interrupted ? ' in this attempt' : ''}`;
    const starts = `${interrupted ? 'resumes' : 'starts'} (attempt ${record.attempts + 1})`;
    const startedAt = clock.now(); // tells this write apart when the store is read after an unknown outcome
    const started = await this.recordWrite(
      loop,
      run.id,
      () =>
        store.updateRun(run.id, (r) => {
          const s = r.steps[idx]!;
          s.state = 'running';
          s.attempts += 1;
          s.startedAt = startedAt;
          delete s.error;
          delete s.endedAt;
        }),
      // committed before its answer was lost: not written again, so the attempt is counted once
      (r) => (r.steps[idx]!.state === 'running' && r.steps[idx]!.startedAt === startedAt ? r : undefined),
      (err) => notStartedText(`that ${record.id} ${starts}`, before, false, err),
    );
    const step = started.steps[idx]!;
    await this.recordAudit(
      loop,
      run.id,
      interrupted ? 'resume' : 'step',
      `${step.id} ${interrupted ? 'resumed after an interruption' : 'started'} (attempt ${step.attempts})`,
      { step: step.id, attempt: step.attempts },
      (err) => notStartedText(`That ${step.id} ${starts}`, before, true, err),
    );
    this.notify(started, 'runUpdated', (n) => n.runUpdated(started));

    const transientRetries = this.deps.transientRetries ?? 3;
    const signal = loop.controller.signal;
    let outcome;
    for (let attempt = 0; ; attempt++) {
      const current = (await this.readRun(loop, run.id, (err) =>
        attempt === 0
          ? readFailedText(`before ${step.id} ran`, before, undefined, err)
          : readFailedText(`before ${step.id} ran again`, `${step.id} had stopped when the pool did not answer, and may already have sent actions to the pool`, step.id, err),
      ))!;
      const ctx = this.contextFor(current, step.id, signal, rt, loop);
      try {
        outcome = await rt.steps[step.kind].execute(ctx);
        // a step that went on after the store stayed unavailable for one of its calls: its outcome is not recorded
        const stopped = storeStopped(undefined, signal);
        if (stopped) throw stopped;
        await this.deps.checkpoint?.(`${step.id}:executed`); // side effects done, not recorded yet
        break;
      } catch (err) {
        if (isFenced(err)) throw err; // the loop stops: nothing more is written by this replica
        const stopped = storeStopped(err, signal);
        if (stopped) throw stopped; // the loop stops on it and tells the thread: no step failure, the step runs again
        if (signal.aborted || err instanceof RunInterrupted) {
          // stop this loop too: the step must not be started again by this runner (run ended, pool taken over)
          if (!signal.aborted) loop.controller.abort(err);
          ctx.log.info({ reason: String((signal.reason as Error)?.message ?? err) }, 'step interrupted; it resumes from the pool state');
          return;
        }
        if (isPoolUnavailable(err) && attempt < transientRetries) {
          ctx.log.warn({ err: (err as Error).message, attempt }, 'pool did not answer; re-running the step (it reconciles first)');
          // said in the run's audit: minutes of reconnecting are otherwise silent until the step fails
          const unanswered = toStepError(err).message;
          // mid-step: actions may already have been sent, so the thread is never told that nothing was
          const ended = `${step.id} stopped when the pool did not answer (${unanswered}), and may already have sent actions to the pool`;
          await this.recordAudit(
            loop,
            run.id,
            'state',
            `${step.id}: the pool did not answer (${unanswered}); reconnecting, then the step runs again and reads the pool first (try ${attempt + 1} of ${transientRetries})`,
            { step: step.id },
            (e) => endNotRecordedText(ended, step.id, false, e),
          );
          await rt.deps.client.reconnect({ deadlineMs: clock.now() + rt.deps.config.pollMs * 30 }).catch(() => undefined);
          continue;
        }
        await this.failStep(run.id, step.id, err, loop);
        return;
      }
    }

    if (outcome.status === 'awaiting-approval') {
      const ended = `${step.id} waits for an approver`;
      const waiting = await this.recordWrite(
        loop,
        run.id,
        () =>
          store.updateRun(run.id, (r) => {
            const s = r.steps[idx]!;
            s.state = 'awaiting-approval';
            if (r.state === 'running') r.state = 'awaiting-approval';
          }),
        (r) => (r.steps[idx]!.state === 'awaiting-approval' ? r : undefined),
        (err) => endNotRecordedText(ended, step.id, false, err),
      );
      await this.recordAudit(loop, run.id, 'state', `waiting for approval of ${step.id}`, { step: step.id }, (err) => endNotRecordedText(ended, step.id, true, err));
      await this.deps.checkpoint?.(`${step.id}:waiting`);
      const s = waiting.steps[idx]!;
      this.notify(waiting, 'approvalNeeded', (n) => n.approvalNeeded(waiting, s));
      return;
    }
    const endedAt = clock.now(); // also tells this write apart when the store is read after an unknown outcome
    const ended = `${step.id} is done${outcome.note ? ` (${outcome.note})` : ''}`;
    const done = await this.recordWrite(
      loop,
      run.id,
      () =>
        store.updateRun(run.id, (r) => {
          const s = r.steps[idx]!;
          s.state = 'done';
          s.endedAt = endedAt;
          if (outcome.note) s.data = { ...(s.data ?? {}), note: outcome.note };
        }),
      (r) => (r.steps[idx]!.state === 'done' && r.steps[idx]!.endedAt === endedAt ? r : undefined),
      (err) => endNotRecordedText(ended, step.id, false, err),
    );
    await this.recordAudit(loop, run.id, 'step', `${step.id} done${outcome.note ? `: ${outcome.note}` : ''}`, { step: step.id }, (err) => endNotRecordedText(ended, step.id, true, err));
    this.notify(done, 'runUpdated', (n) => n.runUpdated(done));
    await this.deps.checkpoint?.(`after:${step.id}`);
  }

  /** retryStoreCall (store-calls.ts) for this loop: its store, its abort signal. */
  private recordWrite<T>(loop: Loop, runId: string, write: () => Promise<T>, recorded: Recorded<T> | undefined, said: (err: unknown) => string): Promise<T> {
    return retryStoreCall({ runId, store: loop.store, signal: loop.controller.signal, clock: this.deps.clock, logger: this.deps.logger }, write, recorded, said);
  }

  /**
   * An audit record of the loop (actor 'runner'), appended like its other writes: before a new try the run's audit is
   * read for it, so an append committed before its answer was lost is not appended again.
   */
  private recordAudit(loop: Loop, runId: string, kind: AuditKind, message: string, detail: Record<string, unknown> | undefined, said: (err: unknown) => string): Promise<true> {
    const { append, recorded } = runnerAudit(loop.audit, loop.store, this.deps.clock, runId, kind, message, detail);
    return this.recordWrite(loop, runId, append, recorded, said);
  }

  /** The run as the loop's store shows it, the read tried again like a write (`said`: the thread's text if it stays unavailable). */
  private readRun(loop: Loop, runId: string, said: (err: unknown) => string): Promise<Run | undefined> {
    return this.recordWrite(loop, runId, () => loop.store.getRun(runId), undefined, said);
  }

  /** R4.3: a failed step stops the run; the alert carries only the recovery actions valid for it. */
  async failStep(runId: string, stepId: string, err: unknown, loop?: Loop): Promise<Run> {
    const { clock } = this.deps;
    const store = loop?.store ?? this.deps.store;
    const audit = loop?.audit ?? this.audit;
    const error = toStepError(err);
    const endedAt = clock.now();
    const ended = `${stepId} failed: ${error.message}`;
    const write = () =>
      store.updateRun(runId, (r) => {
        const s = r.steps.find((x) => x.id === stepId)!;
        s.state = 'failed';
        s.error = error;
        s.endedAt = endedAt;
        if (!TERMINAL.has(r.state)) {
          r.state = 'failed';
          r.outcome = `${stepId} failed: ${error.message}`;
        }
      });
    const message = `${stepId} failed: ${error.message}`;
    const detail = { step: stepId, ...error };
    // outside a run loop the store's error goes to the caller, as before
    const failed = loop
      ? await this.recordWrite(loop, runId, write, (r) => (r.steps.find((x) => x.id === stepId)?.endedAt === endedAt ? r : undefined), (e) => endNotRecordedText(ended, stepId, false, e))
      : await write();
    if (loop) await this.recordAudit(loop, runId, 'step', message, detail, (e) => endNotRecordedText(ended, stepId, true, e));
    else await audit(runId, 'step', 'runner', message, detail);
    const s = failed.steps.find((x) => x.id === stepId)!;
    if (failed.state === 'failed') this.notify(failed, 'stepFailed', (n) => n.stepFailed(failed, s, validActions(failed, s)));
    return failed;
  }

  private async recover(run: Run, step: StepRecord, loop: Loop, rt: PoolRuntime): Promise<void> {
    const env: RecoveryEnv = {
      rt,
      store: loop.store,
      clock: this.deps.clock,
      audit: loop.audit,
      contextFor: (r, id) => this.contextFor(r, id, loop.controller.signal, rt, loop),
      notify: (r, what, fn) => this.notify(r, what, fn),
    };
    try {
      const result = await continueRecovery(env, run, step);
      if (result.status === 'closed') this.notify(result.run, 'runFinished', (n) => n.runFinished(result.run));
      const stopped = storeStopped(undefined, loop.controller.signal); // a procedure that went on past it
      if (stopped) throw stopped;
    } catch (err) {
      if (isFenced(err)) throw err;
      const stopped = storeStopped(err, loop.controller.signal);
      if (stopped) throw stopped;
      if (err instanceof RunInterrupted && !loop.controller.signal.aborted) loop.controller.abort(err);
      if (loop.controller.signal.aborted || err instanceof RunInterrupted) return;
      await this.failStep(run.id, step.id, err, loop);
    }
  }

  /**
   * Before the first change, the pool as it is (every VM's power state and host, HA, each host's version, enabled
   * flag and boot time) is persisted in the run: the end of the run is audited against it (end-audit.ts).
   */
  private async recordBaseline(run: Run, first: StepRecord, rt: PoolRuntime, loop: Loop): Promise<void> {
    let snapshot;
    try {
      snapshot = await readSnapshot(rt.deps.client, this.deps.clock);
    } catch (err) {
      await this.failStep(run.id, first.id, new Error(`the pool could not be read to record its state before the first change: ${(err as Error).message}`), loop);
      return;
    }
    const before = 'No step has started: nothing was sent to the pool';
    const said = (recorded: boolean) => (err: unknown) => notStartedText(`${recorded ? 'The' : 'the'} pool's state before the first change`, before, recorded, err);
    // read back before a retry: a baseline that was committed is kept, never replaced by this read (nor by ??=)
    const stored = await this.recordWrite(
      loop,
      run.id,
      () =>
        loop.store.updateRun(run.id, (r) => {
          r.baseline ??= baselineOf(snapshot);
        }),
      (r) => (r.baseline ? r : undefined),
      said(false),
    );
    const baseline = stored.baseline!;
    await this.recordAudit(
      loop,
      run.id,
      'state',
      `pool state recorded before the first change: ${baseline.hosts.length} hosts, ${baseline.vms.filter((v) => v.powerState === 'Running').length} running VMs, HA ${baseline.haEnabled ? 'on' : 'off'}`,
      undefined,
      said(true),
    );
  }

  private async finish(run: Run, client: PoolClient, loop: Loop): Promise<void> {
    const { clock } = this.deps;
    const { store } = loop;
    // the live pool against the baseline decides the outcome: "done" never hides a host or a VM left behind. The end
    // audit's pool reads are caught inside it (said in the audit); its store read is tried again like the loop's reads
    const reads: Pick<RunStore, 'listRuns'> = { listRuns: (filter) => this.recordWrite(loop, run.id, () => store.listRuns(filter), undefined, endAuditUnreadText) };
    const audit = await endAuditOf({ client, clock, store: reads }, run);
    const endedAt = clock.now();
    const ended = 'Every step of the run is done and the pool was checked against its state before the run';
    const done = await this.recordWrite(
      loop,
      run.id,
      () =>
        store.updateRun(run.id, (r) => {
          if (nextStepIndex(r) !== -1 || TERMINAL.has(r.state)) return;
          r.state = 'done';
          r.endedAt = endedAt;
          r.endAudit = audit;
          r.outcome = doneOutcome(r, audit);
          // R1.4: the next hop is re-planned from the live pool; recorded with `done`, before any of it happens
          if (!isFinalHop(r.plan)) r.nextHop = { state: 'replanning', finalTarget: r.plan.finalTarget!, at: r.endedAt };
        }),
      (r) => (TERMINAL.has(r.state) || r.state === 'failed' ? r : undefined),
      (err) => endNotRecordedText(ended, undefined, false, err),
    );
    if (done.state !== 'done') return;
    await this.recordAudit(loop, run.id, 'state', `run ${run.id} ${done.outcome}`, undefined, (err) => endNotRecordedText(ended, undefined, true, err));
    this.notify(done, 'runFinished', (n) => n.runFinished(done));
    if (done.nextHop?.state !== 'replanning') return;
    await this.deps.checkpoint?.('between-hops'); // done and `replanning` stored, the next hop not planned yet
    this.deps.onHopDone?.(done);
  }
}
