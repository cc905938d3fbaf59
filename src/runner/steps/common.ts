/** Helpers shared by the step modules. */
import { compareVersions } from '../../domain/versions';
import type { HostPlan, Ref, Run, StepError } from '../../domain/types';
import { XenApiError, XenApiTaskLostError } from '../../xenapi/errors';
import { isInterruption, isPoolUnavailable, StepFailure, toStepError } from '../errors';
import { describeHost, operationInProgress, readVmNow, type LiveHost, type LiveHosts, type LiveVm } from '../pool-state';
import type { PoolClient } from '../ports';
import type { StepContext } from '../step';

/** The (possibly replaced, R4.2) host ref this host step acts on. */
export function stepHostRef(ctx: StepContext): Ref {
  const ref = ctx.planStep.host ?? ctx.step.host;
  if (!ref) throw new StepFailure(`step ${ctx.step.id} has no host`);
  return ctx.resolveHost(ref);
}

export function stepHostName(ctx: StepContext): string {
  return ctx.planStep.hostName ?? ctx.step.hostName ?? ctx.step.id.split(':')[0] ?? '?';
}

/** The step's host among `hosts` (any view of them), or a failure listing the members there are. */
export function requireMember<H extends { ref: Ref }>(ctx: StepContext, hosts: H[], describe: (h: H) => string): H {
  const ref = stepHostRef(ctx);
  const host = hosts.find((h) => h.ref === ref);
  if (!host) {
    throw new StepFailure(`${stepHostName(ctx)} is no longer a member of the pool`, {
      observed: [`host ${ref} not in host.get_all_records`, ...hosts.map(describe)],
    });
  }
  return host;
}

export function requireHost(ctx: StepContext, pool: LiveHosts): LiveHost {
  return requireMember(ctx, pool.hosts, describeHost);
}

/** Is the host on the plan's target: product version (numerically) and build when the plan names one. */
export function isOnTarget(host: Pick<LiveHost, 'product' | 'build'>, to: HostPlan['to']): boolean {
  if (compareVersions(host.product, to.product) !== 0) return false;
  return !to.build || to.build === host.build;
}

export function versionText(v: { product: string; build?: string }): string {
  return `${v.product || '?'}${v.build ? ` build ${v.build}` : ''}`;
}

/** Run `fn` over items with at most `limit` in flight; all results, failures included, in input order. */
export async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Serialises saves of one growing object so concurrent workers never overwrite each other's entries. */
export function serialSaver(ctx: StepContext, key: string, initial: Record<string, unknown>) {
  const value: Record<string, unknown> = { ...initial };
  let chain: Promise<void> = Promise.resolve();
  return {
    value,
    set(k: string, v: unknown): Promise<void> {
      value[k] = v;
      chain = chain.then(() => ctx.saveData({ [key]: { ...value } }));
      return chain;
    },
  };
}

export interface VmMove {
  vm: Ref;
  vmName: string;
  to: Ref;
  toName: string;
}

/** VM.current_operations values of a migration in progress (its keys are the task refs) */
const MIGRATE_OPS = new Set(['pool_migrate', 'migrate_send']);

/**
 * The VM as the pool shows it once no migration is in progress on it (undefined: it no longer exists). A migration
 * already in flight (the run's own whose answer was lost, or another client's: XenCenter, xe vm-migrate) is followed
 * to its end through its task, then the VM is read again; sending a second one would only be refused with
 * OTHER_OPERATION_IN_PROGRESS (reference G1, lifecycle check). The task is kept (keep: true), not destroyed: nothing
 * shows it is the run's. Its failure is not the step's answer (it may be another client's): only where the VM is
 * afterwards counts, so a task that failed, or was lost in a master restart, is said and the VM read again.
 */
export async function followMigrationInFlight(client: PoolClient, ctx: StepContext, m: VmMove): Promise<LiveVm | undefined> {
  const followed = new Set<string>();
  for (;;) {
    const vm = await readVmNow(client, m.vm, m.vmName);
    if (!vm) return undefined;
    const { task, op } = operationInProgress(vm, MIGRATE_OPS, followed) ?? {};
    if (!task) return vm;
    if (!client.waitForTask) throw new Error(`this client cannot follow tasks: the migration of ${m.vmName} in progress (task ${task}) is not followed`);
    followed.add(task);
    await ctx.audit(`${m.vmName}: a migration is already in progress on it (${op}, task ${task}); following it to its end, no second migration sent`, { vm: m.vm, task, operation: op });
    try {
      await client.waitForTask(task, { keep: true, signal: ctx.signal }); // an abort stops following it at once
    } catch (err) {
      if (!(err instanceof XenApiError) && !(err instanceof XenApiTaskLostError)) throw err;
      await ctx.audit(`${m.vmName}: the migration in progress (task ${task}) ended without success (${err.message}); reading where the VM is now`, { vm: m.vm, task });
    }
  }
}

/**
 * Live-migrate each VM (Async.VM.pool_migrate, audited through ctx.act), at most `limit` at a time; `issuing` is
 * awaited before each call and `moved` after each success (to record them) before the named checkpoint. Returns the
 * migrations that failed. With `inFlight`, each VM is read just before its call: a migration already in progress on
 * it is followed to its end (followMigrationInFlight) and `settled` judges the VM by where it is then; when it
 * answers true, nothing is sent for that VM (the step records it as it sees fit).
 */
export async function migrateVms(
  ctx: StepContext,
  limit: number,
  moves: VmMove[],
  opts: {
    checkpoint: string;
    issuing?: (m: VmMove) => Promise<void>;
    moved?: (m: VmMove) => Promise<void>;
    inFlight?: { client: PoolClient; settled: (m: VmMove, vm: LiveVm | undefined) => Promise<boolean> };
  },
): Promise<Array<{ move: VmMove; err: StepError }>> {
  const results = await mapLimited(moves, limit, async (m) => {
    if (opts.inFlight && (await opts.inFlight.settled(m, await followMigrationInFlight(opts.inFlight.client, ctx, m)))) {
      await ctx.checkpoint(opts.checkpoint);
      return;
    }
    await opts.issuing?.(m);
    await ctx.act('VM.pool_migrate', [m.vm, m.to, { live: 'true' }], `${m.vmName} → ${m.toName}`, { async: true });
    await opts.moved?.(m);
    await ctx.checkpoint(opts.checkpoint);
  });
  // an interrupted run (aborted elsewhere, lease lost, shutdown) stops here: that is not a migration failure
  ctx.signal.throwIfAborted();
  const interrupted = results.find((r) => r.status === 'rejected' && isInterruption(r.reason, ctx.signal));
  if (interrupted) throw (interrupted as PromiseRejectedResult).reason;
  // no answer at all (a reply lost with its connection, a task lost in a master restart): whether the migrations
  // ran is unknown, so this is not a failed migration. The step fails as the pool being unavailable, and the engine
  // re-runs it once the pool answers: it reads where each VM is first, and never re-sends one that moved
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected.length > 0 && rejected.every((r) => isPoolUnavailable(r.reason))) throw rejected[0]!.reason;
  return results.flatMap((r, i) => (r.status === 'rejected' ? [{ move: moves[i]!, err: toStepError(r.reason) }] : []));
}

/** The failure of a step whose migrations failed: each VM → target with its XenAPI code; the first one's code kept. */
export function migrationFailure(what: string, total: number, failed: Array<{ move: VmMove; err: StepError }>): StepFailure {
  const first = failed[0]!;
  return new StepFailure(`${failed.length} of ${total} migration(s) ${what} failed; first: ${first.move.vmName}: ${first.err.message}`, {
    code: first.err.code,
    params: first.err.params,
    observed: failed.map((f) => `${f.move.vmName} → ${f.move.toName}: ${f.err.code ?? ''} ${f.err.message}`.trim()),
  });
}

/** The planned refs of the hosts a skip-host left behind (any of their steps skipped). */
export function skippedHostRefs(run: Run): Ref[] {
  return [...new Set(run.steps.filter((s) => s.state === 'skipped' && s.host).map((s) => s.host!))];
}

/**
 * R3.1 with skipped hosts: a host skipped after a failed upgrade that is still offline counts as a host down, so no
 * other host may go down until it is back or forgotten. Fails at once with what the operator can do.
 */
export function assertNoSkippedHostOffline(ctx: StepContext, pool: LiveHosts, name: string): void {
  const skipped = new Set(skippedHostRefs(ctx.run).map((ref) => ctx.resolveHost(ref)));
  const offline = pool.hosts.filter((h) => skipped.has(h.ref) && !h.live);
  if (offline.length === 0) return;
  const names = offline.map((h) => h.name).join(', ');
  throw new StepFailure(
    `${names} was skipped and is still offline, so ${name} cannot go down too (R3.1: one host offline at a time). ` +
      `Bring ${names} back, or forget it (xe host-forget) and rejoin it later, then Retry.`,
    { observed: offline.map(describeHost) },
  );
}

