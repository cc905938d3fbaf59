/**
 * The core every interface calls (contracts §5): pools from the config, plans from a fresh snapshot, runs driven by
 * the runner's engine. Authorisation is enforced here (./authorize.ts) and every refusal is audited. Decisions that
 * race (two approvals of one gate, two starts on one pool, a stale recovery action) are settled by the store's
 * atomic updates and the pool lease: exactly one takes effect, the other is refused with the reason.
 */
import { readUpdatesInput } from '../updates/plan-input';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { loadGeneralSettings } from '../config/env';
import type { PoolConfig } from '../config/pools';
import type { Core, CoreErrorCode, CoreResult, Notifier, PoolStatus } from '../domain/ports';
import { UNFINISHED_RUN_STATES, type Actor, type Plan, type Run, type UpgradeMode } from '../domain/types';
import { readAppliedUpdates, readSnapshot, testRepository } from '../inventory';
import { readSessionPermissions } from '../inventory/rbac';
import { findTarget, loadUpgradePaths, type UpgradePathTable } from '../planner';
import { buildPlanOffLoop } from './plan-off-loop';
import { auditEvent, auditor } from '../runner/audit';
import { Engine, type PoolRuntime } from '../runner/engine';
import { isPoolUnavailable } from '../runner/errors';
import { isFenced, renewLeaseWhileHeld } from '../runner/fencing';
import { readLiveHosts } from '../runner/pool-state';
import { probeNewHost, StaleAction } from '../runner/recovery';
import type { Store } from '../store';
import { XenApiClient, XenApiConnectionError } from '../xenapi';
import { authorize, describeActor, type Decision } from './authorize';
import { lastUsableBackup } from './backups';
import { restoreRun } from './restore';
import { fail, ok } from './result';
import { runDecisions, type Audited } from './run-decisions';
import { createPoolRuntime, repositoryUrlWithCredentials } from './runtime';
import { startRefusal } from './start-checks';
import { planNextHop, resumeBetweenHops, type NextHopDeps } from './next-hop';
import { hopMediaFor } from './hop-media';
import type { ToolsClient } from '../tools/read';

export interface CoreDeps {
  pools: PoolConfig[];
  store: Store;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  clientFactory?: (pool: PoolConfig) => XenApiClient;
  ownerId?: string;
  /** beyond contracts §5, for tests and rehearsals: */
  leaseTtlMs?: number;
  /** polling interval of waits when events are not available (clock ms); default 5 s */
  pollMs?: number;
  paths?: UpgradePathTable;
  checkpoint?: (label: string) => Promise<void>;
  /**
   * Several replicas on one database (issue 16, `serve`): take over runs whose lease expired (every third of the
   * lease TTL) and follow run changes stored by other replicas (PostgreSQL NOTIFY).
   */
  followReplicas?: boolean;
  /** this process ticks the R5.1 Tools follow-up (`serve`): the run's end may promise the checklist in its thread */
  toolsFollowUp?: boolean;
}

export type CoreHandle = Core & {
  shutdown(): Promise<void>;
  recoverRuns(): Promise<void>;
  /** resolves once this process stops driving the run (tests, the CLI) */
  whenIdle(runId: string): Promise<void>;
  /** the pool's XenAPI client, for the Tools follow-up's reads (src/tools/follow-up.ts); undefined: unknown pool */
  toolsClient(pool: string): ToolsClient | undefined;
};

export function defaultOwnerId(env: NodeJS.ProcessEnv = process.env): string {
  return loadGeneralSettings(env).ownerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export async function createCore(deps: CoreDeps): Promise<CoreHandle> {
  const env = deps.env ?? process.env;
  const { store, clock, logger, notifier } = deps;
  const ownerId = deps.ownerId ?? defaultOwnerId(env);
  // validated (config/env.ts): a bad XSUPGRADE_POLL_MS refuses to start instead of flooding the pool with logins
  const pollMs = deps.pollMs ?? loadGeneralSettings(env).pollMs;
  const leaseTtlMs = deps.leaseTtlMs ?? 60_000;
  const audit = auditor(store, clock);
  const pools = new Map(deps.pools.map((p) => [p.name, p]));
  const runtimes = new Map<string, { runtime: PoolRuntime; client: XenApiClient }>();
  let paths: UpgradePathTable | undefined = deps.paths;

  const runtimeOf = (pool: string) => {
    const cfg = pools.get(pool);
    if (!cfg) return undefined;
    let rt = runtimes.get(pool);
    if (!rt) {
      // the path table resolves the pools file's hop targets (R1.4); read only for a pool that names hops
      if (cfg.hops?.length) paths ??= loadUpgradePaths();
      rt = createPoolRuntime(cfg, { store, notifier, clock, logger, env, clientFactory: deps.clientFactory, pollMs, ...(paths ? { paths } : {}), toolsFollowUp: deps.toolsFollowUp });
      runtimes.set(pool, rt);
    }
    return rt;
  };

  // R1.4: once a non-final hop is done, the next hop is planned from the live pool and posted (core/next-hop.ts)
  let nextHop: NextHopDeps | undefined;
  const onHopDone = (run: Run): void => {
    const cfg = pools.get(run.pool);
    if (!cfg || !nextHop) return;
    void planNextHop(nextHop, cfg, run.id).catch((err: unknown) => logger.error({ runId: run.id, err: (err as Error).message }, 'planning the next hop failed'));
  };
  const engine = new Engine({ store, clock, notifier, logger, ownerId, leaseTtlMs, runtime: (p) => runtimeOf(p)?.runtime, checkpoint: deps.checkpoint, onHopDone });
  const replicaWatch = deps.followReplicas ? await followReplicas(engine, store, leaseTtlMs, logger) : undefined;

  // Pinned pools: a member rejoined by forget & rejoin (R4.2) serves the certificate an approver confirmed; the run
  // that rejoined it keeps that fingerprint, and it stays trusted across restarts.
  for (const cfg of deps.pools) {
    if (cfg.tls?.mode !== 'pinned') continue;
    const confirmed = (await store.listRuns({ pool: cfg.name })).flatMap((r) =>
      r.steps.map((s) => (s.data?.replaced as { fingerprint256?: string } | undefined)?.fingerprint256).filter((fp): fp is string => !!fp),
    );
    for (const fp of confirmed) runtimeOf(cfg.name)?.runtime.trustFingerprint?.(fp);
  }

  /** one start at a time per pool in this process (across processes the lease decides) */
  const startLocks = new Map<string, Promise<unknown>>();
  /** pools whose start is under way (from its checks to its run, under the start lock) */
  const starting = new Set<string>();
  const serialised = <T>(pool: string, fn: () => Promise<T>): Promise<T> => {
    const prev = startLocks.get(pool) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    startLocks.set(pool, next.catch(() => undefined));
    return next;
  };

  const refuse = async <T>(runId: string, actor: Actor, code: CoreErrorCode, error: string): Promise<CoreResult<T>> => {
    await audit(runId, 'refused', actor.userId, error, { source: actor.source, code }).catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'audit of a refusal failed'));
    return fail(code, error);
  };

  const authorized = async (pool: PoolConfig, actor: Actor, decision: Decision, run?: Run): Promise<CoreResult<void>> => {
    const a = authorize(pool, actor, decision, run);
    if (a.ok) return ok(undefined);
    return refuse(run?.id ?? `pool:${pool.name}`, actor, 'forbidden', `${decision} refused: ${a.reason}`);
  };

  /** Load the run and its pool, then authorise; the common prologue of every run decision. */
  const forRun = async (runId: string, actor: Actor, decision: Decision): Promise<CoreResult<{ run: Run; pool: PoolConfig }>> => {
    const run = await store.getRun(runId);
    if (!run) return fail('not-found', `no run ${runId}`);
    const pool = pools.get(run.pool);
    if (!pool) return fail('not-found', `pool ${run.pool} of run ${runId} is not configured`);
    const auth = await authorized(pool, actor, decision, run);
    if (!auth.ok) return auth;
    // what the action reads or does on the pool goes to the run's pool only (a restarted bot's client has not met
    // it). Only while the run is unfinished: the pool has no other run then, and a click on an old run's button does
    // not bind the pool's client to a pool since rebuilt
    if (run.poolUuid && UNFINISHED_RUN_STATES.includes(run.state)) runtimeOf(run.pool)?.client.expectPool(run.poolUuid);
    return ok({ run, pool });
  };

  /**
   * A human's (or a window's) decision on a run, as a CAS update whose guard failures become 'conflict' refusals
   * (audited). The change and its audit event (`audited`, from the changed run) are written in one transaction, so
   * that no decision is ever recorded without who made it, even if the bot dies right after.
   */
  const cas = async (run: Run, actor: Actor, mutate: (r: Run) => void, audited: (r: Run) => Audited): Promise<CoreResult<Run>> => {
    try {
      const audit = (r: Run) => {
        const a = audited(r);
        return auditEvent(clock, run.id, a.kind, actor.userId, a.message, a.detail);
      };
      return ok(await store.updateRun(run.id, mutate, { audit }));
    } catch (err) {
      if (err instanceof StaleAction) return refuse(run.id, actor, 'conflict', err.message);
      throw err;
    }
  };

  const makePlan = async (cfg: PoolConfig, opts: { target?: string; mode?: UpgradeMode }, how: { forStart?: boolean } = {}): Promise<Plan> => {
    const rt = runtimeOf(cfg.name)!;
    // a start has just found no unfinished run under its lease (the active-run precheck is the lease's job there)
    const unfinished = how.forStart ? undefined : (await store.listRuns({ pool: cfg.name, states: UNFINISHED_RUN_STATES }))[0];
    // no unfinished run binds the client to the pool it started on: the pools file's address is the operator's word,
    // and the pool that answers there now is planned, even one rebuilt under a new uuid (a run from the plan records
    // it). Not while a start of the pool is under way, other than this one: that start records the uuid it read
    if (!unfinished && (how.forStart || !starting.has(cfg.name))) rt.client.forgetPool();
    const snapshot = await readSnapshot(rt.client, clock);
    // the pool user's RBAC permissions: a missing one blocks the plan instead of failing mid-run (issue 14)
    const permissions = await readSessionPermissions(rt.client);
    const mode = opts.mode ?? cfg.upgrade.mode;
    paths ??= loadUpgradePaths();
    // R1.4: a plan that is an intermediate hop runs with that hop's media (the pools file's hops), tested as its own
    const media = hopMediaFor(cfg, paths, snapshot, opts.target ?? cfg.target, mode, await store.listRuns({ pool: cfg.name }));
    let repository: { url: string; testResults?: Record<string, { ok: boolean; error?: string }> } | undefined;
    if (media.upgrade?.mode === 'automatic' && (media.intermediate || mode === 'automatic')) {
      const withCreds = repositoryUrlWithCredentials({ upgrade: media.upgrade }, env)!;
      const live = snapshot.hosts.filter((h) => h.live).map((h) => h.ref);
      repository = { url: media.upgrade.repositoryUrl, testResults: await testRepository(rt.client, live, withCreds), ...(await readAppliedUpdates(rt.client, live)) };
    }
    const backup = snapshot.pool.rollingUpgradeInProgress ? await lastUsableBackup((f) => store.listRuns(f), cfg.name) : undefined;
    // R3.10: the update repository's ISOs and what each host has applied (read here; the planner is pure)
    const updates = cfg.updateRepository ? await readUpdatesInput(rt.client, cfg.updateRepository) : undefined;
    // a large pool is planned in a worker thread: seconds of planning must not hold Slack acks (issue 13)
    return buildPlanOffLoop(snapshot, {
      ...(backup ? { lastUsableBackup: backup } : {}),
      ...(updates ? { updates } : {}),
      pool: cfg.name,
      target: opts.target ?? cfg.target,
      mode,
      returnPolicy: cfg.returnPolicy,
      paths,
      repository,
      activeRunId: unfinished?.id,
      permissions,
      sanBootHosts: cfg.sanBootHosts ?? [],
      ...media.planOptions,
    });
  };
  nextHop = { store, clock, logger, audit, makePlan: (cfg, o) => makePlan(cfg, o), notify: (r, what, fn) => engine.notify(r, what, fn) };

  /**
   * Concurrent plan requests for the same pool, target and mode share one pool read: a burst of `/xsupgrade plan`
   * (a whole team asking at once) costs one snapshot, not one each, and keeps the bot responsive.
   */
  const plansInFlight = new Map<string, Promise<Plan>>();
  const sharedPlan = (cfg: PoolConfig, opts: { target?: string; mode?: UpgradeMode }): Promise<Plan> => {
    const key = `${cfg.name}|${opts.target ?? cfg.target}|${opts.mode ?? cfg.upgrade.mode}`;
    let pending = plansInFlight.get(key);
    if (!pending) {
      pending = makePlan(cfg, opts).finally(() => plansInFlight.delete(key));
      plansInFlight.set(key, pending);
    }
    return pending;
  };

  const unavailable = <T>(pool: string, err: unknown): CoreResult<T> => {
    // another pool answered at the address (EFOREIGNPOOL): the client is bound only while a run of this pool is
    // unfinished (makePlan forgets the pool otherwise), so that run is why
    if (err instanceof XenApiConnectionError && err.code === 'EFOREIGNPOOL') {
      return fail('unavailable', `pool ${pool}: ${err.message}. While a run of ${pool} is unfinished, the bot reads only the pool that run started on: finish or abort it before planning the pool that answers there now`);
    }
    if (isPoolUnavailable(err)) return fail('unavailable', `pool ${pool} is unreachable: ${(err as Error).message}`);
    throw err;
  };

  /**
   * The target a plan was made for (`/xsupgrade plan <pool> <target>` may name another than the pools file's): the
   * start re-makes the plan towards it, else an unchanged pool would read as "changed since plan …".
   */
  const plannedTarget = (plan: Plan, cfg: PoolConfig): string => {
    paths ??= loadUpgradePaths();
    const planned = plan.target.product ? findTarget(paths, plan.target.product) : undefined;
    return planned && planned.id !== findTarget(paths, cfg.target)?.id ? planned.id : cfg.target;
  };

  /** a start, under the pool's start lock: its checks, the lease, the plan re-made from the live pool, then the run */
  const startRun = async (poolName: string, opts: Parameters<Core['start']>[1], actor: Actor): Promise<CoreResult<Run>> => {
    const cfg = pools.get(poolName);
    if (!cfg) return fail('not-found', `no pool named ${poolName}`);
    const auth = await authorized(cfg, actor, 'start');
    if (!auth.ok) return auth;
    const refuseStart = (code: CoreErrorCode, error: string) => refuse<Run>(`pool:${cfg.name}`, actor, code, `start refused: ${error}`);
    const latest = await store.getLatestPlan(cfg.name);
    if (!latest) return refuseStart('not-found', `pool ${cfg.name} has no plan yet: make one first`);
    const stale = startRefusal(cfg.name, latest, await store.listRuns({ pool: cfg.name }), opts);
    if (stale) return refuseStart(stale.code, stale.error);
    const active = (await store.listRuns({ pool: cfg.name, states: UNFINISHED_RUN_STATES }))[0];
    if (active) return refuseStart('conflict', `run ${active.id} is already active on ${cfg.name} (${active.state})`);
    // the lease first (one active run per pool across processes), then the re-validation under it
    const now = clock.now();
    const runId = await store.nextRunId(cfg.name, now);
    const lease = await store.acquireLease(cfg.name, ownerId, runId, leaseTtlMs, now);
    if (!lease.ok) return refuseStart('conflict', `run ${lease.runId} is active on ${cfg.name} (held by ${lease.holder})`);
    // the re-validation below can outlast the lease (a slow pool, a repository test per host): the lease is renewed
    // meanwhile, and the run is written only while it is still this start's (createRun fenced). Else another replica's
    // start, taking over an expired lease, and this one would both create a run of the pool
    const fence = { pool: cfg.name, owner: ownerId, token: lease.token };
    const renewal = new AbortController();
    const renewing = renewLeaseWhileHeld({ store, clock, pool: cfg.name, owner: ownerId, ttlMs: leaseTtlMs, token: lease.token, signal: renewal.signal });
    const stopRenewing = async () => {
      renewal.abort();
      await renewing;
    };
    const release = async () => {
      await stopRenewing();
      await store.releaseLease(cfg.name, ownerId, lease.token);
    };
    const again = (await store.listRuns({ pool: cfg.name, states: UNFINISHED_RUN_STATES }))[0];
    if (again) {
      await release();
      return refuseStart('conflict', `run ${again.id} is already active on ${cfg.name} (${again.state})`);
    }
    // re-validated against the pool as it is now: a plan made on an older state is not executed
    let fresh: Plan;
    try {
      // a hop of a chain is re-made towards its final target (its own mode comes from the pools file's hops, R1.4)
      fresh = await makePlan(cfg, latest.finalTarget ? { target: latest.finalTarget } : { target: plannedTarget(latest, cfg), mode: latest.mode }, { forStart: true });
    } catch (err) {
      await release();
      return unavailable(cfg.name, err);
    }
    if (fresh.id !== latest.id) {
      await release();
      await store.savePlan(cfg.name, fresh);
      return refuseStart('conflict', `pool ${cfg.name} changed since plan ${latest.id.slice(0, 12)}; the new plan is ${fresh.id.slice(0, 12)}: review it and start again`);
    }
    const poolUuid = runtimeOf(cfg.name)!.client.poolUuid;
    const run: Run = {
      id: runId,
      pool: cfg.name,
      plan: latest,
      planHash: latest.id,
      requestedBy: actor.userId,
      state: 'running',
      steps: latest.steps.map((s) => ({ id: s.id, kind: s.kind, state: 'pending', attempts: 0, ...(s.host ? { host: s.host, hostName: s.hostName } : {}) })),
      approvals: [],
      createdAt: now,
      updatedAt: now,
      revision: 0,
      slack: { channel: cfg.slack.channel },
      // the pool the plan was just read from: after a restart, the run is driven on this pool only
      ...(poolUuid ? { poolUuid } : {}),
    };
    const started = auditEvent(clock, run.id, 'state', actor.userId, `run ${run.id} started by ${describeActor(actor)} from plan ${latest.id.slice(0, 12)}`, {
      plan: latest.id,
      ...(actor.window ? { window: actor.window } : {}),
    });
    try {
      await store.createRun(run, { audit: started, fence });
    } catch (err) {
      await stopRenewing();
      if (!isFenced(err)) throw err;
      const holder = (await store.getLease(cfg.name).catch(() => undefined))?.owner ?? 'nobody';
      return refuseStart('conflict', `the pool's lease passed to ${holder} while the plan was re-validated (it took longer than the lease, XSUPGRADE_LEASE_TTL_SECONDS): nothing was started; check the pool's runs, then start again`);
    }
    await stopRenewing(); // the run's loop holds the lease from here (engine.drive)
    await markNextHopStarted(store, cfg.name, run);
    engine.notify(run, 'runStarted', (n) => n.runStarted(run));
    engine.drive(run.id);
    return ok(run);
  };

  const decisions = runDecisions({ store, clock, engine, forRun, cas, refuse, audit, runtime: runtimeOf });

  const core: CoreHandle = {
    async listPools(): Promise<PoolStatus[]> {
      return Promise.all(
        deps.pools.map(async (p) => {
          const runs = await store.listRuns({ pool: p.name });
          const active = runs.find((r) => UNFINISHED_RUN_STATES.includes(r.state));
          const plan = await store.getLatestPlan(p.name);
          return {
            name: p.name,
            channel: p.slack.channel,
            target: p.target,
            mode: p.upgrade.mode,
            ...(active ? { activeRun: { id: active.id, state: active.state } } : {}),
            ...(plan ? { lastPlan: { id: plan.id, executable: plan.executable, createdAt: plan.createdAt } } : {}),
          };
        }),
      );
    },

    async plan(poolName, opts, actor) {
      const cfg = pools.get(poolName);
      if (!cfg) return fail('not-found', `no pool named ${poolName} (configured: ${[...pools.keys()].join(', ')})`);
      try {
        const plan = await sharedPlan(cfg, opts);
        await store.savePlan(cfg.name, plan);
        logger.info({ pool: cfg.name, plan: plan.id.slice(0, 12), by: actor.userId, executable: plan.executable }, 'plan made');
        return ok(plan);
      } catch (err) {
        return unavailable(cfg.name, err);
      }
    },

    start(poolName, opts, actor) {
      return serialised(poolName, () => {
        starting.add(poolName);
        return startRun(poolName, opts, actor).finally(() => starting.delete(poolName));
      });
    },

    ...decisions,

    restore(runId, actor) {
      return restoreRun(
        { store, clock, ownerId, leaseTtlMs, forRun, client: (p) => runtimeOf(p)?.client, audit, refuse, notify: (r, what, fn) => engine.notify(r, what, fn), logger },
        runId,
        actor,
      );
    },

    async probeNewHost(runId, stepId, address, actor) {
      const got = await forRun(runId, actor, 'recover');
      if (!got.ok) return got;
      const { run } = got.value;
      const step = run.steps.find((s) => s.id === stepId);
      if (!step) return refuse(runId, actor, 'not-found', `run ${runId} has no step ${stepId}`);
      const res = await probeNewHost(runtimeOf(run.pool)!.runtime, run, step, address);
      if (!res.ok) return refuse(runId, actor, res.code, res.error);
      await audit(runId, 'recovery', actor.userId, `forget-rejoin: ${actor.userId} looked at ${address} for ${step.id}${res.value.certificate ? ` (certificate sha256 ${res.value.certificate.fingerprint256})` : ' (plain http)'}`, { step: step.id, address });
      return ok(res.value);
    },

    async liveHosts(poolName) {
      const rt = runtimeOf(poolName);
      if (!rt) return fail('not-found', `no pool named ${poolName}`);
      try {
        const live = await readLiveHosts(rt.client);
        return ok(live.hosts.map((h) => ({ name: h.name, product: h.product, build: h.build, enabled: h.enabled, live: h.live })));
      } catch (err) {
        return fail('unavailable', `pool ${poolName} could not be read: ${(err as Error).message}`);
      }
    },

    async getRun(runId) {
      return store.getRun(runId);
    },

    async status(poolOrRun) {
      if (!poolOrRun) {
        const out: Run[] = [];
        for (const p of deps.pools) {
          const runs = await store.listRuns({ pool: p.name });
          const pick = runs.find((r) => UNFINISHED_RUN_STATES.includes(r.state)) ?? runs[0];
          if (pick) out.push(pick);
        }
        return out;
      }
      if (pools.has(poolOrRun)) {
        const runs = await store.listRuns({ pool: poolOrRun });
        const pick = runs.find((r) => UNFINISHED_RUN_STATES.includes(r.state)) ?? runs[0];
        return pick ? [pick] : [];
      }
      const run = await store.getRun(poolOrRun);
      return run ? [run] : [];
    },

    async history(pool, limit = 10) {
      return (await store.listRuns({ pool })).slice(0, limit);
    },

    async shutdown() {
      replicaWatch?.stop();
      await engine.shutdown();
      for (const { client } of runtimes.values()) await client.logout().catch(() => undefined);
    },

    async recoverRuns() {
      await engine.recoverRuns();
      // R1.4: a restart between two hops re-plans the next hop, or announces its plan again
      await resumeBetweenHops(nextHop!, pools);
    },

    whenIdle: (runId) => engine.whenIdle(runId),
    toolsClient: (pool) => runtimeOf(pool)?.client,
  };
  return core;
}

/** The periodic take-over of orphaned runs and the change feed, for `serve` with several replicas. */
async function followReplicas(engine: Engine, store: Store, leaseTtlMs: number, logger: Logger): Promise<{ stop(): void }> {
  const unlisten = await store.onRunChanged((runId) => engine.onRunChanged(runId));
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    engine
      .adoptOrphans()
      .then((ids) => ids.length > 0 && logger.warn({ runs: ids }, 'runs whose lease expired: taking them over'))
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'looking for runs to take over failed; will retry'))
      .finally(() => (sweeping = false));
  }, Math.max(250, leaseTtlMs / 3));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      unlisten();
    },
  };
}

/** Starting the plan a non-final hop's run posted: that run's `nextHop` records the run that continues it (R1.4). */
async function markNextHopStarted(store: Store, pool: string, run: Run): Promise<void> {
  // the plan the bot posted, or one made by hand that continues the chain (its hops name the earlier run as done)
  const continues = (r: Run) =>
    (r.nextHop?.planId === run.planHash && r.nextHop.planMadeAt === run.plan.createdAt) || !!run.plan.hops?.some((h) => h.status === 'done' && h.runId === r.id);
  const previous = (await store.listRuns({ pool, states: ['done'] })).find((r) => r.nextHop && r.nextHop.state !== 'started' && continues(r));
  if (!previous) return;
  await store.updateRun(previous.id, (r) => {
    if (r.nextHop && r.nextHop.state !== 'started') r.nextHop = { ...r.nextHop, state: 'started', runId: run.id, at: run.createdAt };
  });
}
