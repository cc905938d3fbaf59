/**
 * The Tools follow-up (R5.1, R5.3; issue 15): after the last host of the FINAL target, the run's thread keeps a Tools
 * checklist, edited in place as guests report new Tools (VM_guest_metrics.PV_drivers_version), with a reminder every
 * `remindEveryMs` until the list is empty or an approver dismisses it. `/xsupgrade tools <pool>` reads it live.
 *
 * State lives in the run (`Run.toolsFollowUp`, written with the store's atomic updateRun) and is written BEFORE the
 * Slack message it drives; a reminder is claimed in the store (claimNotice, the scheduler's table, one key per
 * reminder slot) before it is sent, so it goes out once across restarts and replicas. Every piece of advice passes
 * `toolsAdviceGate` against the live pool's hosts first: nothing is said while a host is below the final version.
 *
 * tick() is called by the scheduler's tick (src/scheduler); it only follows the latest run of each pool.
 */
import type { Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import { authorize } from '../core/authorize';
import type { CoreResult } from '../domain/ports';
import type { Actor, Run, ToolsEntry, ToolsFollowUp } from '../domain/types';
import { silentLogger, type Logger } from '../log';
import type { Store } from '../store/types';
import { ConflictError } from '../store/types';
import { isFinalHop } from '../planner/hops';
import { TOOLS_OPEN_WITHIN_MS, applyReadings, finalTargetOf, isClosed, reminderDue, shortVersion, toolsAdviceGate, toolsChecklist } from './checklist';
import { readGuestTools, readHostVersions, readPendingTools, type ToolsClient } from './read';

export interface ToolsSettings {
  /** a reminder in the run's thread this often while the list is open (XSUPGRADE_TOOLS_REMINDER_HOURS) */
  remindEveryMs: number;
  /** the pending VMs' guest metrics are read this often (XSUPGRADE_TOOLS_CHECK_MINUTES) */
  checkEveryMs: number;
  /** a run that ended longer ago than this gets no checklist (a bot upgraded long after a run stays quiet) */
  openWithinMs: number;
}

export const DEFAULT_TOOLS_SETTINGS: ToolsSettings = {
  remindEveryMs: 24 * 3_600_000,
  checkEveryMs: 10 * 60_000,
  openWithinMs: TOOLS_OPEN_WITHIN_MS,
};

/** Where the follow-up speaks: the Slack notifier implements both (src/slack/notifier.ts). */
export interface ToolsNotifier {
  /** `first`: post the run's Tools checklist in its thread (message key "tools"); else edit that message in place */
  toolsChecklist(run: Run, first: boolean): Promise<void>;
  runEvent(run: Run, text: string): Promise<void>;
}

export type ToolsStore = Pick<Store, 'listRuns' | 'getRun' | 'updateRun' | 'claimNotice' | 'listNotices' | 'getLatestPlan' | 'appendAudit'>;

export interface ToolsFollowUpDeps {
  store: ToolsStore;
  clock: Clock;
  pools: PoolConfig[];
  notifier: ToolsNotifier;
  /** the pool's XenAPI client (the core's, src/core/index.ts toolsClient) */
  client: (pool: string) => ToolsClient | undefined;
  logger?: Logger;
  settings?: Partial<ToolsSettings>;
}

/** What `/xsupgrade tools <pool>` shows: the live pool's VMs below the final version, and the run following them. */
export interface ToolsView {
  pool: string;
  needed: string;
  label: string;
  pending: ToolsEntry[];
  /** the run whose thread holds the checklist, if one was opened */
  runId?: string;
  followUp?: ToolsFollowUp;
}

export interface ToolsTickReport {
  opened: string[];
  updated: string[];
  reminded: string[];
  /** runs whose advice the R5.3 gate withheld this tick, with why */
  held: Array<{ runId: string; reason: string }>;
}

export interface ToolsService {
  show(pool: string): Promise<CoreResult<ToolsView>>;
  /** the Dismiss button: `version` is the checklist version the clicked message showed */
  dismiss(runId: string, version: number, actor: Actor): Promise<CoreResult<Run>>;
  tick(now?: number): Promise<ToolsTickReport>;
}

const fail = <T>(code: 'not-found' | 'forbidden' | 'conflict' | 'invalid' | 'blocked' | 'unavailable', error: string): CoreResult<T> => ({ ok: false, code, error });

/** the follow-up changed since it was read (another replica or a click): nothing written */
class Moved extends Error {}

export function createToolsFollowUp(deps: ToolsFollowUpDeps): ToolsService {
  const { store, clock, notifier } = deps;
  const logger = deps.logger ?? silentLogger;
  const settings: ToolsSettings = { ...DEFAULT_TOOLS_SETTINGS, ...deps.settings };
  const pools = new Map(deps.pools.map((p) => [p.name, p]));
  let ticking: Promise<unknown> = Promise.resolve();
  /** per run: when this process last read its pool without result (gate held, or no answer): reads are spaced by checkEveryMs */
  const lastAttempt = new Map<string, number>();

  const latestRun = async (pool: string): Promise<Run | undefined> => (await store.listRuns({ pool }))[0];

  async function show(poolName: string): Promise<CoreResult<ToolsView>> {
    if (!pools.has(poolName)) return fail('not-found', `there is no pool "${poolName}" (configured: ${[...pools.keys()].join(', ') || 'none'})`);
    const client = deps.client(poolName);
    if (!client) return fail('not-found', `pool ${poolName} has no XenAPI client`);
    const run = await latestRun(poolName);
    // the newest intention: a later plan (e.g. the next hop of a chain) over the last run's
    const plan = (await store.getLatestPlan(poolName)) ?? run?.plan;
    if (!plan) return fail('invalid', `pool ${poolName} has no plan yet, so its final version is unknown: \`/xsupgrade plan ${poolName}\` first`);
    const final = finalTargetOf(plan);
    try {
      const gate = toolsAdviceGate(await readHostVersions(client), final);
      if (!gate.ok) return fail('blocked', gate.reason);
      const pending = toolsChecklist(await readGuestTools(client), final.product);
      const followUp = run?.toolsFollowUp && run.toolsFollowUp.needed === final.product ? run.toolsFollowUp : undefined;
      return { ok: true, value: { pool: poolName, needed: final.product, label: final.label, pending, runId: followUp ? run!.id : undefined, followUp } };
    } catch (err) {
      return fail('unavailable', `pool ${poolName} could not be read: ${(err as Error).message}`);
    }
  }

  async function dismiss(runId: string, version: number, actor: Actor): Promise<CoreResult<Run>> {
    const run = await store.getRun(runId);
    if (!run) return fail('not-found', `no run ${runId}`);
    const pool = pools.get(run.pool);
    if (!pool) return fail('not-found', `pool ${run.pool} of run ${runId} is not configured`);
    const refuse = async (code: 'forbidden' | 'conflict', error: string): Promise<CoreResult<Run>> => {
      await store
        .appendAudit({ at: clock.now(), runId, kind: 'refused', actor: actor.userId, message: error, detail: { source: actor.source, code } })
        .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'audit of a refusal failed'));
      return fail(code, error);
    };
    const auth = authorize(pool, actor, 'dismiss-tools', run);
    if (!auth.ok) return refuse('forbidden', `dismiss the Tools checklist refused: ${auth.reason}`);
    let updated: Run;
    try {
      updated = await store.updateRun(runId, (r) => {
        const f = r.toolsFollowUp;
        if (!f) throw new ConflictError(`run ${runId} has no Tools checklist`);
        if (f.dismissed) throw new ConflictError(`the Tools checklist of ${runId} was already dismissed by <@${f.dismissed.by}>`);
        if (f.pending.length === 0) throw new ConflictError(`the Tools checklist of ${runId} is already complete: nothing to dismiss`);
        if (f.supersededBy) throw new ConflictError(`the Tools checklist of ${runId} is no longer followed (run ${f.supersededBy} started since): nothing to dismiss`);
        if (f.version !== version) throw new ConflictError(`the Tools checklist of ${runId} changed since this message (now ${f.pending.length} VM(s) left): use the buttons of the current message`);
        f.dismissed = { by: actor.userId, at: clock.now() };
        f.version += 1; // the message loses its button
      });
    } catch (err) {
      if (err instanceof ConflictError) return refuse('conflict', err.message);
      throw err;
    }
    await store
      .appendAudit({ at: clock.now(), runId, kind: 'notify', actor: actor.userId, message: 'Tools checklist dismissed (R5.1): no more reminders', detail: { source: actor.source } })
      .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'audit of a dismissal failed'));
    await showMessage(updated);
    return { ok: true, value: updated };
  }

  /** Queues the checklist message if its content moved on since last queued; the version is recorded first. */
  async function showMessage(run: Run): Promise<Run> {
    const f = run.toolsFollowUp;
    if (!f || f.shownVersion === f.version) return run;
    let marked: Run;
    try {
      marked = await store.updateRun(run.id, (r) => {
        if (!r.toolsFollowUp || r.toolsFollowUp.shownVersion === r.toolsFollowUp.version) throw new Moved();
        r.toolsFollowUp.shownVersion = r.toolsFollowUp.version;
      });
    } catch (err) {
      if (err instanceof Moved) return run; // another replica queued it
      throw err;
    }
    await notifier.toolsChecklist(marked, f.shownVersion === 0).catch((err: unknown) => logger.warn({ err, runId: run.id }, 'tools: checklist message failed'));
    return marked;
  }

  /** Opens the checklist of a finished final-hop run, once (the CAS on the run decides between replicas). */
  async function open(run: Run, client: ToolsClient, now: number, report: ToolsTickReport): Promise<Run | undefined> {
    const final = finalTargetOf(run.plan);
    const gate = toolsAdviceGate(await readHostVersions(client), final);
    if (!gate.ok) {
      report.held.push({ runId: run.id, reason: gate.reason });
      return undefined;
    }
    const pending = toolsChecklist(await readGuestTools(client), final.product);
    const quiet = pending.length === 0 && run.plan.toolsUpgrade.length === 0; // nothing was ever to do: no message
    const f: ToolsFollowUp = {
      needed: final.product,
      label: final.label,
      openedAt: now,
      checkedAt: now,
      pending,
      done: run.plan.toolsUpgrade.filter((n) => !pending.some((e) => e.vm === n)),
      version: 1,
      shownVersion: quiet ? 1 : 0,
      ...(pending.length === 0 ? { completedAt: now } : {}),
    };
    try {
      const opened = await store.updateRun(run.id, (r) => {
        if (r.toolsFollowUp) throw new Moved();
        r.toolsFollowUp = f;
      });
      report.opened.push(run.id);
      logger.info({ runId: run.id, pending: pending.length, needed: final.product }, 'tools: checklist opened (R5.1)');
      return opened;
    } catch (err) {
      if (err instanceof Moved) return store.getRun(run.id);
      throw err;
    }
  }

  /** Reads the pending VMs' Tools (bounded: only those) and records what changed. */
  async function refresh(run: Run, client: ToolsClient, now: number, report: ToolsTickReport): Promise<{ run: Run; advise: boolean }> {
    const f = run.toolsFollowUp!;
    const gate = toolsAdviceGate(await readHostVersions(client), finalTargetOf(run.plan));
    const note = gate.ok ? undefined : gate.reason;
    if (!gate.ok) report.held.push({ runId: run.id, reason: gate.reason });
    const readings = gate.ok ? await readPendingTools(client, f.pending.map((e) => e.uuid)) : new Map<string, string | 'gone' | null>();
    const updated = await store.updateRun(run.id, (r) => {
      const cur = r.toolsFollowUp;
      if (!cur) throw new Moved();
      const next = applyReadings(cur, readings);
      cur.checkedAt = now;
      if (next.changed || cur.note !== note) {
        cur.pending = next.pending;
        cur.done = next.done;
        if (note === undefined) delete cur.note;
        else cur.note = note;
        if (cur.pending.length === 0 && cur.completedAt === undefined) cur.completedAt = now;
        cur.version += 1;
      }
    });
    if (updated.toolsFollowUp!.version !== f.version) report.updated.push(run.id);
    return { run: updated, advise: gate.ok };
  }

  /** Older runs' open checklists stop (their message says so) once a newer run of the pool exists. */
  async function retireOlder(runs: Run[]): Promise<void> {
    const [latest, ...older] = runs;
    for (const old of older.filter((r) => r.toolsFollowUp && !isClosed(r.toolsFollowUp))) {
      try {
        const retired = await store.updateRun(old.id, (r) => {
          if (!r.toolsFollowUp || isClosed(r.toolsFollowUp)) throw new Moved();
          r.toolsFollowUp.supersededBy = latest.id;
          r.toolsFollowUp.version += 1;
        });
        await showMessage(retired);
      } catch (err) {
        if (!(err instanceof Moved)) throw err;
      }
    }
  }

  async function followPool(pool: PoolConfig, now: number, report: ToolsTickReport): Promise<void> {
    const runs = await store.listRuns({ pool: pool.name });
    await retireOlder(runs);
    let run: Run | undefined = runs[0];
    if (!run || run.state !== 'done' || !isFinalHop(run.plan)) return; // R5.3: never after a middle hop
    const client = deps.client(pool.name);
    if (!client) return;
    const tried = lastAttempt.get(run.id);
    if (tried !== undefined && now - tried < settings.checkEveryMs) return;
    lastAttempt.delete(run.id);
    if (!run.toolsFollowUp) {
      if (run.endedAt === undefined || now - run.endedAt > settings.openWithinMs) return;
      lastAttempt.set(run.id, now); // cleared once opened
      run = await open(run, client, now, report);
      if (run) lastAttempt.delete(run.id);
      if (!run) return;
      run = await showMessage(run);
    }
    const f = run.toolsFollowUp;
    if (!f) return;
    if (isClosed(f)) {
      await showMessage(run);
      return;
    }
    const due = reminderDue(f, run.id, now, settings.remindEveryMs);
    // a reminder not sent yet is preceded by a fresh read: it must say what the pool shows now (and pass the gate)
    const dueUnsent =
      due !== undefined && f.checkedAt < f.openedAt + due.slot * settings.remindEveryMs && (await store.listNotices())[due.key] === undefined;
    let advise = f.note === undefined;
    if (now - f.checkedAt >= settings.checkEveryMs || dueUnsent) {
      lastAttempt.set(run.id, now); // a pool that does not answer is read again only after checkEveryMs
      const r = await refresh(run, client, now, report);
      lastAttempt.delete(run.id);
      run = r.run;
      advise = r.advise;
    }
    run = await showMessage(run);
    const cur = run.toolsFollowUp!;
    const stillDue = reminderDue(cur, run.id, now, settings.remindEveryMs);
    if (!stillDue || !advise) return;
    // claimed in the store before it is sent: once across restarts and replicas
    if (!(await store.claimNotice(stillDue.key, undefined, now))) return;
    report.reminded.push(run.id);
    await notifier
      .runEvent(run, reminderText(run, cur, pool))
      .catch((err: unknown) => logger.warn({ err, runId: run!.id }, 'tools: reminder failed'));
  }

  async function tickOnce(now: number): Promise<ToolsTickReport> {
    const report: ToolsTickReport = { opened: [], updated: [], reminded: [], held: [] };
    for (const pool of deps.pools) {
      try {
        await followPool(pool, now, report);
      } catch (err) {
        if (err instanceof Moved) continue;
        logger.warn({ err: (err as Error).message, pool: pool.name }, 'tools: follow-up round failed (next tick tries again)');
      }
    }
    return report;
  }

  return {
    show,
    dismiss,
    tick(now?: number) {
      const run = ticking.then(() => tickOnce(now ?? clock.now()));
      ticking = run.catch(() => undefined);
      return run;
    },
  };
}

function reminderText(run: Run, f: ToolsFollowUp, pool: PoolConfig): string {
  const names = f.pending.slice(0, 8).map((e) => e.vm).join(', ');
  const more = f.pending.length > 8 ? ` and ${f.pending.length - 8} more` : '';
  const approvers = [...pool.slack.approvers.users.map((u) => `<@${u}>`), ...pool.slack.approvers.groups.map((g) => `<!subteam^${g}>`)].join(' ');
  return (
    `Reminder (R5.1): ${f.pending.length} VM(s) of ${run.pool} still report XenServer Tools below ${shortVersion(f.needed)} (every host runs it): ${names}${more}. ` +
    `The checklist above is updated as guests report new Tools; ${approvers || 'an approver'} can dismiss it to stop these reminders.`
  );
}
