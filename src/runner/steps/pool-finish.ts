/**
 * End of the run: re-enable HA if pool-prep disabled it (R2.4, only once no host is left behind: xapi refuses HA in
 * a mixed-version pool), and post the VMs whose Tools must now be upgraded (R5.1) — only when every host is on the
 * target (R5.2, R5.3). The engine closes the run.
 */
import { describeHost, readLivePool } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { isOnTarget } from './common';
import type { HaSaved } from './pool-prep';

export function createPoolFinishStep(deps: StepDeps): StepModule {
  return {
    kind: 'pool-finish',
    async execute(ctx) {
      const notes: string[] = [];
      const pool = await readLivePool(deps.client);
      const ha = ctx.dataOf('pool-prep')?.ha as HaSaved | undefined;
      const behind = ctx.run.plan.hosts.filter((hp) => {
        const h = pool.hosts.find((x) => x.ref === ctx.resolveHost(hp.host));
        return !h || !isOnTarget(h, hp.to);
      });
      if (ha?.wasEnabled && !pool.haEnabled) {
        if (behind.length > 0) {
          notes.push(`HA left disabled: ${behind.map((h) => h.name).join(', ')} not on ${ctx.run.plan.target.label}, so the pool is still mixed (R2.4)`);
        } else {
          await ctx.act('pool.enable_ha', [ha.heartbeatSrs, ha.configuration], `pool ${ctx.run.pool}`);
          notes.push('HA re-enabled');
        }
      }
      const tools = ctx.run.plan.toolsUpgrade;
      // R5.1 only once every host runs the target: upgraded Tools on an older host are unsupported (R5.2, R5.3)
      if (tools.length > 0 && behind.length === 0) notes.push(`upgrade the XenServer Tools in: ${tools.join(', ')} (R5.1)`);
      else if (tools.length > 0) notes.push(`do not upgrade the XenServer Tools yet: not every host is on ${ctx.run.plan.target.label} (R5.2, R5.3)`);
      if (behind.length > 0) notes.push(`hosts not on the target: ${pool.hosts.filter((h) => behind.some((b) => ctx.resolveHost(b.host) === h.ref)).map(describeHost).join('; ')}`);
      await ctx.say(`Pool ${ctx.run.pool} finished: ${notes.join('; ') || 'nothing left to do'}.`);
      return { status: 'done', note: notes.join('; ') || 'pool finished' };
    },
  };
}
