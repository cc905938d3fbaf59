/**
 * Enable the host again. xapi usually re-enables a rebooted host itself; while xapi is still starting,
 * host.enable answers HOST_STILL_BOOTING and is retried. Then its storage must be attached (pbds.ts): the steps
 * after this one move or start VMs onto it.
 */
import { StepFailure, xenErrorCode } from '../errors';
import { describeHost, readLiveHosts } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { requireHost, stepHostName } from './common';
import { ensurePbdsPlugged } from '../pbds';

export function createEnableStep(deps: StepDeps): StepModule {
  return {
    kind: 'enable',
    async execute(ctx) {
      const name = stepHostName(ctx);
      for (let attempt = 0; ; attempt++) {
        const host = requireHost(ctx, await readLiveHosts(deps.client));
        if (host.enabled) {
          const plugged = await ensurePbdsPlugged(deps, ctx, host.ref, name);
          const pbdNote = plugged.length > 0 ? `; plugged ${plugged.join(', ')}` : '';
          return { status: 'done', note: `${attempt === 0 ? `${name} already enabled` : `${name} enabled`}${pbdNote}` };
        }
        if (!host.live) throw new StepFailure(`${name} is not live; it cannot be enabled`, { observed: [describeHost(host)] });
        if (attempt > deps.config.enableRetries) {
          throw new StepFailure(`${name} is still disabled after ${attempt} host.enable calls`, { observed: [describeHost(host)] });
        }
        try {
          await ctx.act('host.enable', [host.ref], name);
        } catch (err) {
          const code = xenErrorCode(err);
          if (code === 'HOST_DISABLED_UNTIL_REBOOT') {
            throw new StepFailure(`${name} stays disabled until it reboots: the reboot did not happen`, { code, observed: [describeHost(host)] });
          }
          if (code !== 'HOST_STILL_BOOTING' || attempt >= deps.config.enableRetries) throw err;
          await deps.clock.sleep(5_000, ctx.signal);
        }
      }
    },
  };
}
