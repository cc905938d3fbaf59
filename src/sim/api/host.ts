/** host.* messages (reference xenapi.md §3, §6). */
import { compareVersions } from '../../domain/versions';
import { NULL_REF } from '../db';
import { fail, XapiFailure } from '../failure';
import { Repository } from '../scenario';
import { ApiCtx, def, str, strMap } from './registry';
import { forwardTo, hostMachine, migrateVm, missingNetwork, missingSr, vmNeeds } from './checks';
import { lacksFeatureFor } from '../guest';

def('host.disable', {
  params: 1,
  handler: (ctx, [h]) => {
    const host = str(h);
    forwardTo(ctx, host);
    if (ctx.pool.poolRec.ha_enabled) fail('HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
    if (ctx.pool.db.get('host', host).enabled) ctx.pool.db.update('host', host, { enabled: false });
    return '';
  },
});

def('host.enable', {
  params: 1,
  handler: (ctx, [h]) => {
    const host = str(h);
    const m = hostMachine(ctx, host);
    if (m.phase === 'xapi-starting') fail('HOST_STILL_BOOTING');
    if (m.pendingOp) fail('HOST_DISABLED_UNTIL_REBOOT');
    if (!m.up) fail('HOST_OFFLINE', host);
    ctx.pool.db.update('host', host, { enabled: true });
    return '';
  },
});

function powerOp(op: 'shutdown' | 'reboot') {
  return (ctx: ApiCtx, [h]: unknown[]) => {
    const host = str(h);
    const m = hostMachine(ctx, host);
    if (m.pendingOp) fail('OTHER_OPERATION_IN_PROGRESS', 'host', host, m.pendingOp);
    forwardTo(ctx, host);
    // Only the disabled state is checked; running guests are not (they die with the host).
    if (ctx.pool.db.get('host', host).enabled) fail('HOST_NOT_DISABLED');
    ctx.sim.issuePowerOp(m, op, ctx.task ?? undefined);
    return '';
  };
}
def('host.shutdown', { params: 1, handler: powerOp('shutdown') });
def('host.reboot', { params: 1, handler: powerOp('reboot') });

interface EvacuationPlan {
  moves: Array<{ vm: string; target: string }>;
  errors: Array<{ vm: string; error: string[] }>;
}

/** Where each VM of the host would go: other enabled live hosts of equal or newer platform (§3). */
export function planEvacuation(ctx: ApiCtx, hostRef: string): EvacuationPlan {
  const { pool, sim } = ctx;
  const source = pool.db.get('host', hostRef);
  const srcPlatform = sim.platformOf(pool, hostRef);
  const candidates = pool.db
    .refs('host')
    .filter((h) => h !== hostRef)
    .filter((h) => pool.db.get('host', h).enabled && sim.isLive(pool, h) && sim.machineOf(pool, h)?.up)
    .filter((h) => compareVersions(sim.platformOf(pool, h), srcPlatform) >= 0);
  const free = new Map(candidates.map((h) => [h, sim.freeMemory(pool, h)]));
  const plan: EvacuationPlan = { moves: [], errors: [] };
  const vms = (source.resident_VMs as string[]).filter((v) => {
    const r = pool.db.get('VM', v);
    return !r.is_control_domain && (r.power_state === 'Running' || r.power_state === 'Paused');
  });
  for (const vm of vms) {
    const x = sim.vmExtra.get(vm);
    if (lacksFeatureFor(pool.db, pool.db.get('VM', vm), 'pool_migrate')) plan.errors.push({ vm, error: ['VM_LACKS_FEATURE', vm] });
    else if (x?.pci) plan.errors.push({ vm, error: ['VM_HAS_PCI_ATTACHED', vm] });
    else if (candidates.length === 0) plan.errors.push({ vm, error: ['NO_HOSTS_AVAILABLE', vm] });
    else {
      const seeing = candidates.filter((h) => !missingSr(pool, vm, h));
      if (seeing.length === 0) {
        plan.errors.push({ vm, error: ['VM_REQUIRES_SR', vm, missingSr(pool, vm, candidates[0])!] });
        continue;
      }
      const connected = seeing.filter((h) => !missingNetwork(pool, vm, h));
      if (connected.length === 0) {
        plan.errors.push({ vm, error: ['VM_REQUIRES_NETWORK', vm, missingNetwork(pool, vm, seeing[0])!] });
        continue;
      }
      const need = vmNeeds(pool.db.get('VM', vm));
      const target = connected.filter((h) => free.get(h)! >= need).sort((a, b) => free.get(b)! - free.get(a)!)[0];
      if (!target) plan.errors.push({ vm, error: ['HOST_NOT_ENOUGH_FREE_MEMORY', vm] });
      else {
        free.set(target, free.get(target)! - need);
        plan.moves.push({ vm, target });
      }
    }
  }
  return plan;
}

def('host.get_vms_which_prevent_evacuation', {
  params: 1,
  handler: (ctx, [h]) => {
    const host = str(h);
    ctx.pool.db.get('host', host);
    const out: Record<string, string[]> = {};
    for (const e of planEvacuation(ctx, host).errors) out[e.vm] = e.error;
    return out;
  },
});

def('host.assert_can_evacuate', {
  params: 1,
  handler: (ctx, [h]) => {
    const host = str(h);
    ctx.pool.db.get('host', host);
    const errors = planEvacuation(ctx, host).errors;
    if (errors.length > 0) fail('CANNOT_EVACUATE_HOST', errors.map((e) => e.error.join(',')).join('|'));
    return '';
  },
});

def('host.evacuate', {
  params: 1,
  handler: async (ctx, [h]) => {
    const host = str(h);
    const m = forwardTo(ctx, host);
    const plan = planEvacuation(ctx, host);
    if (plan.errors.length > 0) throw new XapiFailure(plan.errors[0].error[0], plan.errors[0].error.slice(1));
    m.evacuating = true;
    try {
      let done = 0;
      for (const { vm, target } of plan.moves) {
        await migrateVm(ctx, vm, target);
        ctx.setProgress(++done / plan.moves.length);
      }
    } finally {
      m.evacuating = false;
    }
    const left = (ctx.pool.db.get('host', host).resident_VMs as string[]).filter((v) => !ctx.pool.db.get('VM', v).is_control_domain);
    if (left.length > 0) fail('INTERNAL_ERROR', `host.evacuate: ${left.length} VMs are still resident`);
    return '';
  },
});

def('host.compute_free_memory', { params: 1, handler: (ctx, [h]) => ctx.sim.freeMemory(ctx.pool, str(h)) });
def('host.get_servertime', { params: 1, async: false, handler: (ctx, [h]) => (forwardTo(ctx, str(h)), new Date(ctx.sim.clock.now())) });
def('host.get_server_certificate', {
  params: 1,
  handler: (ctx, [h]) => {
    forwardTo(ctx, str(h));
    return '-----BEGIN CERTIFICATE-----\nMIIBsimulatedcertificate\n-----END CERTIFICATE-----\n';
  },
});

/** host.destroy is `xe host-forget` (R4.2). */
def('host.destroy', {
  params: 1,
  handler: (ctx, [h]) => {
    const host = str(h);
    const { pool, sim } = ctx;
    const rec = pool.db.get('host', host);
    const m = sim.machineOf(pool, host);
    if (pool.master.hostRef === host || sim.isLive(pool, host) || m?.up) fail('HOST_IS_LIVE', host);
    if (pool.poolRec.ha_enabled) fail('HA_IS_ENABLED');
    const resident = (rec.resident_VMs as string[]).filter((v) => !pool.db.get('VM', v).is_control_domain);
    if (resident.length > 0) fail('HOST_HAS_RESIDENT_VMS', host);
    const db = pool.db;
    const dom0 = rec.control_domain as string;
    if (db.has('VM', dom0)) {
      db.delete('VM_metrics', db.get('VM', dom0).metrics as string);
      db.delete('VM', dom0);
    }
    // Real xapi (xapi_host.ml destroy, reference H1) removes the host row, its control domain and (Db_gc) its PBDs.
    // Its local SRs and their VDIs stay, attached nowhere: a VM whose disk was there fails VM_REQUIRES_SR afterwards.
    for (const pbd of [...(rec.PBDs as string[])]) db.delete('PBD', pbd);
    for (const [ref, vm] of db.entries('VM')) if (vm.affinity === host) db.update('VM', ref, { affinity: NULL_REF });
    for (const [ref, u] of db.entries('pool_update'))
      if ((u.hosts as string[]).includes(host)) db.update('pool_update', ref, { hosts: (u.hosts as string[]).filter((x) => x !== host) });
    db.delete('host_metrics', rec.metrics as string);
    db.delete('host', host);
    if (m) m.pool = null;
    sim.refreshRollingUpgrade(pool);
    return '';
  },
});

// ---- prepare_host_upgrade.py (reference §6) ----
const PLUGIN = 'prepare_host_upgrade.py';
const FUNCTIONS = ['testUrl', 'main', 'getVersion', 'testSafe2Upgrade', 'getDom0DefaultMemory'];
/** the plugin as shipped before the RPU hotfix (the public 2011 copy): getVersion & co. are missing (reference L2) */
const OLD_FUNCTIONS = ['testUrl', 'main', 'testSafe2Upgrade'];

function normaliseUrl(u: string): string {
  return u.replace(/^(\w+:\/\/)[^@/]*@/, '$1').replace(/\/+$/, '');
}

function pluginError(fn: string, msg: string): never {
  fail('XENAPI_PLUGIN_FAILURE', fn, 'Exception', msg);
}

function findRepository(ctx: ApiCtx, fn: string, args: Record<string, string>): Repository {
  const url = args.url;
  if (!url) pluginError(fn, 'MISSING_URL');
  const repo = ctx.sim.scenario.repositories.find((r) => normaliseUrl(r.url) === normaliseUrl(url));
  if (!repo || !repo.reachable) pluginError(fn, 'INVALID_URL');
  return repo;
}

def('host.call_plugin', {
  params: 4,
  handler: async (ctx, [h, p, f, a]) => {
    const host = str(h);
    const plugin = str(p);
    const fn = str(f);
    const args = strMap(a);
    const m = forwardTo(ctx, host);
    if (plugin !== PLUGIN) fail('XENAPI_MISSING_PLUGIN', plugin);
    if (!(m.spec.rpuHotfix ? FUNCTIONS : OLD_FUNCTIONS).includes(fn)) fail('UNKNOWN_XENAPI_PLUGIN_FUNCTION', fn);
    switch (fn) {
      case 'testSafe2Upgrade':
        return 'true';
      case 'getDom0DefaultMemory':
        return String(Math.round(m.spec.dom0Memory / 1024 / 1024));
      case 'getVersion': {
        const repo = findRepository(ctx, fn, args);
        return JSON.stringify({ 'product-version': repo.version, 'platform-version': repo.platform, 'build-number': repo.build });
      }
      case 'testUrl': {
        const repo = findRepository(ctx, fn, args);
        if (compareVersions(repo.version, m.installed.product) < 0) pluginError(fn, 'INVALID_VER');
        return 'true';
      }
      default: {
        // main: check (an older repository is INVALID_URL here, reference L1), download and repack the installer into
        // /boot/installer, make the upgrade entry the default boot: minutes on a real host.
        const repo = findRepository(ctx, fn, args);
        if (compareVersions(repo.version, m.installed.product) < 0) pluginError(fn, 'INVALID_URL');
        await ctx.sim.sleepSeconds(ctx.sim.timings.pluginMainSeconds, ctx.signal);
        m.staged = repo;
        return 'true';
      }
    }
  },
});
