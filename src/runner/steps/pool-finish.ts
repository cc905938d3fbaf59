/**
 * End of the run: remove from the SR the update ISOs the run uploaded, once every planned host has them (R3.10,
 * update-files.ts), re-enable HA if pool-prep disabled it (R2.4, only once no host is left behind: xapi refuses HA in
 * a mixed-version pool), and post the VMs whose Tools must now be upgraded (R5.1) — only when every host is on the
 * target (R5.2, R5.3). The engine closes the run.
 */
import { describeHost, readLivePool } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { longCall } from '../long-call';
import { cleanUpdateFiles } from '../update-files';
import { slowCallMs } from './upgrade';
import { isOnTarget } from './common';
import type { HaSaved } from './pool-prep';
import { TOOLS_OPEN_WITHIN_MS, finalTargetOf, toolsAdviceGate } from '../../tools/checklist';

/**
 * Who keeps the R5.1 Tools checklist: the scheduler of `xsupgrade serve` (or the sandbox) in this process posts it in
 * the run's thread; a terminal run has neither thread nor scheduler, so it names who will.
 */
function toolsFollowUpWords(pool: string, followedHere: boolean): string {
  if (followedHere) return 'the Tools checklist in this thread follows them';
  const days = Math.round(TOOLS_OPEN_WITHIN_MS / (24 * 3_600_000));
  return `no Tools checklist follows from this process: \`xsupgrade serve\` on the same state keeps it in the pool's Slack channel (for a run that ended within ${days} days); \`/xsupgrade tools ${pool}\` there shows the live list`;
}

export function createPoolFinishStep(deps: StepDeps): StepModule {
  return {
    kind: 'pool-finish',
    async execute(ctx) {
      const notes: string[] = [];
      // first: after the last apply-updates, and not behind an HA enable that may fail
      const files = await cleanUpdateFiles(deps, ctx);
      if (files) notes.push(files);
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
          // minutes, and a second enable_ha fails HA_IS_ENABLED: Async, followed, reconciled from ha_enabled (reference top 1)
          const call = await longCall(deps, ctx, {
            key: 'enableHaCall',
            method: 'pool.enable_ha',
            params: [ha.heartbeatSrs, ha.configuration],
            target: `pool ${ctx.run.pool}`,
            budgetMs: slowCallMs(deps),
            reconcile: async () => ((await readLivePool(deps.client)).haEnabled ? 'done' : 'not-done'),
            checkBeforeRetry: 'Check the pool\'s HA state (xe pool-param-get param-name=ha-enabled).',
          });
          notes.push(call.sent ? 'HA re-enabled' : 'HA re-enabled (seen enabled on the pool; not sent again)');
        }
      }
      const tools = ctx.run.plan.toolsUpgrade;
      // R5.1 only once every host of the live pool runs the FINAL version (R5.2, R5.3): never after a middle hop
      const gate = toolsAdviceGate(pool.hosts.map((h) => ({ name: h.name, product: h.product })), finalTargetOf(ctx.run.plan));
      if (tools.length > 0 && behind.length === 0 && gate.ok) notes.push(`upgrade the XenServer Tools in: ${tools.join(', ')} (R5.1); ${toolsFollowUpWords(ctx.run.pool, deps.config.toolsFollowUp === true)}`);
      else if (!gate.ok) notes.push(`do not upgrade the XenServer Tools yet: ${gate.reason} (R5.2)`);
      if (behind.length > 0) notes.push(`hosts not on the target: ${pool.hosts.filter((h) => behind.some((b) => ctx.resolveHost(b.host) === h.ref)).map(describeHost).join('; ')}`);
      await ctx.say(`Pool ${ctx.run.pool} finished: ${notes.join('; ') || 'nothing left to do'}.`);
      return { status: 'done', note: notes.join('; ') || 'pool finished' };
    },
  };
}
