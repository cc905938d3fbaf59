/** pool.* and pool_update.* messages (reference §3). */
import { compareVersions } from '../../domain/versions';
import { joinPool } from '../build';
import { fail } from '../failure';
import { MiB, poolUpdateRecord, vdiRecord } from '../records';
import { ApiCtx, def, num, str, strList, strMap } from './registry';
import { forwardTo } from './checks';
import { applyHotfix, hotfixOf, introduceHotfix, precheckHotfix } from './updates';

def('pool.enable_ha', {
  params: 2,
  min: 0,
  handler: async (ctx, [srs, config]) => {
    const { pool, sim } = ctx;
    if (sim.rollingUpgrade(pool)) fail('NOT_SUPPORTED_DURING_UPGRADE');
    if (pool.poolRec.ha_enabled) fail('HA_IS_ENABLED');
    const heartbeat = srs === undefined ? [] : strList(srs);
    const sr = heartbeat[0] ?? (pool.poolRec.default_SR as string);
    pool.db.get('SR', sr);
    await sim.sleepSeconds(sim.timings.haEnableSeconds, ctx.signal);
    const statefile = pool.db.create('VDI', vdiRecord({ name: 'Statefile for HA', sr, size: 4 * MiB, type: 'ha_statefile', readOnly: false, isToolsIso: false }));
    const ftt = (pool.poolRec.ha_host_failures_to_tolerate as number) || 1;
    pool.db.update('pool', pool.poolRef, {
      ha_enabled: true,
      ha_statefiles: [statefile],
      ha_configuration: strMap(config),
      ha_host_failures_to_tolerate: ftt,
      ha_plan_exists_for: ftt,
    });
    return '';
  },
});

def('pool.disable_ha', {
  params: 0,
  handler: async (ctx) => {
    const { pool, sim } = ctx;
    if (!pool.poolRec.ha_enabled) fail('HA_NOT_ENABLED');
    await sim.sleepSeconds(sim.timings.haDisableSeconds, ctx.signal);
    for (const vdi of pool.poolRec.ha_statefiles as string[]) if (pool.db.has('VDI', vdi)) pool.db.delete('VDI', vdi);
    pool.db.update('pool', pool.poolRef, { ha_enabled: false, ha_statefiles: [], ha_plan_exists_for: 0 });
    return '';
  },
});

def('pool.set_ha_host_failures_to_tolerate', {
  params: 2,
  handler: (ctx, [, n]) => {
    ctx.pool.db.update('pool', ctx.pool.poolRef, { ha_host_failures_to_tolerate: num(n) });
    return '';
  },
});

/** pool.join runs on the joining (fresh, stand-alone) host and checks it against the pool's master. */
def('pool.join', {
  params: 3,
  handler: async (ctx: ApiCtx, [addr, user, pass]) => {
    const { sim, pool: local, machine } = ctx;
    const address = str(addr);
    const target = sim.pool;
    const master = target.master;
    if (local === target) fail('HOST_IS_ALREADY_IN_POOL'); // not an xapi code path we model further
    if (master.address !== address || !sim.masterUp(target)) fail('JOINING_HOST_CONNECTION_FAILED');
    if (str(user) !== sim.credentials.username || str(pass) !== sim.credentials.password)
      fail('SESSION_AUTHENTICATION_FAILED', str(user), 'Authentication failure');
    if (target.poolRec.ha_enabled) fail('HA_IS_ENABLED');
    if (local.db.refs('host').length > 1) fail('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS');
    if (local.db.entries('VM').some(([, r]) => !r.is_control_domain && r.power_state === 'Running')) fail('JOINING_HOST_CANNOT_HAVE_RUNNING_VMS');
    if (local.db.entries('SR').some(([, r]) => r.shared)) fail('JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS');
    const me = local.db.get('host', machine.hostRef);
    const them = target.db.get('host', master.hostRef);
    const api = (h: typeof me) => `${h.API_version_major as number}.${h.API_version_minor as number}`;
    if (api(me) !== api(them)) fail('POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', api(me), api(them));
    const sv = (h: typeof me) => h.software_version as Record<string, string>;
    if (compareVersions(sv(me).platform_version, sv(them).platform_version) !== 0 || sv(me).build_number !== sv(them).build_number)
      fail('HOSTS_NOT_HOMOGENEOUS', 'Software version differs');
    if ((me.cpu_info as Record<string, string>).vendor !== (them.cpu_info as Record<string, string>).vendor) fail('HOSTS_NOT_HOMOGENEOUS', 'CPUs differ');
    // Accepted: metadata import and PBD set-up take minutes (reference H4); then the host becomes a slave and its
    // xapi restarts (answers HOST_STILL_BOOTING meanwhile).
    await sim.sleepSeconds(sim.timings.poolJoinSeconds, ctx.signal);
    if (!sim.masterUp(target)) fail('JOINING_HOST_CONNECTION_FAILED');
    joinPool(sim, target, machine);
    sim.restartAgentAsSlave(machine);
    return '';
  },
});

// ---- pool_update ----
def('pool_update.introduce', {
  params: 1,
  handler: (ctx, [v]) => {
    const vdi = str(v);
    const { pool, sim } = ctx;
    pool.db.get('VDI', vdi);
    const spec = sim.updateVdis.get(vdi);
    if (!spec) return introduceHotfix(ctx, vdi); // an uploaded hotfix ISO (R3.10): its update.xml decides
    const existing = pool.db.entries('pool_update').find(([, u]) => u.name_label === spec.name);
    if (existing) fail('UPDATE_ALREADY_EXISTS', existing[1].uuid as string);
    return pool.db.create('pool_update', poolUpdateRecord({ name: spec.name, version: spec.version, vdi }));
  },
});

function updateSpec(ctx: ApiCtx, ref: string) {
  const u = ctx.pool.db.get('pool_update', ref);
  const spec = ctx.sim.updateVdis.get(u.vdi as string);
  if (!spec) fail('INVALID_UPDATE', 'update ISO is no longer available');
  return { u, spec };
}

function precheck(ctx: ApiCtx, ref: string, host: string): string {
  const { u, spec } = updateSpec(ctx, ref);
  const m = forwardTo(ctx, host);
  if ((u.hosts as string[]).includes(host)) fail('UPDATE_ALREADY_APPLIED');
  const product = m.installed.product;
  const ok = spec.from ? spec.from.includes(product) : compareVersions(product, spec.version) < 0;
  if (!ok) fail('UPDATE_PRECHECK_FAILED_WRONG_SERVER_VERSION', product, spec.from ? spec.from.join(', ') : `< ${spec.version}`);
  return 'ok';
}

def('pool_update.precheck', {
  params: 2,
  handler: async (ctx, [u, h]) => {
    const hotfix = hotfixOf(ctx, str(u));
    const result = hotfix ? precheckHotfix(ctx, str(u), str(h), hotfix) : precheck(ctx, str(u), str(h));
    await ctx.sim.sleepSeconds(ctx.sim.timings.updatePrecheckSeconds, ctx.signal); // the host's precheck script
    return result;
  },
});

async function apply(ctx: ApiCtx, ref: string, host: string): Promise<void> {
  const hotfix = hotfixOf(ctx, ref);
  if (hotfix) {
    const result = precheckHotfix(ctx, ref, host, hotfix);
    await ctx.sim.sleepSeconds(ctx.sim.timings.updateApplySeconds, ctx.signal);
    forwardTo(ctx, host);
    applyHotfix(ctx, ref, host, hotfix, result);
    return;
  }
  precheck(ctx, ref, host);
  const { spec } = updateSpec(ctx, ref);
  await ctx.sim.sleepSeconds(ctx.sim.timings.updateApplySeconds, ctx.signal);
  const m = forwardTo(ctx, host);
  const db = ctx.pool.db;
  db.mutate('pool_update', ref, (r) => void (r.hosts as string[]).push(host));
  db.mutate('host', host, (r) => {
    (r.updates as string[]).push(ref);
    (r.updates_requiring_reboot as string[]).push(ref);
  });
  m.pendingUpdate = spec; // after_apply_guidance: restartHost
}

def('pool_update.apply', {
  params: 2,
  handler: async (ctx, [u, h]) => {
    await apply(ctx, str(u), str(h));
    return '';
  },
});

def('pool_update.pool_apply', {
  params: 1,
  handler: async (ctx, [u]) => {
    const ref = str(u);
    const failed: string[] = [];
    for (const host of ctx.pool.db.refs('host')) {
      if ((ctx.pool.db.get('pool_update', ref).hosts as string[]).includes(host)) continue;
      try {
        await apply(ctx, ref, host);
      } catch {
        failed.push(host);
      }
    }
    if (failed.length > 0) fail('UPDATE_POOL_APPLY_FAILED', failed.join(','));
    return '';
  },
});

/**
 * As xapi's Xapi_pool_update.pool_clean (ocaml/xapi/xapi_pool_update.ml in xapi-project/xen-api): detach, then
 * VDI.destroy of the update's VDI, then vdi := OpaqueRef:NULL. The record stays, so host.updates and
 * pool_update.hosts still list it. An unknown update is HANDLE_INVALID; a second pool_clean (vdi already null, or a
 * VDI destroyed meanwhile) fails in its VDI.destroy with HANDLE_INVALID VDI, as on a real pool.
 */
def('pool_update.pool_clean', {
  params: 1,
  handler: (ctx, [u]) => {
    const ref = str(u);
    const { db } = ctx.pool;
    const vdi = db.get('pool_update', ref).vdi as string;
    const rec = db.get('VDI', vdi);
    if ((rec.VBDs as string[]).length > 0) fail('VDI_IN_USE', vdi, 'destroy');
    db.delete('VDI', vdi);
    ctx.sim.vdiContent.delete(vdi);
    ctx.sim.updateVdis.delete(vdi);
    db.update('pool_update', ref, { vdi: 'OpaqueRef:NULL' });
    return '';
  },
});
def('pool_update.destroy', {
  params: 1,
  handler: (ctx, [u]) => {
    const ref = str(u);
    const rec = ctx.pool.db.get('pool_update', ref);
    if ((rec.hosts as string[]).length > 0) fail('UPDATE_IS_APPLIED');
    ctx.pool.db.delete('pool_update', ref);
    return '';
  },
});
