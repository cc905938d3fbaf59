/**
 * Wait for the host to come back from its upgrade. The reboot is detected by other_config.boot_time changing
 * (as XenCenter does), the result by product version + build; success only when the host is live on the target.
 * While the master is down nobody can connect and members go into emergency mode (R3.8): expected, the wait
 * reconnects through the client and carries on. The deadline (per mode, configurable) survives restarts: it is
 * counted from the first time this step started waiting. On timeout the step fails with the facts observed.
 */
import { compareVersions } from '../../domain/versions';
import { StepFailure } from '../errors';
import { describeHost, type LiveHost } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { waitForPool } from '../wait';
import { isOnTarget, stepHostName, stepHostRef, versionText } from './common';
import type { UpgradeData } from './upgrade';

export function createWaitHostStep(deps: StepDeps): StepModule {
  return {
    kind: 'wait-host',
    async execute(ctx) {
      const name = stepHostName(ctx);
      const ref = stepHostRef(ctx);
      const mode = ctx.run.plan.mode;
      const isMaster = !!ctx.hostPlan?.isMaster;
      const to = ctx.hostPlan?.to ?? { product: ctx.run.plan.target.product, platform: ctx.run.plan.target.platform };
      const upgrade = (ctx.dataOf(`${name}:upgrade`) ?? {}) as UpgradeData;
      const replaced = ref !== (ctx.planStep.host ?? ref);
      const since = (ctx.step.data?.since as number | undefined) ?? deps.clock.now();
      if (ctx.step.data?.since === undefined) await ctx.saveData({ since });
      await ctx.checkpoint('waiting');
      const timeoutMs = deps.config.hostTimeoutMs[mode];
      let downSince: number | undefined;

      const host = await waitForPool<LiveHost>({
        client: deps.client,
        clock: deps.clock,
        signal: ctx.signal,
        pollMs: deps.config.pollMs,
        timeoutMs: Math.max(0, since + timeoutMs - deps.clock.now()),
        check: (pool) => {
          const h = pool.hosts.find((x) => x.ref === ref);
          if (!h || !h.live) return undefined;
          // a replaced host (R4.2) is a fresh install: its boot_time has nothing to compare with
          if (!replaced && h.bootTime === (upgrade.bootTimeBefore ?? null)) return undefined;
          return h;
        },
        onUnavailable: () => {
          downSince = deps.clock.now();
          void ctx.say(
            isMaster
              ? `The pool is unreachable while its master ${name} reboots: expected (R3.8, members run in emergency mode). Waiting up to ${Math.round(timeoutMs / 60000)} min.`
              : `The pool master does not answer; waiting.`,
          );
        },
        onAvailable: () => {
          if (downSince !== undefined) ctx.log.info({ unreachableMs: deps.clock.now() - downSince }, 'pool reachable again');
        },
        onTimeout: ({ last, lastError }) => {
          const h = last?.hosts.find((x) => x.ref === ref);
          const observed: string[] = [];
          if (lastError && (!last || isMaster)) observed.push(`pool unreachable: ${(lastError as Error).message ?? String(lastError)}`);
          if (h) {
            observed.push(describeHost(h));
            observed.push(h.bootTime === (upgrade.bootTimeBefore ?? null) ? `boot_time unchanged (${h.bootTime ?? 'none'}): the host has not restarted` : `boot_time now ${h.bootTime}`);
          } else if (last) observed.push(`${name} is not in the pool's host list`);
          return new StepFailure(`${name} did not come back on ${ctx.run.plan.target.label} within ${Math.round(timeoutMs / 60000)} min (${mode} mode)`, {
            code: 'HOST_WAIT_TIMEOUT',
            observed,
          });
        },
      });
      await ctx.checkpoint('host-back');

      if (!isOnTarget(host, to)) {
        const before = upgrade.versionBefore;
        const facts = [describeHost(host), `before: ${versionText(before ?? { product: '?' })}`, `boot_time ${upgrade.bootTimeBefore ?? '?'} → ${host.bootTime ?? '?'}`];
        const newer = compareVersions(host.product, to.product) > 0;
        const changed = !!before && (compareVersions(host.product, before.product) !== 0 || (!!before.build && host.build !== before.build));
        if (newer || changed) {
          // the host was upgraded, but not to the plan's target (a repository holding another release: testUrl refuses
          // only an older one, reference L1): said as observed, never "did not apply"; the step still fails, as this is
          // not the upgrade that was approved (R3.2/R3.4 decide from the plan's target)
          throw new StepFailure(
            `${name} restarted on ${versionText(host)}${newer ? `, a newer release than the plan's target ${versionText(to)}` : `, not the plan's target ${versionText(to)}`} (it was on ${versionText(before ?? { product: '?' })}): ` +
              `it was upgraded, but not to what was approved, so the run stops here. Check which release the upgrade repository holds; the host stays on ${versionText(host)}`,
            { code: 'UNPLANNED_VERSION', observed: facts },
          );
        }
        throw new StepFailure(`${name} restarted but is on ${versionText(host)}, not ${versionText(to)}: the upgrade did not apply`, {
          code: 'UPGRADE_NOT_APPLIED',
          observed: facts,
        });
      }
      // the boot time after the run's own reboot: the end-of-run audit tells a later restart (power loss) from it
      const bootTimeAfter = host.bootTime === null ? null : Number.parseFloat(host.bootTime);
      await ctx.saveData({ backAt: deps.clock.now(), version: { product: host.product, build: host.build }, bootTimeAfter: Number.isFinite(bootTimeAfter) ? bootTimeAfter : null });
      const minutes = Math.round((deps.clock.now() - since) / 60000);
      await ctx.say(`${name} is back on ${versionText(host)} after ${minutes} min.`);
      return { status: 'done', note: `${name} live on ${versionText(host)}` };
    },
  };
}
