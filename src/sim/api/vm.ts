/** VM.* and VBD.* messages (reference §3, §4.2). */
import { compareVersions } from '../../domain/versions';
import { NULL_REF } from '../db';
import { fail } from '../failure';
import { GiB, vdiRecord } from '../records';
import { lacksFeatureFor } from '../guest';
import { ApiCtx, def, str, strMap } from './registry';
import {
  assertCanBootHere,
  assertCpuCompatible,
  assertPlacementAllowed,
  checkVmOperation,
  chooseHost,
  forwardTo,
  hostMachine,
  migrateVm,
  setVmRunning,
  withVmOperation,
} from './checks';

const VM_OP_SECONDS = 5;

def('VM.pool_migrate', {
  params: 3,
  handler: async (ctx, [v, h, o]) => {
    const vm = str(v);
    const target = str(h);
    ctx.pool.db.get('host', target);
    if (strMap(o).force !== 'true') assertCpuCompatible(ctx, vm, target); // the first check, before the lifecycle's
    const rec = checkVmOperation(ctx, vm, 'pool_migrate', ['Running']);
    ctx.pool.db.get('host', target);
    const source = rec.resident_on as string;
    if (target === source) return '';
    // R3.4: never from a newer host back to an older one.
    if (compareVersions(ctx.sim.platformOf(ctx.pool, target), ctx.sim.platformOf(ctx.pool, source)) < 0) fail('NOT_SUPPORTED_DURING_UPGRADE');
    assertCanBootHere(ctx, vm, target);
    await withVmOperation(ctx, vm, 'pool_migrate', () => migrateVm(ctx, vm, target));
    return '';
  },
});

def('VM.assert_can_boot_here', {
  params: 2,
  handler: (ctx, [v, h]) => {
    const vm = str(v);
    const host = str(h);
    assertCanBootHere(ctx, vm, host);
    if (ctx.sim.rollingUpgrade(ctx.pool) && compareVersions(ctx.sim.platformOf(ctx.pool, host), ctx.sim.platformOf(ctx.pool, ctx.pool.master.hostRef)) !== 0)
      fail('VM_HOST_INCOMPATIBLE_VERSION', host, vm);
    return '';
  },
});

/** xapi's start_paused (VM.start/start_on/resume/resume_on): the domain is built but left Paused, not unpaused */
const flag = (x: unknown): boolean => x === true || x === 'true';

function leavePaused(ctx: ApiCtx, vm: string): void {
  ctx.pool.db.update('VM', vm, { power_state: 'Paused' });
  ctx.sim.refreshVmOperations(ctx.pool);
}

async function startOn(ctx: ApiCtx, vm: string, host: string, paused = false): Promise<void> {
  await withVmOperation(ctx, vm, 'start', async () => {
    await ctx.sim.sleepSeconds(VM_OP_SECONDS, ctx.signal);
    assertCanBootHere(ctx, vm, host);
    setVmRunning(ctx, vm, host);
    if (paused) leavePaused(ctx, vm);
    const h = ctx.pool.db.get('host', host);
    const cpu = h.cpu_info as Record<string, string>;
    ctx.pool.db.update('VM', vm, { last_boot_CPU_flags: { vendor: cpu.vendor ?? '', features: cpu.features ?? '' } });
  });
}

def('VM.start', {
  params: 3,
  min: 1,
  handler: async (ctx, [v, p]) => {
    const vm = str(v);
    checkVmOperation(ctx, vm, 'start', ['Halted']);
    await startOn(ctx, vm, chooseHost(ctx, vm), flag(p));
    return '';
  },
});

def('VM.start_on', {
  params: 4,
  min: 2,
  handler: async (ctx, [v, h, p]) => {
    const vm = str(v);
    const host = str(h);
    checkVmOperation(ctx, vm, 'start_on', ['Halted']);
    ctx.pool.db.get('host', host);
    assertPlacementAllowed(ctx, host);
    if (hostMachine(ctx, host).evacuating) fail('HOST_EVACUATE_IN_PROGRESS', host);
    assertCanBootHere(ctx, vm, host);
    await startOn(ctx, vm, host, flag(p));
    return '';
  },
});

def('VM.suspend', {
  params: 1,
  handler: async (ctx, [v]) => {
    const vm = str(v);
    const rec = checkVmOperation(ctx, vm, 'suspend', ['Running']);
    const { pool, sim } = ctx;
    const sr = pool.poolRec.suspend_image_SR as string;
    if (sr === NULL_REF) fail('VM_NO_SUSPEND_SR', vm);
    await withVmOperation(ctx, vm, 'suspend', async () => {
      await sim.sleepSeconds(((rec.memory_static_max as number) / GiB) * sim.timings.migrationSecondsPerGiB, ctx.signal);
      const host = pool.db.get('VM', vm).resident_on as string;
      const cdInserted = (rec.VBDs as string[]).some((b) => {
        const vbd = pool.db.get('VBD', b);
        return vbd.type === 'CD' && !vbd.empty;
      });
      const image = pool.db.create(
        'VDI',
        vdiRecord({ name: `Suspend image for ${rec.name_label as string}`, sr, size: rec.memory_static_max as number, type: 'suspend', readOnly: false, isToolsIso: false }),
      );
      pool.db.update('VM', vm, { power_state: 'Suspended', resident_on: NULL_REF, suspend_VDI: image, suspend_SR: sr, domid: -1 });
      for (const b of rec.VBDs as string[]) pool.db.update('VBD', b, { currently_attached: false });
      const x = sim.vmExtra.get(vm);
      if (x) x.suspendedWith = { platform: sim.platformOf(pool, host), cdInserted };
      sim.refreshVmOperations(pool);
      sim.refreshMemoryFree(pool, host);
    });
    return '';
  },
});

/** R2.3: a VM suspended with a disc inserted cannot resume on a host whose version changed since. */
function assertResumable(ctx: ApiCtx, vm: string, host: string): void {
  const x = ctx.sim.vmExtra.get(vm)?.suspendedWith;
  if (x?.cdInserted && compareVersions(ctx.sim.platformOf(ctx.pool, host), x.platform) !== 0)
    fail(
      'INTERNAL_ERROR',
      `xenopsd internal error: Failed to resume: the emulated CD drive of the suspend image (platform ${x.platform}) cannot be restored on platform ${ctx.sim.platformOf(ctx.pool, host)}`,
    );
}

async function resumeOn(ctx: ApiCtx, vm: string, host: string, force = false, paused = false): Promise<void> {
  if (!force) assertCpuCompatible(ctx, vm, host);
  assertResumable(ctx, vm, host);
  await withVmOperation(ctx, vm, 'resume', async () => {
    const rec = ctx.pool.db.get('VM', vm);
    await ctx.sim.sleepSeconds(((rec.memory_static_max as number) / GiB) * ctx.sim.timings.migrationSecondsPerGiB, ctx.signal);
    assertCanBootHere(ctx, vm, host);
    const image = rec.suspend_VDI as string;
    setVmRunning(ctx, vm, host);
    if (paused) leavePaused(ctx, vm);
    if (image !== NULL_REF && ctx.pool.db.has('VDI', image)) ctx.pool.db.delete('VDI', image);
    const x = ctx.sim.vmExtra.get(vm);
    if (x) delete x.suspendedWith;
  });
}

def('VM.resume', {
  params: 3,
  min: 1,
  handler: async (ctx, [v, p]) => {
    const vm = str(v);
    checkVmOperation(ctx, vm, 'resume', ['Suspended']);
    await resumeOn(ctx, vm, chooseHost(ctx, vm), false, flag(p));
    return '';
  },
});

def('VM.resume_on', {
  params: 4,
  min: 2,
  handler: async (ctx, [v, h, p, f]) => {
    const vm = str(v);
    const host = str(h);
    checkVmOperation(ctx, vm, 'resume_on', ['Suspended']);
    ctx.pool.db.get('host', host);
    assertPlacementAllowed(ctx, host);
    assertCanBootHere(ctx, vm, host);
    await resumeOn(ctx, vm, host, flag(f), flag(p));
    return '';
  },
});

async function halt(ctx: ApiCtx, vm: string, op: string): Promise<void> {
  await withVmOperation(ctx, vm, op, async () => {
    await ctx.sim.sleepSeconds(VM_OP_SECONDS, ctx.signal);
    const rec = ctx.pool.db.get('VM', vm);
    const image = rec.suspend_VDI as string;
    ctx.sim.haltVm(ctx.pool, vm);
    ctx.pool.db.update('VM', vm, { suspend_VDI: NULL_REF, suspend_SR: NULL_REF });
    for (const b of rec.VBDs as string[]) ctx.pool.db.update('VBD', b, { currently_attached: false });
    if (image !== NULL_REF && ctx.pool.db.has('VDI', image)) ctx.pool.db.delete('VDI', image);
    const x = ctx.sim.vmExtra.get(vm);
    if (x) delete x.suspendedWith;
  });
}

def('VM.clean_shutdown', {
  params: 1,
  handler: async (ctx, [v]) => {
    const vm = str(v);
    checkVmOperation(ctx, vm, 'clean_shutdown', ['Running']);
    await halt(ctx, vm, 'clean_shutdown');
    return '';
  },
});

def('VM.hard_shutdown', {
  params: 1,
  handler: async (ctx, [v]) => {
    const vm = str(v);
    checkVmOperation(ctx, vm, 'hard_shutdown', ['Running', 'Paused', 'Suspended']);
    await halt(ctx, vm, 'hard_shutdown');
    return '';
  },
});

def('VM.shutdown', {
  params: 1,
  handler: async (ctx, [v]) => {
    const vm = str(v);
    const rec = checkVmOperation(ctx, vm, 'shutdown', ['Running', 'Paused', 'Suspended']);
    // VM.shutdown tries a clean shutdown and falls back to a hard one (no feature check of its own)
    const clean = rec.power_state === 'Running' && !lacksFeatureFor(ctx.pool.db, rec, 'clean_shutdown');
    await halt(ctx, vm, clean ? 'clean_shutdown' : 'hard_shutdown');
    return '';
  },
});

def('VM.pause', {
  params: 1,
  handler: (ctx, [v]) => {
    const vm = str(v);
    checkVmOperation(ctx, vm, 'pause', ['Running']);
    ctx.pool.db.update('VM', vm, { power_state: 'Paused' });
    ctx.sim.refreshVmOperations(ctx.pool);
    return '';
  },
});

def('VM.unpause', {
  params: 1,
  handler: (ctx, [v]) => {
    const vm = str(v);
    checkVmOperation(ctx, vm, 'unpause', ['Paused']);
    ctx.pool.db.update('VM', vm, { power_state: 'Running' });
    ctx.sim.refreshVmOperations(ctx.pool);
    return '';
  },
});

// blocked_operations (a map op → reason): OPERATION_BLOCKED [vm, reason] is the first lifecycle check.
def('VM.set_blocked_operations', {
  params: 2,
  async: false,
  handler: (ctx, [v, m]) => {
    ctx.pool.db.update('VM', str(v), { blocked_operations: strMap(m) });
    return '';
  },
});
def('VM.add_to_blocked_operations', {
  params: 3,
  async: false,
  handler: (ctx, [v, k, x]) => {
    ctx.pool.db.mutate('VM', str(v), (r) => ((r.blocked_operations as Record<string, string>)[str(k)] = str(x)));
    return '';
  },
});
def('VM.remove_from_blocked_operations', {
  params: 2,
  async: false,
  handler: (ctx, [v, k]) => {
    ctx.pool.db.mutate('VM', str(v), (r) => delete (r.blocked_operations as Record<string, string>)[str(k)]);
    return '';
  },
});

def('VBD.eject', {
  params: 1,
  handler: (ctx, [b]) => {
    const vbd = str(b);
    const rec = ctx.pool.db.get('VBD', vbd);
    if (rec.type !== 'CD') fail('VBD_NOT_REMOVABLE_MEDIA', vbd);
    if (rec.empty) fail('VBD_IS_EMPTY', vbd);
    const vm = ctx.pool.db.get('VM', rec.VM as string);
    if (vm.power_state === 'Suspended') fail('VM_BAD_POWER_STATE', rec.VM as string, 'running, halted', 'suspended');
    ctx.pool.db.update('VBD', vbd, { VDI: NULL_REF, empty: true, allowed_operations: ['insert'] });
    return '';
  },
});

def('VBD.insert', {
  params: 2,
  handler: (ctx, [b, d]) => {
    const vbd = str(b);
    const vdi = str(d);
    const rec = ctx.pool.db.get('VBD', vbd);
    ctx.pool.db.get('VDI', vdi);
    if (rec.type !== 'CD') fail('VBD_NOT_REMOVABLE_MEDIA', vbd);
    if (!rec.empty) fail('VBD_NOT_EMPTY', vbd);
    ctx.pool.db.update('VBD', vbd, { VDI: vdi, empty: false, allowed_operations: ['eject'] });
    return '';
  },
});

/** PBD.plug: attach the SR on the PBD's host (reference top 2); a `pbd-plug-fails` fault refuses it. */
def('PBD.plug', {
  params: 1,
  handler: (ctx, [p]) => {
    const pbd = str(p);
    const rec = ctx.pool.db.get('PBD', pbd);
    const m = forwardTo(ctx, rec.host as string);
    if (rec.currently_attached) return '';
    const srName = ctx.pool.db.get('SR', rec.SR as string).name_label as string;
    const f = ctx.sim.takeFault('pbd-plug-fails', (x) => x.host === m.name && (!x.sr || x.sr === srName));
    if (f) fail(f.code ?? 'SR_BACKEND_FAILURE_47', '', `The SR is not available [opterr=simulated plug failure of ${srName}]`, '');
    ctx.pool.db.update('PBD', pbd, { currently_attached: true });
    return '';
  },
});
