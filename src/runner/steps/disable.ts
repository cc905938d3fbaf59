/**
 * R3.3: disable the host (the master too — never maintenance mode, which would elect a new master).
 * Before taking a host out of service, every other host must be back and live (R3.1: one host offline at a time);
 * after the master's reboot members may need a while to leave emergency mode (R3.8), so this waits for them.
 */
import { StepFailure } from '../errors';
import { describeHost } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { waitForPool } from '../wait';
import { assertNoSkippedHostOffline, requireHost, stepHostName, stepHostRef } from './common';

/** how long members may take to be live again after the previous host (clock ms) */
export const POOL_SETTLE_MS = 15 * 60_000;

export function createDisableStep(deps: StepDeps): StepModule {
  return {
    kind: 'disable',
    async execute(ctx) {
      const ref = stepHostRef(ctx);
      const name = stepHostName(ctx);
      const pool = await waitForPool({
        client: deps.client,
        clock: deps.clock,
        signal: ctx.signal,
        pollMs: deps.config.pollMs,
        timeoutMs: POOL_SETTLE_MS,
        check: (p) => {
          assertNoSkippedHostOffline(ctx, p, name); // no point waiting for a host nobody is bringing back
          return p.hosts.every((h) => h.live) ? p : undefined;
        },
        onTimeout: ({ last }) =>
          new StepFailure(`not every host is live, so ${name} cannot be taken out of service (R3.1: one host offline at a time)`, {
            observed: last ? last.hosts.map(describeHost) : ['pool unreachable'],
          }),
      });
      const host = requireHost(ctx, pool);
      const data = ctx.step.data as { wasEnabled?: boolean } | undefined;
      if (data?.wasEnabled === undefined) await ctx.saveData({ wasEnabled: host.enabled });
      if (!host.enabled) return { status: 'done', note: `${name} already disabled` };
      await ctx.act('host.disable', [ref], name);
      return { status: 'done', note: `${name} disabled (R3.3)` };
    },
  };
}
