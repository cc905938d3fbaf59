/**
 * Restore after an abort (issue 10.7): put back what the run changed on the host it was working on — re-enable the
 * host if the run disabled it, start or resume the VMs the run stopped for it, re-enable HA if the run disabled it
 * (R2.4; xapi refuses HA while the pool is mixed, which is then said). Live migrations are not undone.
 *
 * restoreOffer() is pure (what the run's records say could be put back); executeRestore() re-reads the live pool and
 * does only what is still needed, each side effect audited before it is sent, so a second Restore after a crash or
 * a double click repeats nothing that is already back.
 */
import type { Ref, RestoreRecord, Run } from '../domain/types';
import type { AuditKind } from './audit';
import { toStepError } from './errors';
import { describeHost, readLivePool } from './pool-state';
import type { PoolClient } from './ports';
import { hostRemap } from './remap';
import type { HaSaved } from './steps/pool-prep';
import type { StoppedVm } from './steps/stop-vms';

export interface RestoreOffer {
  /** the host the run was working on when it stopped */
  host?: { ref: Ref; name: string };
  /** the run disabled it (its disable step found it enabled) */
  enableHost: boolean;
  /** VMs the run suspended or shut down for that host */
  vms: Array<{ ref: Ref } & StoppedVm>;
  /** the run disabled HA */
  ha?: HaSaved;
}

/** The host of the last host step the run started (the one it was working on when it stopped). */
function currentHost(run: Run): { ref: Ref; name: string } | undefined {
  const started = run.steps.filter((s) => s.host && s.state !== 'pending' && s.state !== 'skipped');
  const last = started[started.length - 1];
  return last?.host ? { ref: hostRemap(run).get(last.host) ?? last.host, name: last.hostName ?? last.host } : undefined;
}

export function restoreOffer(run: Run): RestoreOffer | undefined {
  if (run.state !== 'aborted') return undefined;
  const host = currentHost(run);
  const stepOf = (kind: string) => (host ? run.steps.find((s) => s.kind === kind && s.hostName === host.name) : undefined);
  const disable = stepOf('disable');
  const enableHost = !!disable && disable.data?.wasEnabled === true && stepOf('enable')?.state !== 'done';
  const stopped = (stepOf('stop-vms')?.data?.stopped ?? {}) as Record<string, StoppedVm>;
  const vms = stepOf('restore-vms')?.state === 'done' ? [] : Object.entries(stopped).filter(([, v]) => !v.untouched).map(([ref, v]) => ({ ref, ...v }));
  const ha = run.steps.find((s) => s.kind === 'pool-prep')?.data?.ha as HaSaved | undefined;
  const offer: RestoreOffer = { host, enableHost, vms, ...(ha?.wasEnabled ? { ha } : {}) };
  return offer.enableHost || offer.vms.length || offer.ha ? offer : undefined;
}

export interface RestoreDeps {
  client: PoolClient;
  audit: (runId: string, kind: AuditKind, actor: string, message: string, detail?: Record<string, unknown>) => Promise<void>;
  /** persist progress before each side effect (the record says what Restore has done so far) */
  save: (record: RestoreRecord) => Promise<void>;
}

/** Do what is still needed of the offer on the live pool; returns what was done and what could not be. */
export async function executeRestore(deps: RestoreDeps, run: Run, offer: RestoreOffer, record: RestoreRecord): Promise<RestoreRecord> {
  const { client } = deps;
  const rec: RestoreRecord = { ...record, did: [...record.did], left: [] };
  const act = async (method: string, params: unknown[], target: string): Promise<void> => {
    await deps.audit(run.id, 'xenapi', rec.by, `${method} ${target} (Restore after abort)`, { method, target });
    await client.call(method, params);
  };
  const failed = (what: string, err: unknown) => {
    const e = toStepError(err);
    rec.left.push(`${what}: the pool answered ${e.code ?? 'an error'}${e.message && e.message !== e.code ? ` (${e.message})` : ''}`);
  };
  let pool = await readLivePool(client);
  const host = offer.host ? pool.hosts.find((h) => h.ref === offer.host!.ref) : undefined;

  if (offer.enableHost && offer.host) {
    if (!host) rec.left.push(`${offer.host.name} is no longer a member of the pool: nothing to enable`);
    else if (!host.live) rec.left.push(`${host.name} is not live, so it cannot be enabled now (${describeHost(host)}); enable it once it is back (xe host-enable)`);
    else if (!host.enabled) {
      try {
        await act('host.enable', [host.ref], host.name);
        rec.did.push(`${host.name} enabled`);
      } catch (err) {
        failed(`enabling ${host.name}`, err);
      }
      await deps.save(rec);
    }
  }

  pool = await readLivePool(client);
  for (const vm of offer.vms) {
    const live = pool.vms.find((v) => v.ref === vm.ref);
    if (!live) {
      rec.left.push(`${vm.name} no longer exists in the pool`);
      continue;
    }
    if (live.powerState === 'Running') continue;
    const on = pool.hosts.find((h) => h.ref === (hostRemap(run).get(vm.host) ?? vm.host));
    if (!on || !on.live) {
      rec.left.push(`${vm.name} (${live.powerState}): its host ${on?.name ?? offer.host?.name ?? '?'} is not live; start or resume it once the host is back`);
      continue;
    }
    try {
      if (live.powerState === 'Suspended') await act('VM.resume_on', [vm.ref, on.ref, false, false], `${vm.name} on ${on.name}`);
      else if (live.powerState === 'Halted') await act('VM.start_on', [vm.ref, on.ref, false, false], `${vm.name} on ${on.name}`);
      else if (live.powerState === 'Paused') await act('VM.unpause', [vm.ref], vm.name);
      rec.did.push(`${vm.name} ${live.powerState === 'Suspended' ? 'resumed' : 'started'} on ${on.name}`);
    } catch (err) {
      failed(`${vm.name} (${live.powerState})`, err);
    }
    await deps.save(rec);
  }

  if (offer.ha) {
    pool = await readLivePool(client);
    if (!pool.haEnabled) {
      const versions = new Set(pool.hosts.map((h) => `${h.product}/${h.build}`));
      if (versions.size > 1) {
        rec.left.push('HA stays off: the pool is in mixed mode and xapi refuses HA until every host runs the same version (R2.4, R3.5)');
      } else {
        try {
          await act('pool.enable_ha', [offer.ha.heartbeatSrs, offer.ha.configuration], `pool ${run.pool}`);
          rec.did.push('HA re-enabled');
        } catch (err) {
          failed('re-enabling HA', err);
        }
        await deps.save(rec);
      }
    }
  }
  rec.state = rec.left.length ? 'partial' : 'done';
  return rec;
}
