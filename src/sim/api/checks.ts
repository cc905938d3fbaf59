/** Shared rules: VM lifecycle checks, SR visibility, memory, placement, migration (reference §3, §4.2). */
import { compareVersions } from '../../domain/versions';
import { NULL_REF, Rec } from '../db';
import { Machine, PoolState, Sim } from '../engine';
import { fail, XapiFailure } from '../failure';
import { GiB } from '../records';
import { lacksFeatureFor } from '../guest';
import { ApiCtx } from './registry';

export function hostMachine(ctx: ApiCtx, hostRef: string): Machine {
  ctx.pool.db.get('host', hostRef);
  const m = ctx.sim.machineOf(ctx.pool, hostRef);
  if (!m) fail('HOST_OFFLINE', hostRef);
  return m;
}

/** Messages forwarded to a host need it live and reachable. */
export function forwardTo(ctx: ApiCtx, hostRef: string): Machine {
  const m = hostMachine(ctx, hostRef);
  if (m.phase === 'xapi-starting') fail('HOST_STILL_BOOTING');
  if (!m.up || !ctx.sim.isLive(ctx.pool, hostRef)) fail('HOST_OFFLINE', hostRef);
  return m;
}

const LOWER = (s: string) => s.toLowerCase();

/** xapi_vm_lifecycle.check_operation_error: the first failing check wins. */
export function checkVmOperation(ctx: ApiCtx, vmRef: string, op: string, states: string[]): Rec {
  const vm = ctx.pool.db.get('VM', vmRef);
  const blocked = vm.blocked_operations as Record<string, string>;
  if (blocked[op] !== undefined) fail('OPERATION_BLOCKED', vmRef, blocked[op] || op);
  if (!states.includes(vm.power_state as string)) fail('VM_BAD_POWER_STATE', vmRef, states.map(LOWER).join(', '), LOWER(vm.power_state as string));
  const current = Object.values(vm.current_operations as Record<string, string>);
  if (current.length > 0) fail('OTHER_OPERATION_IN_PROGRESS', `VM.${current[0]}`, vmRef);
  if (vm.is_a_template) fail('VM_IS_TEMPLATE', vmRef, op);
  if (vm.is_control_domain) fail('OPERATION_NOT_ALLOWED', 'This operation is not allowed on the control domain');
  const x = ctx.sim.vmExtra.get(vmRef);
  const moving = op === 'pool_migrate' || op === 'suspend' || op === 'migrate_send' || op === 'checkpoint';
  // 6. an HVM guest without PV drivers lacking the feature flag the operation needs (guest.ts)
  if (lacksFeatureFor(ctx.pool.db, vm, op)) fail('VM_LACKS_FEATURE', vmRef);
  if (moving && x?.pci) fail('VM_HAS_PCI_ATTACHED', vmRef);
  return vm;
}

/** SRs a VM needs on its host: every non-empty VBD's SR, plus the suspend image's when suspended. */
export function requiredSrs(pool: PoolState, vmRef: string): string[] {
  const vm = pool.db.get('VM', vmRef);
  const srs: string[] = [];
  for (const vbd of vm.VBDs as string[]) {
    const v = pool.db.get('VBD', vbd);
    if (v.empty || v.VDI === NULL_REF) continue;
    const vdi = pool.db.find('VDI', v.VDI as string);
    if (vdi && !srs.includes(vdi.SR as string)) srs.push(vdi.SR as string);
  }
  if (vm.power_state === 'Suspended' && vm.suspend_VDI !== NULL_REF) {
    const vdi = pool.db.find('VDI', vm.suspend_VDI as string);
    if (vdi && !srs.includes(vdi.SR as string)) srs.push(vdi.SR as string);
  }
  return srs;
}

export function hostSeesSr(pool: PoolState, hostRef: string, srRef: string): boolean {
  return pool.db.entries('PBD').some(([, p]) => p.host === hostRef && p.SR === srRef && p.currently_attached === true);
}

export function missingSr(pool: PoolState, vmRef: string, hostRef: string): string | undefined {
  return requiredSrs(pool, vmRef).find((sr) => !hostSeesSr(pool, hostRef, sr));
}

/**
 * assert_can_see_networks (reference top 3): each network of the VM's VIFs needs a PIF on the host; a network with
 * no PIF at all (internal) is pinned to the host where its other running VMs are.
 */
export function missingNetwork(pool: PoolState, vmRef: string, hostRef: string): string | undefined {
  for (const vif of pool.db.get('VM', vmRef).VIFs as string[]) {
    const net = pool.db.get('VIF', vif).network as string;
    const pifs = (pool.db.get('network', net).PIFs as string[]).map((p) => pool.db.get('PIF', p));
    if (pifs.length > 0) {
      if (!pifs.some((p) => p.host === hostRef && p.currently_attached)) return net;
      continue;
    }
    for (const other of pool.db.get('network', net).VIFs as string[]) {
      const vm = pool.db.get('VIF', other).VM as string;
      if (vm === vmRef) continue;
      const r = pool.db.get('VM', vm);
      if ((r.power_state === 'Running' || r.power_state === 'Paused') && r.resident_on !== hostRef) return net;
    }
  }
  return undefined;
}

/** 8-digit hex words, as xapi writes CPU features */
function words(features: string): number[] {
  return features ? features.split('-').map((w) => parseInt(w, 16) >>> 0) : [];
}

/**
 * Cpuid_helpers.assert_vm_is_compatible (reference top 5): the features the VM booted with must all be offered by
 * the target host, else VM_INCOMPATIBLE_WITH_THIS_HOST [vm, host, msg]. Skipped with force.
 */
export function assertCpuCompatible(ctx: ApiCtx, vmRef: string, hostRef: string): void {
  const flags = ctx.pool.db.get('VM', vmRef).last_boot_CPU_flags as Record<string, string>;
  if (!flags?.features) return;
  const offered = words((ctx.pool.db.get('host', hostRef).cpu_info as Record<string, string>).features ?? '');
  const needed = words(flags.features);
  if (needed.some((w, i) => (w & ~(offered[i] ?? 0)) >>> 0 !== 0))
    fail('VM_INCOMPATIBLE_WITH_THIS_HOST', vmRef, hostRef, 'VM last booted on a CPU with features this host does not have');
}

export function vmNeeds(vm: Rec): number {
  return (vm.memory_dynamic_min as number) + (vm.memory_overhead as number);
}

/** VM.assert_can_boot_here. */
export function assertCanBootHere(ctx: ApiCtx, vmRef: string, hostRef: string): void {
  const { pool, sim } = ctx;
  pool.db.get('host', hostRef);
  const m = sim.machineOf(pool, hostRef);
  if (!m || !m.up || !sim.isLive(pool, hostRef)) fail('HOST_NOT_LIVE');
  if (!pool.db.get('host', hostRef).enabled) fail('HOST_DISABLED', hostRef);
  const sr = missingSr(pool, vmRef, hostRef);
  if (sr) fail('VM_REQUIRES_SR', vmRef, sr);
  const net = missingNetwork(pool, vmRef, hostRef);
  if (net) fail('VM_REQUIRES_NETWORK', vmRef, net);
  const vm = pool.db.get('VM', vmRef);
  const needed = vmNeeds(vm);
  const available = sim.freeMemory(pool, hostRef);
  if (vm.resident_on !== hostRef && needed > available) fail('HOST_NOT_ENOUGH_FREE_MEMORY', needed, available);
}

export function isHighestVersion(sim: Sim, pool: PoolState, hostRef: string): boolean {
  return compareVersions(sim.platformOf(pool, hostRef), sim.highestPlatform(pool)) >= 0;
}

/** During an RPU, VMs may only be placed on hosts with the highest platform version (§4.2). */
export function assertPlacementAllowed(ctx: ApiCtx, hostRef: string): void {
  if (ctx.sim.rollingUpgrade(ctx.pool) && !isHighestVersion(ctx.sim, ctx.pool, hostRef)) fail('NOT_SUPPORTED_DURING_UPGRADE');
}

/** xapi's own host choice for VM.start / VM.resume: affinity first, then any host passing the boot checks. */
export function chooseHost(ctx: ApiCtx, vmRef: string): string {
  const { pool, sim } = ctx;
  const vm = pool.db.get('VM', vmRef);
  const hosts = pool.db.refs('host').filter((h) => !sim.rollingUpgrade(pool) || isHighestVersion(sim, pool, h));
  const ordered = [...hosts.filter((h) => h === vm.affinity), ...hosts.filter((h) => h !== vm.affinity)];
  for (const h of ordered) {
    try {
      assertCanBootHere(ctx, vmRef, h);
      if (sim.machineOf(pool, h)?.evacuating) continue;
      return h;
    } catch (err) {
      if (!(err instanceof XapiFailure)) throw err;
    }
  }
  return fail('NO_HOSTS_AVAILABLE');
}

export function setVmRunning(ctx: ApiCtx, vmRef: string, hostRef: string): void {
  const { pool, sim } = ctx;
  const vm = pool.db.get('VM', vmRef);
  pool.db.update('VM', vmRef, {
    power_state: 'Running',
    resident_on: hostRef,
    scheduled_to_be_resident_on: NULL_REF,
    domid: 2 + Math.floor(Math.random() * 1000),
    memory_target: vm.memory_dynamic_max,
    suspend_VDI: NULL_REF,
    suspend_SR: NULL_REF,
  });
  pool.db.update('VM_metrics', vm.metrics as string, { start_time: new Date(sim.clock.now()), memory_actual: vm.memory_dynamic_max });
  for (const vbd of vm.VBDs as string[]) pool.db.update('VBD', vbd, { currently_attached: true });
  sim.refreshVmOperations(pool);
  sim.refreshMemoryFree(pool, hostRef);
}

/** Run `fn` with VM.current_operations showing `op` (OTHER_OPERATION_IN_PROGRESS for others). */
export async function withVmOperation<T>(ctx: ApiCtx, vmRef: string, op: string, fn: () => Promise<T>): Promise<T> {
  const key = ctx.task ?? `OpaqueRef:op-${op}-${Math.random().toString(16).slice(2)}`;
  ctx.pool.db.mutate('VM', vmRef, (r) => ((r.current_operations as Record<string, string>)[key] = op));
  try {
    return await fn();
  } finally {
    if (ctx.pool.db.has('VM', vmRef)) ctx.pool.db.mutate('VM', vmRef, (r) => delete (r.current_operations as Record<string, string>)[key]);
  }
}

/** Live migration inside the pool: reserve memory on the target, copy for size × migrationSecondsPerGiB, switch. */
export async function migrateVm(ctx: ApiCtx, vmRef: string, target: string): Promise<void> {
  const { pool, sim } = ctx;
  const vm = pool.db.get('VM', vmRef);
  const source = vm.resident_on as string;
  const seconds = ((vm.memory_static_max as number) / GiB) * sim.timings.migrationSecondsPerGiB;
  pool.db.update('VM', vmRef, { scheduled_to_be_resident_on: target });
  sim.refreshMemoryFree(pool, target);
  try {
    await sim.sleepSeconds(seconds, ctx.signal);
    const name = vm.name_label as string;
    const fault = sim.takeFault('migration-fails', (f) => f.vm === name);
    if (fault) {
      if (fault.code && fault.code !== 'VM_MIGRATE_FAILED') fail(fault.code, vmRef);
      fail('VM_MIGRATE_FAILED', vmRef, source, target, 'Simulated migration failure (scenario fault)');
    }
    const tm = sim.machineOf(pool, target);
    if (!tm || !tm.up) fail('VM_MIGRATE_FAILED', vmRef, source, target, 'Connection to the destination host was lost');
    pool.db.update('VM', vmRef, { resident_on: target, scheduled_to_be_resident_on: NULL_REF });
    sim.stats.migrations++;
  } finally {
    if (pool.db.has('VM', vmRef)) pool.db.update('VM', vmRef, { scheduled_to_be_resident_on: NULL_REF });
    sim.refreshMemoryFree(pool, target);
    sim.refreshMemoryFree(pool, source);
  }
}
