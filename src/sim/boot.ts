/** What a simulated host does at boot that a real xapi does too: PBD re-plug, emergency-mode answers. */
import type { Machine, PoolState, Sim } from './engine';

/** dbsync_slave resynchronise_pbds: plug every PBD of the host; a `pbd-plug-fails` fault leaves one detached. */
export function plugPbdsAtBoot(sim: Sim, pool: PoolState, m: Machine): boolean {
  let all = true;
  for (const [ref, pbd] of pool.db.entries('PBD')) {
    if (pbd.host !== m.hostRef || pbd.currently_attached) continue;
    if (sim.takeFault('pbd-plug-fails', (f) => f.host === m.name && (!f.sr || f.sr === pool.db.get('SR', pbd.SR as string).name_label))) {
      sim.logger.info({ host: m.name, pbd: ref }, 'sim: PBD plug at boot fails (fault)');
      all = false;
      continue;
    }
    pool.db.update('PBD', ref, { currently_attached: true });
  }
  return all;
}

/** Xapi_globs.emergency_mode_error after a failed Pool.hello, with the parameters xapi gives (reference D2). */
export function emergencyAnswer(code: string, m: Machine, pool: PoolState): string[] {
  if (code === 'HOST_MASTER_CANNOT_TALK_BACK') return [code, m.address];
  if (code === 'HOST_UNKNOWN_TO_MASTER') return [code, (pool.db.find('host', m.hostRef)?.uuid as string) ?? ''];
  return ['INTERNAL_ERROR', `Unix.Unix_error(Unix.ECONNREFUSED, "connect", "") (master ${pool.master.address})`];
}
