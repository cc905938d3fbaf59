/**
 * Pool preparation, as approved in the plan: disable HA (R2.4) remembering how to re-enable it at the end,
 * eject the CDs the operator approved (R2.3), and cycle VMs suspended with a disc in (resume, eject, suspend again:
 * suspended-cds.ts). Re-running finds HA already off and drives already empty.
 */
import type { PrecheckFix, Ref } from '../../domain/types';
import { StepFailure, xenErrorCode } from '../errors';
import { readLivePool } from '../pool-state';
import type { StepDeps } from '../ports';
import type { StepModule } from '../step';
import { cycleSuspendedCds } from './suspended-cds';
import { longCall } from '../long-call';
import { slowCallMs } from './upgrade';

export interface HaSaved {
  wasEnabled: boolean;
  heartbeatSrs: Ref[];
  configuration: Record<string, string>;
}

async function readHaSettings(deps: StepDeps, poolRef: Ref): Promise<Omit<HaSaved, 'wasEnabled'>> {
  const rec = (await deps.client.call<Record<string, unknown>>('pool.get_record', [poolRef])) ?? {};
  const configuration: Record<string, string> = {};
  for (const [k, v] of Object.entries((rec.ha_configuration as Record<string, unknown>) ?? {})) configuration[k] = String(v);
  const heartbeatSrs: Ref[] = [];
  for (const vdi of (rec.ha_statefiles as string[] | undefined) ?? []) {
    const sr = await deps.client.call<string>('VDI.get_SR', [vdi]).catch(() => undefined);
    if (sr && !heartbeatSrs.includes(sr)) heartbeatSrs.push(sr);
  }
  if (heartbeatSrs.length === 0 && typeof rec.default_SR === 'string' && rec.default_SR !== 'OpaqueRef:NULL') heartbeatSrs.push(rec.default_SR);
  return { heartbeatSrs, configuration };
}

export function createPoolPrepStep(deps: StepDeps): StepModule {
  return {
    kind: 'pool-prep',
    async execute(ctx) {
      const fixes: PrecheckFix[] = ctx.planStep.fixes ?? [];
      const notes: string[] = [];
      const pool = await readLivePool(deps.client);
      const data = (ctx.step.data ?? {}) as { ha?: HaSaved; ejected?: string[] };

      const wantsHaOff = fixes.some((f) => f.kind === 'disable-ha');
      if (pool.haEnabled && !wantsHaOff) {
        throw new StepFailure('HA is enabled but the approved plan does not disable it (R2.4); make a new plan', {
          observed: ['pool.ha_enabled = true'],
        });
      }
      if (pool.haEnabled) {
        // saved before the side effect so pool-finish can re-enable HA as it was, even after a crash here
        if (!data.ha?.wasEnabled) await ctx.saveData({ ha: { wasEnabled: true, ...(await readHaSettings(deps, pool.ref)) } });
        // minutes on a real pool: Async, followed; after a lost task the pool's ha_enabled decides (reference top 1)
        await longCall(deps, ctx, {
          key: 'disableHaCall',
          method: 'pool.disable_ha',
          params: [],
          target: `pool ${ctx.run.pool}`,
          budgetMs: slowCallMs(deps),
          reconcile: async () => ((await readLivePool(deps.client)).haEnabled ? 'not-done' : 'done'),
          checkBeforeRetry: 'Check the pool\'s HA state (xe pool-param-get param-name=ha-enabled).',
        });
        notes.push('HA disabled for the upgrade (R2.4); it is re-enabled at the end');
      } else if (!data.ha) {
        await ctx.saveData({ ha: { wasEnabled: false, heartbeatSrs: [], configuration: {} } });
      }

      const ejected = new Set(data.ejected ?? []);
      for (const fix of fixes) {
        if (fix.kind !== 'eject-cds') continue;
        for (const vbd of fix.vbds) {
          const empty = await deps.client.call<boolean | string>('VBD.get_empty', [vbd]);
          if (empty === true || empty === 'true') continue;
          try {
            await ctx.act('VBD.eject', [vbd], `CD drive ${vbd}`);
          } catch (err) {
            if (xenErrorCode(err) !== 'VBD_IS_EMPTY') throw err;
          }
          ejected.add(vbd);
          await ctx.saveData({ ejected: [...ejected] });
        }
      }
      if (ejected.size > 0) notes.push(`${ejected.size} CD drive(s) ejected (R2.3)`);
      for (const fix of fixes) if (fix.kind === 'cycle-suspended-cds') notes.push(...(await cycleSuspendedCds(deps, ctx, fix.vms)));
      return { status: 'done', note: notes.join('; ') || 'nothing to prepare' };
    },
  };
}
