/**
 * Guests installing new XenServer Tools (R5.1) in the simulator: the administrator runs the Tools ISO in a guest and
 * its agent reports the new PV drivers version in VM_guest_metrics (a `mod` event on event.from, as xapi's
 * guest-metrics update gives). Two deterministic triggers: the admin API / control call (`installGuestTools`), and a
 * scenario VM's `installsToolsAfterSeconds` — that many simulated seconds after every host of the pool runs the same
 * version, newer than the pool's at the start and than its Tools (the guide's order, R5.1), if it is running then.
 */
import { compareVersions } from '../domain/versions';
import type { Clock } from '../clock';
import type { Logger } from '../log';
import { Db, NULL_REF } from './db';
import { guestMetricsRecord } from './records';
import type { Scenario } from './scenario';

/** The parts of the simulator (engine.ts Sim, PoolState) used here: structural, so engine.ts can call in without a cycle. */
interface PoolLike {
  db: Db;
  master: { installed: { product: string } };
}
interface Sim {
  clock: Clock;
  logger: Logger;
  scenario: Scenario;
  vmExtra: Map<string, { tools: string | null }>;
  machines: Map<string, { pool: unknown; installed: { product: string } }>;
  sleepSeconds(s: number): Promise<void>;
}
type PoolState = PoolLike;

const majorMinor = (v: string) => v.split('.').slice(0, 2).join('.');

/** The guest `vmName` reports Tools `version` (default: the master's product version). Throws naming what is wrong. */
export function installGuestTools(sim: Sim, pool: PoolState, vmName: string, version?: string): { vm: string; version: string } {
  const vms = pool.db.entries('VM').filter(([, r]) => !r.is_control_domain && !r.is_a_template);
  const hit = vms.find(([, r]) => r.name_label === vmName);
  if (!hit) throw new Error(`unknown VM "${vmName}" (known: ${vms.map(([, r]) => r.name_label as string).join(', ') || 'none'})`);
  const [ref, vm] = hit;
  if (vm.power_state !== 'Running') throw new Error(`VM "${vmName}" is ${vm.power_state as string}: only a running guest installs Tools`);
  const master = pool.master.installed.product;
  const tools = version ?? master;
  if (!/^\d+(\.\d+){1,2}$/.test(tools)) throw new Error(`version: expected a version like 7.6.0 (got "${tools}")`);
  const upToDate = compareVersions(majorMinor(tools), majorMinor(master)) >= 0;
  const gm = vm.guest_metrics as string;
  const now = sim.clock.now();
  const [major, minor, micro] = tools.split('.');
  if (gm === NULL_REF || !pool.db.has('VM_guest_metrics', gm)) {
    const os = sim.scenario.vms.find((v) => v.name === vmName)?.os ?? 'CentOS 7';
    pool.db.update('VM', ref, { guest_metrics: pool.db.create('VM_guest_metrics', guestMetricsRecord(tools, os, upToDate, [], now)) });
  } else {
    pool.db.update('VM_guest_metrics', gm, {
      PV_drivers_version: { major, minor, micro: micro ?? '0', build: '1' },
      PV_drivers_up_to_date: upToDate,
      PV_drivers_detected: true,
      can_use_hotplug_vbd: 'yes',
      can_use_hotplug_vif: 'yes',
      last_updated: new Date(now),
    });
  }
  const extra = sim.vmExtra.get(ref);
  if (extra) extra.tools = tools;
  sim.logger.info({ vm: vmName, tools }, 'sim: guest installed XenServer Tools');
  return { vm: vmName, version: tools };
}

/** per simulator: the VM names whose timed install was scheduled, by version */
const scheduled = new WeakMap<Sim, Set<string>>();

/**
 * Called when a host finishes booting: once every host runs one version newer than the pool's at the start (an
 * upgrade finished), each scenario VM with `installsToolsAfterSeconds` whose Tools are older installs that version
 * after its delay (once per version).
 */
export function scheduleGuestTools(sim: Sim, pool: PoolState): void {
  const products = [...sim.machines.values()].filter((m) => m.pool === pool).map((m) => m.installed.product);
  if (products.length === 0 || new Set(products).size !== 1) return;
  const version = products[0];
  // an upgrade happened: the pool's one version is newer than its master's at the start of the scenario
  const startedOn = sim.scenario.hosts.find((h) => h.master)?.productVersion;
  if (startedOn !== undefined && compareVersions(version, startedOn) <= 0) return;
  const done = scheduled.get(sim) ?? new Set<string>();
  scheduled.set(sim, done);
  for (const v of sim.scenario.vms) {
    if (v.installsToolsAfterSeconds === undefined || done.has(`${v.name}@${version}`)) continue;
    const ref = pool.db.entries('VM').find(([, r]) => r.name_label === v.name)?.[0];
    const tools = ref ? sim.vmExtra.get(ref)?.tools : undefined;
    if (!ref || tools === null || tools === undefined || compareVersions(tools, version) >= 0) continue;
    done.add(`${v.name}@${version}`);
    const after = v.installsToolsAfterSeconds;
    void sim
      .sleepSeconds(after)
      .then(() => installGuestTools(sim, pool, v.name, version))
      .catch((err: unknown) => sim.logger.info({ vm: v.name, err: (err as Error).message }, 'sim: timed Tools install skipped'));
  }
}
