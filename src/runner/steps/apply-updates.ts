/**
 * R3.10: the host's updates, prerequisites first, while it is empty (right after its upgrade, before its VMs come
 * back), then ONE restart for all of them: a reboot when any needs restartHost (unless the precheck said a livepatch
 * covers it), a toolstack restart for restartXAPI, nothing otherwise. Level-triggered like every step:
 *   - an update the host already has (pool_update.hosts) is not applied again; apply goes through longCall
 *     (recorded before it is sent, reconciled from pool_update.get_hosts);
 *   - a precheck failure (UPDATE_PRECHECK_FAILED_*) stops the run with the update named (data.failed): Retry runs
 *     the precheck again, Skip update (skip-update) continues without it on this host — recorded, and the end audit
 *     lists it as missing;
 *   - the restart is recorded (with boot_time / agent_start_time before) BEFORE it is issued, and never issued twice:
 *     a re-run waits for it (upgrade.ts reconcileIssued for the reboot).
 * No migration: a host whose updates need a reboot must be empty; if a VM arrived meanwhile, the step stops and says so.
 */
import type { HostUpdatePlan, PlanUpdate } from '../../domain/types';
import { restartNeed } from '../../updates/order';
import type { AfterApplyGuidance } from '../../updates/metadata';
import { StepFailure, isPoolUnavailable, xenErrorCode, xenErrorParams } from '../errors';
import { longCall } from '../long-call';
import { describeHost, readLivePoolFor, vmsOn, type LiveHost } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepContext, StepModule } from '../step';
import { waitForPool } from '../wait';
import { requireHost, stepHostName, stepHostRef } from './common';
import { reconcileIssued, slowCallMs } from './upgrade';

export interface ApplyUpdatesData {
  /** uuids the host has (applied here, or found applied) */
  applied?: string[];
  /** uuids whose precheck answered ok_livepatch_complete */
  livepatched?: string[];
  /** uuids skipped by an approver (skip-update) */
  skipped?: string[];
  /** the update whose precheck failed (what Skip update skips) */
  failed?: { uuid: string; name: string; code: string } | null;
  restart?: { method: 'host.reboot' | 'host.restart_agent'; issuedAt: number; bootTimeBefore: string | null; agentStartBefore?: string | null };
  restartDone?: boolean;
  /** the host's boot_time (seconds) once back from the run's host.reboot: the end audit tells a later restart from it */
  bootTimeAfter?: number | null;
}

/** What is saved when the restart is over: for a reboot, the boot_time it came back with (end-audit.ts). */
function restartDoneData(r: { method: string }, back: LiveHost): Partial<ApplyUpdatesData> {
  if (r.method !== 'host.reboot') return { restartDone: true };
  const boot = back.bootTime === null ? null : Number.parseFloat(back.bootTime);
  return { restartDone: true, bootTimeAfter: Number.isFinite(boot) ? boot : null };
}

/** Errors of the host's precheck that the operator can act on (reference I2): Retry / Skip update. */
export function isPrecheckFailure(code: string | undefined): boolean {
  return !!code && (code.startsWith('UPDATE_PRECHECK_FAILED_') || code.startsWith('PATCH_PRECHECK_FAILED_') || code === 'CANNOT_FIND_UPDATE');
}

type UpdateRecords = Record<string, { uuid?: string; name_label?: string; hosts?: string[] }>;

export function createApplyUpdatesStep(deps: StepDeps): StepModule {
  const dataOf = (ctx: StepContext) => (ctx.step.data ?? {}) as ApplyUpdatesData;

  const agentStart = async (ref: string): Promise<string | null> => {
    const oc = await deps.client.call<Record<string, string>>('host.get_other_config', [ref]);
    return oc?.agent_start_time ?? null;
  };

  /** Wait for the recorded restart to have happened and the host to be live again. */
  const waitRestart = async (ctx: StepContext, hostRef: string, name: string, r: NonNullable<ApplyUpdatesData['restart']>): Promise<LiveHost> => {
    const timeoutMs = deps.config.hostTimeoutMs.update;
    return waitForPool<LiveHost>({
      client: deps.client,
      clock: deps.clock,
      signal: ctx.signal,
      pollMs: deps.config.pollMs,
      timeoutMs: Math.max(0, r.issuedAt + timeoutMs - deps.clock.now()),
      check: (pool) => {
        const h = pool.hosts.find((x) => x.ref === hostRef);
        if (!h || !h.live) return undefined;
        if (r.method === 'host.reboot' && h.bootTime === r.bootTimeBefore) return undefined;
        return h;
      },
      onTimeout: ({ last }) => {
        const h = last?.hosts.find((x) => x.ref === hostRef);
        return new StepFailure(`${name} did not come back within ${Math.round(timeoutMs / 60000)} min after ${r.method} for its updates`, {
          code: 'HOST_WAIT_TIMEOUT',
          observed: h ? [describeHost(h), `boot_time ${r.bootTimeBefore ?? '?'} → ${h.bootTime ?? '?'}`] : [`${name} not in the pool's host list`],
        });
      },
    }).then(async (h) => {
      if (r.method === 'host.restart_agent') {
        // the toolstack restart leaves boot_time alone: agent_start_time tells it happened
        for (;;) {
          ctx.signal.throwIfAborted();
          const now = await agentStart(hostRef).catch(() => r.agentStartBefore);
          if (now !== r.agentStartBefore) break;
          if (deps.clock.now() > r.issuedAt + timeoutMs) throw new StepFailure(`${name}'s toolstack did not restart (agent_start_time unchanged)`, { code: 'HOST_WAIT_TIMEOUT' });
          await deps.clock.sleep(deps.config.pollMs, ctx.signal);
        }
      }
      return h;
    });
  };

  /** Every update the step applied is on the host after its restart (applied updates survive a reboot). */
  const verify = async (hostRef: string, name: string, hu: HostUpdatePlan, data: ApplyUpdatesData, items: Map<string, PlanUpdate>): Promise<void> => {
    const records = (await deps.client.call<UpdateRecords>('pool_update.get_all_records')) ?? {};
    const has = new Set(Object.values(records).filter((u) => (u.hosts ?? []).includes(hostRef)).map((u) => u.uuid));
    const lost = hu.updates.filter((id) => (data.applied ?? []).includes(id) && !has.has(id));
    if (lost.length) {
      throw new StepFailure(`${name} came back without ${lost.map((id) => items.get(id)?.name ?? id).join(', ')}: the pool no longer lists them as applied`, { code: 'UPDATE_NOT_APPLIED' });
    }
  };

  return {
    kind: 'apply-updates',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const ref = stepHostRef(ctx);
      const plan = ctx.run.plan.updates;
      const hu = plan?.hosts.find((x) => x.host === ctx.planStep.host);
      if (!plan || !hu) return { status: 'done', note: `no update planned for ${name}` };
      const items = new Map(plan.items.map((u) => [u.uuid, u]));
      const label = (id: string) => items.get(id)?.name ?? id;

      let data = dataOf(ctx);
      if (data.restart && !data.restartDone) {
        const r = data.restart;
        if (r.method === 'host.reboot' && (await reconcileIssued(deps, ctx, { bootTimeBefore: r.bootTimeBefore, method: 'host.reboot' }, !!ctx.hostPlan?.isMaster)) === 'not-issued') {
          // evidence (the host live with the same boot_time past the grace period) that it never went out: issued below
          await ctx.audit(`the reboot of ${name} for its updates was recorded but the host stayed live with the same boot_time: it never went out`);
          await ctx.saveData({ restart: null });
          data = dataOf(ctx);
        } else {
          const back = await waitRestart(ctx, ref, name, r);
          await verify(ref, name, hu, data, items);
          await ctx.saveData(restartDoneData(r, back));
          return { status: 'done', note: `${name}: updates applied, ${r.method} done` };
        }
      }
      if (data.restartDone) return { status: 'done', note: `${name}: updates applied` };

      const pool = await readLivePoolFor(deps.client, { residentOn: ref });
      const host = requireHost(ctx, pool);
      if (!host.live) throw new StepFailure(`${name} is not live; its updates wait`, { observed: [describeHost(host)] });
      if (hu.restart === 'host') {
        // the updates' reboot needs the host empty: xapi enabled it when it came back from its upgrade
        if (host.enabled) await ctx.act('host.disable', [ref], name);
        const vms = vmsOn(pool, ref);
        if (vms.length) {
          throw new StepFailure(`${vms.length} VM(s) run on ${name}, which must be empty for its updates' reboot; the bot does not move them again (R3.10: no extra migration)`, {
            code: 'HOST_NOT_EMPTY',
            observed: vms.map((v) => `${v.name}: ${v.powerState}`),
          });
        }
      }

      const records = (await deps.client.call<UpdateRecords>('pool_update.get_all_records')) ?? {};
      const refOf = new Map(Object.entries(records).map(([r, u]) => [u.uuid, { ref: r, hosts: u.hosts ?? [] }]));
      const applied = new Set(data.applied ?? []);
      const livepatched = new Set(data.livepatched ?? []);
      const skipped = new Set(data.skipped ?? []);
      for (const id of hu.updates) {
        if (skipped.has(id)) continue;
        const rec = refOf.get(id);
        if (!rec) throw new StepFailure(`${label(id)} is not introduced in the pool (the upload step did not finish?)`, { code: 'CANNOT_FIND_UPDATE' });
        if (rec.hosts.includes(ref)) {
          applied.add(id);
          continue;
        }
        let result: string;
        try {
          // the host's precheck script (minutes): Async, followed under a deadline (reference top 1); through act, so
          // a runner taken over or aborted sends no precheck and leaves its task alone (issue 16)
          result = String(await ctx.act('pool_update.precheck', [rec.ref, ref], `${label(id)} on ${name}`, { async: true, deadlineMs: deps.clock.now() + slowCallMs(deps) }));
        } catch (err) {
          const code = xenErrorCode(err);
          if (code === 'UPDATE_ALREADY_APPLIED') {
            applied.add(id);
            continue;
          }
          if (!isPrecheckFailure(code)) throw err;
          await ctx.saveData({ failed: { uuid: id, name: label(id), code: code! }, applied: [...applied], livepatched: [...livepatched] });
          const params = xenErrorParams(err);
          throw new StepFailure(`the precheck of ${label(id)} on ${name} failed: ${code}${params.length ? ` [${params.join(', ')}]` : ''}. Retry runs the precheck again; Skip update continues without ${label(id)} on ${name} (the end audit lists it as missing).`, {
            code,
            params,
            observed: [`${name}: ${[...applied].map(label).join(', ') || 'no update'} applied so far in this run`],
          });
        }
        if (result === 'ok_livepatch_complete') livepatched.add(id);
        try {
          await longCall(deps, ctx, {
            key: `apply:${id}`,
            method: 'pool_update.apply',
            params: [rec.ref, ref],
            target: `${label(id)} on ${name}`,
            budgetMs: slowCallMs(deps),
            reconcile: async () => {
              const hosts = await deps.client.call<string[]>('pool_update.get_hosts', [rec.ref]);
              return Array.isArray(hosts) && hosts.includes(ref) ? 'done' : 'not-done';
            },
            checkBeforeRetry: `Check on ${name} that no update is being applied.`,
          });
        } catch (err) {
          if (xenErrorCode(err) !== 'UPDATE_ALREADY_APPLIED') throw err;
        }
        applied.add(id);
        await ctx.saveData({ applied: [...applied], livepatched: [...livepatched], failed: null });
      }
      await ctx.saveData({ applied: [...applied], livepatched: [...livepatched], failed: null });
      data = dataOf(ctx);

      // what the updates applied in this run need, now that all of them are on (one restart for all)
      const need = restartNeed(
        hu.updates.filter((id) => applied.has(id)).map((id) => ({ uuid: id, guidance: (items.get(id)?.guidance ?? []) as AfterApplyGuidance[] })),
        livepatched,
      );
      const skippedWords = skipped.size ? `; skipped: ${[...skipped].map(label).join(', ')}` : '';
      if (need === 'none') {
        await ctx.saveData({ restartDone: true });
        await ctx.say(`${name}: ${applied.size} update(s) applied, no restart needed${livepatched.size ? ' (livepatched)' : ''}${skippedWords}.`);
        return { status: 'done', note: `${name}: ${applied.size} updates applied, no restart` };
      }
      if (need === 'host') {
        // R3.1 on the pool as it is now: the prechecks and applies took minutes, long enough for another host to go down
        const now = await readLivePoolFor(deps.client, { residentOn: ref });
        const others = now.hosts.filter((h) => h.ref !== ref && !h.live);
        if (others.length) throw new StepFailure(`another host is offline; only one host may be down at a time (R3.1)`, { observed: others.map(describeHost) });
        // R3.10: xapi sets enabled=true last in a host's start-up (reference D4), possibly during the minutes of
        // precheck + apply after the first read above: the host is read again here and disabled if enabled, as
        // above, so the reboot goes to a disabled host (7.6 refuses an enabled one: HOST_NOT_DISABLED, reference C1)
        const me = requireHost(ctx, now);
        if (me.enabled) {
          await ctx.audit(`${name} is enabled again before its updates' reboot (xapi enables a host last in its start-up, reference D4): disabling it first`, { host: ref });
          await ctx.act('host.disable', [ref], name);
          // while enabled it was open to VM placement: still empty, or the step stops as above (no extra migration)
          const vms = vmsOn(now, ref);
          if (vms.length) {
            throw new StepFailure(`${vms.length} VM(s) run on ${name}, placed there while xapi had it enabled after its start-up; it must be empty for its updates' reboot, and the bot does not move them (R3.10: no extra migration). ${name} is disabled again.`, {
              code: 'HOST_NOT_EMPTY',
              observed: [describeHost(me), ...vms.map((v) => `${v.name}: ${v.powerState}`)],
            });
          }
        }
      }
      const method = need === 'host' ? 'host.reboot' : 'host.restart_agent';
      const restart = { method, issuedAt: deps.clock.now(), bootTimeBefore: host.bootTime, agentStartBefore: method === 'host.restart_agent' ? await agentStart(ref) : null } as const;
      await ctx.saveData({ restart });
      await ctx.checkpoint('before-restart');
      try {
        await ctx.act(method, [ref], name);
      } catch (err) {
        if (!isPoolUnavailable(err)) {
          await ctx.saveData({ restart: null });
          throw err;
        }
        if (method === 'host.reboot' && (await reconcileIssued(deps, ctx, { bootTimeBefore: host.bootTime }, !!ctx.hostPlan?.isMaster)) === 'not-issued') {
          await ctx.saveData({ restart: null });
          throw err;
        }
      }
      await ctx.say(
        method === 'host.reboot'
          ? `${name} reboots once for its ${applied.size} update(s)${ctx.hostPlan?.isMaster ? ' (master: the pool is unreachable until it is back, R3.8)' : ''}${skippedWords}.`
          : `${name}: ${applied.size} update(s) applied; restarting its toolstack (no reboot, VMs keep running)${skippedWords}.`,
      );
      await ctx.checkpoint('after-restart');
      const back = await waitRestart(ctx, ref, name, restart);
      await verify(ref, name, hu, dataOf(ctx), items);
      await ctx.saveData(restartDoneData(restart, back));
      return { status: 'done', note: `${name}: ${applied.size} updates applied, ${method} done` };
    },
  };
}
