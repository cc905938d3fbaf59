/**
 * Take the host down into its upgrade. NEVER twice: the marker "shutdown issued" (with boot_time and version
 * before) is written BEFORE host.reboot/host.shutdown is called. On a re-run the marker is reconciled against the
 * pool's real state: host gone from the live set, or boot_time changed → it was issued, done. A reboot/shutdown in
 * the host's current_operations is in progress (7.6 runs prepare_for_poweroff before it answers, the host live with
 * its old boot_time meanwhile, reference C4): it is followed, never sent again. Only when the host is still live with
 * the same boot_time and no power operation in progress for a grace period is the call known not to have gone out.
 *
 * - automatic (R3.9): host.call_plugin prepare_host_upgrade.py main {url}, then host.reboot into the installer
 * - manual (R3.7): host.shutdown; the operator boots the installer and chooses Upgrade
 * - update (R1.3): pool_update.precheck + apply on the host, then host.reboot
 */
import type { LiveHost, LivePool } from '../pool-state';
import { describeHost, readLiveHosts, readLivePoolFor, vmsOn } from '../pool-state';
import { StepFailure, isPoolUnavailable, xenErrorCode, xenErrorParams } from '../errors';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';
import { longCall } from '../long-call';
import { assertNoSkippedHostOffline, isOnTarget, requireHost, stepHostName, stepHostRef } from './common';

export interface UpgradeData {
  prepared?: boolean;
  updateApplied?: boolean;
  shutdownIssued?: boolean;
  method?: 'host.reboot' | 'host.shutdown';
  bootTimeBefore?: string | null;
  versionBefore?: { product: string; platform: string; build: string };
  issuedAt?: number;
}

/** how long a host may keep answering with the same boot_time after a reboot was issued (clock ms) */
export const SHUTDOWN_GRACE_MS = 5 * 60_000;

type Verdict = 'issued' | 'not-issued';

/**
 * host.current_operations values (its keys are the task refs) of a power operation: reboot and shutdown exclude each
 * other (reference C3), so either one in progress means the host is being taken down.
 */
const POWER_OPS = new Set(['reboot', 'shutdown']);

/** The power operations in progress on the host, as "op (task ref)". */
const powerOpsOf = (h: LiveHost): string[] => Object.entries(h.operations).filter(([, op]) => POWER_OPS.has(op)).map(([task, op]) => `${op} (task ${task})`);

/**
 * Was the shutdown recorded in `data` really issued? Decided from the pool's state, never by re-issuing.
 * - host gone from the live set, or boot_time changed: issued;
 * - a reboot/shutdown in the host's current_operations: in progress (reference C4: the host stays live with its old
 *   boot_time while prepare_for_poweroff runs, a hung PBD unplug can make that minutes): followed, never sent again,
 *   and the grace counts from the last time it was seen (the op ends when the call answers, ≥10 s before the host goes
 *   down, C4); still there after the mode's host timeout: the step fails, nothing is sent;
 * - live, same boot_time and no power operation in progress for the whole grace: it did not go out.
 */
export async function reconcileIssued(deps: StepDeps, ctx: StepContext, data: UpgradeData, isMaster: boolean): Promise<Verdict> {
  const ref = stepHostRef(ctx);
  const started = deps.clock.now();
  let deadline = started + SHUTDOWN_GRACE_MS;
  let lastSeenInProgress: string[] = [];
  for (;;) {
    ctx.signal.throwIfAborted();
    // "not issued" needs evidence: the host seen live with the same boot_time, no power op in progress, after the grace
    let seenUnchanged = false;
    try {
      const pool = await readLiveHosts(deps.client);
      const h = pool.hosts.find((x) => x.ref === ref);
      if (!h || !h.live || h.bootTime !== (data.bootTimeBefore ?? null)) return 'issued';
      const powerOps = powerOpsOf(h);
      if (powerOps.length > 0) {
        const limitMs = deps.config.hostTimeoutMs[ctx.run.plan.mode];
        if (deps.clock.now() - started >= limitMs) {
          throw new StepFailure(
            `${stepHostName(ctx)}'s ${data.method ?? 'shutdown'} is still in progress on the pool after ${Math.round(limitMs / 60_000)} min, the host live with the same boot_time; it is not sent again. Retry follows it again.`,
            { code: 'SHUTDOWN_IN_PROGRESS', observed: [`host.current_operations: ${powerOps.join(', ')}`, `boot_time ${h.bootTime ?? 'none'} unchanged`] },
          );
        }
        // in progress (C4): it went out; the grace starts again once it is no longer shown
        lastSeenInProgress = powerOps;
        deadline = deps.clock.now() + SHUTDOWN_GRACE_MS;
      } else {
        seenUnchanged = true;
      }
    } catch (err) {
      if (!isPoolUnavailable(err)) throw err;
      // the master does not answer: it is going down (or already rebooting) — it was issued
      if (isMaster) return 'issued';
    }
    if (deps.clock.now() >= deadline) {
      if (seenUnchanged) return 'not-issued';
      // never guess: an unreachable pool says nothing about whether the shutdown went out
      throw new StepFailure(`the pool did not answer, so whether ${stepHostName(ctx)}'s ${data.method ?? 'shutdown'} went out is unknown; it is not sent again`, {
        code: 'SHUTDOWN_UNKNOWN',
        observed: [
          `pool unreachable for ${Math.round(SHUTDOWN_GRACE_MS / 60_000)} min`,
          ...(lastSeenInProgress.length > 0 ? [`last seen in host.current_operations before: ${lastSeenInProgress.join(', ')}`] : []),
        ],
      });
    }
    await deps.clock.sleep(deps.config.pollMs, ctx.signal);
  }
}

function assertSafeToTakeDown(ctx: StepContext, pool: LivePool, host: LiveHost): void {
  const name = host.name;
  if (!host.live) throw new StepFailure(`${name} is not live before its upgrade`, { observed: [describeHost(host)] });
  if (host.enabled) throw new StepFailure(`${name} is still enabled; it must be disabled first (R3.3)`, { observed: [describeHost(host)] });
  const vms = vmsOn(pool, host.ref);
  if (vms.length > 0) {
    throw new StepFailure(`${vms.length} VM(s) still run on ${name}; refusing to take it down`, { observed: vms.map((v) => `${v.name}: ${v.powerState}`) });
  }
  assertNoSkippedHostOffline(ctx, pool, name);
  const down = pool.hosts.filter((h) => h.ref !== host.ref && !h.live);
  if (down.length > 0) {
    throw new StepFailure(`another host is offline; only one host may be down at a time (R3.1)`, { observed: down.map(describeHost) });
  }
  if (!host.isMaster) {
    const master = pool.hosts.find((h) => h.isMaster);
    const masterPlan = ctx.run.plan.hosts.find((h) => h.isMaster);
    if (master && masterPlan && !isOnTarget(master, masterPlan.to)) {
      throw new StepFailure(`the master must be upgraded first (R3.2)`, { observed: [describeHost(master)] });
    }
  }
}

/** The media of the run's target: an intermediate hop's from the pools file's `hops` (R1.4), else the pool's own. */
export function mediaFor(deps: StepDeps, ctx: StepContext): { repositoryUrl?: string; update?: string } {
  const hop = deps.config.hopMedia?.[ctx.run.plan.target.product];
  return hop ?? { repositoryUrl: deps.config.repositoryUrl, update: deps.config.update };
}

async function prepareAutomatic(deps: StepDeps, ctx: StepContext, host: LiveHost): Promise<void> {
  const url = mediaFor(deps, ctx).repositoryUrl;
  if (!url) throw new StepFailure('automatic mode needs a repository URL in the pool config (upgrade.repositoryUrl)');
  let result: unknown;
  try {
    // minutes (download + repack of the installer): Async with its task followed; never a second main while the
    // first may still write /boot/installer (reference top 1)
    const call = await longCall(deps, ctx, {
      key: 'prepareCall',
      method: 'host.call_plugin',
      params: [host.ref, 'prepare_host_upgrade.py', 'main', { url }],
      target: `${host.name} (prepare_host_upgrade.py main)`,
      budgetMs: slowCallMs(deps),
      // nothing in XenAPI shows a staged installer
      reconcile: async () => 'unknown',
      checkBeforeRetry: `On ${host.name}'s console, make sure no prepare_host_upgrade.py process still runs (ps ax | grep prepare_host_upgrade).`,
    });
    result = call.sent ? call.result : 'true';
  } catch (err) {
    const code = xenErrorCode(err);
    if (code === undefined) throw err;
    // the plugin may echo the URL: the client already removed its repository credentials (R3.9, xenapi/redact.ts)
    const params = xenErrorParams(err);
    const why = code === 'XENAPI_PLUGIN_FAILURE' ? params[2] || params[1] || params[0] || 'plugin failure' : `${code} ${params.join(' ')}`;
    throw new StepFailure(`preparing ${host.name} for the upgrade failed: ${why}`, { code, params });
  }
  if (String(result) !== 'true') throw new StepFailure(`prepare_host_upgrade.py main answered "${String(result)}" instead of "true" on ${host.name}`);
  await ctx.saveData({ prepared: true });
}

export const slowCallMs = (deps: StepDeps): number => deps.config.slowCallMs ?? 2 * 3600_000;

/** The update's pool_update ref; introduced from its uploaded ISO (VDI "<name>" or "<name>.iso") when needed. */
async function findOrIntroduceUpdate(deps: StepDeps, ctx: StepContext, wanted: string): Promise<string> {
  const updates = (await deps.client.call<Record<string, { uuid?: string; name_label?: string }>>('pool_update.get_all_records')) ?? {};
  const found = Object.entries(updates).find(([, u]) => u.uuid === wanted || u.name_label === wanted);
  if (found) return found[0];
  const vdis = (await deps.client.call<Record<string, { name_label?: string }>>('VDI.get_all_records')) ?? {};
  const iso = Object.entries(vdis).find(([, v]) => v.name_label === wanted || v.name_label === `${wanted}.iso`);
  if (!iso) {
    throw new StepFailure(`update "${wanted}" is neither introduced nor uploaded to the pool; upload it first (xe update-upload)`, {
      observed: [`pool updates: ${Object.values(updates).map((u) => u.name_label).join(', ') || 'none'}`],
    });
  }
  try {
    return await ctx.act<string>('pool_update.introduce', [iso[0]], `${wanted} (from ${iso[1].name_label})`);
  } catch (err) {
    if (xenErrorCode(err) !== 'UPDATE_ALREADY_EXISTS') throw err;
    const again = (await deps.client.call<Record<string, { uuid?: string }>>('pool_update.get_all_records')) ?? {};
    const ref = Object.entries(again).find(([, u]) => u.uuid === xenErrorParams(err)[0])?.[0];
    if (!ref) throw err;
    return ref;
  }
}

async function applyUpdate(deps: StepDeps, ctx: StepContext, host: LiveHost): Promise<void> {
  const wanted = mediaFor(deps, ctx).update;
  if (!wanted) throw new StepFailure('update mode needs the update in the pool config (upgrade.updateIso)');
  const updateRef = await findOrIntroduceUpdate(deps, ctx, wanted);
  try {
    // both run the host's update scripts (minutes): Async, followed under a deadline (reference top 1); through act,
    // so a runner taken over or aborted sends no precheck and leaves its task alone (issue 16)
    await ctx.act('pool_update.precheck', [updateRef, host.ref], `${wanted} on ${host.name}`, { async: true, deadlineMs: deps.clock.now() + slowCallMs(deps) });
    await longCall(deps, ctx, {
      key: 'applyCall',
      method: 'pool_update.apply',
      params: [updateRef, host.ref],
      target: `${wanted} on ${host.name}`,
      budgetMs: slowCallMs(deps),
      reconcile: async () => {
        const hosts = await deps.client.call<string[]>('pool_update.get_hosts', [updateRef]);
        return Array.isArray(hosts) && hosts.includes(host.ref) ? 'done' : 'not-done';
      },
      checkBeforeRetry: `Check on ${host.name} that no update is being applied.`,
    });
  } catch (err) {
    if (xenErrorCode(err) !== 'UPDATE_ALREADY_APPLIED') throw err;
  }
  await ctx.saveData({ updateApplied: true });
}

export function createUpgradeStep(deps: StepDeps): StepModule {
  return {
    kind: 'upgrade',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const mode = ctx.run.plan.mode;
      const isMaster = !!ctx.hostPlan?.isMaster;
      const data = (ctx.step.data ?? {}) as UpgradeData;

      if (data.shutdownIssued) {
        const verdict = await reconcileIssued(deps, ctx, data, isMaster);
        if (verdict === 'issued') return { status: 'done', note: `${data.method} of ${name} was already issued; not repeated` };
        await ctx.audit(`${data.method} of ${name} was recorded but the host stayed live with the same boot_time and no reboot/shutdown in its current_operations for ${SHUTDOWN_GRACE_MS / 60000} min: it never went out`, {
          host: name,
        });
      }

      const readHost = async () => {
        const pool = await readLivePoolFor(deps.client, { residentOn: stepHostRef(ctx) }); // this host's VMs only
        const host = requireHost(ctx, pool);
        assertSafeToTakeDown(ctx, pool, host);
        return host;
      };
      let host = await readHost();
      const prepare = mode === 'automatic' && !data.prepared;
      const update = mode === 'update' && !data.updateApplied;
      if (prepare) await prepareAutomatic(deps, ctx, host);
      if (update) await applyUpdate(deps, ctx, host);
      // R3.1 again: preparing took minutes (prepare_host_upgrade.py main, pool_update.apply), long enough for another
      // host to fail or be shut down; the pool as it is now decides whether this host may go down
      if (prepare || update) host = await readHost();

      const method = mode === 'manual' ? 'host.shutdown' : 'host.reboot';
      await ctx.saveData({
        shutdownIssued: true,
        method,
        bootTimeBefore: host.bootTime,
        versionBefore: { product: host.product, platform: host.platform, build: host.build },
        issuedAt: deps.clock.now(),
      } satisfies UpgradeData);
      await ctx.checkpoint('before-shutdown');
      try {
        await ctx.act(method, [host.ref], name);
      } catch (err) {
        if (!isPoolUnavailable(err)) {
          // xapi refused it: nothing was issued
          await ctx.saveData({ shutdownIssued: false });
          throw err;
        }
        // no answer: decide from the pool's state, never by calling again
        const verdict = await reconcileIssued(deps, ctx, { method, bootTimeBefore: host.bootTime }, isMaster);
        if (verdict === 'not-issued') {
          await ctx.saveData({ shutdownIssued: false });
          throw err;
        }
      }
      await ctx.checkpoint('after-shutdown');
      if (mode === 'manual') {
        await ctx.say(
          `${name} is shutting down. Boot it from the ${ctx.run.plan.target.label} installer (CD or network) and choose *Upgrade* (R3.7, R3.9); the run waits for it to come back.`,
        );
      } else {
        await ctx.say(`${name} is rebooting into its ${mode === 'update' ? 'update' : 'upgrade'}${isMaster ? ' (master: the pool is unreachable until it is back, R3.8)' : ''}.`);
      }
      return { status: 'done', note: `${method} issued on ${name}` };
    },
  };
}
