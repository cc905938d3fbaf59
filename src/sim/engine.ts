/**
 * The simulated machines and the pool they form. A Machine is a physical host (address, power phase,
 * installed version); a PoolState is a xapi database with its master and sessions. Machines move
 * through shutdown → off → installing → booting → xapi-starting → running, every wait on the Clock.
 */
import { scheduleGuestTools } from './guest-tools';
import type { UpdateMetadata } from '../updates/metadata';
import type { XapiRole } from '../domain/rbac';
import { Clock } from '../clock';
import { Logger } from '../log';
import { compareVersions } from '../domain/versions';
import { Db, NULL_REF, Rec } from './db';
import { XapiFailure } from './failure';
import { ParsedFault, Repository, Scenario, Timings, UpdateSpec } from './scenario';
import { InstalledVersion, apiVersionOf, softwareVersion } from './versions';
import { vmAllowedOperations } from './records';
import { lacksFeatureFor } from './guest';
import type { HostCertificate, TestCa } from './certs';
import { emergencyAnswer, plugPbdsAtBoot } from './boot';

export type Phase = 'running' | 'shutting-down' | 'off' | 'installing' | 'booting' | 'xapi-starting';

export interface MachineSpec {
  memory: number;
  dom0Memory: number;
  cpus: number;
  cpuVendor: string;
  /** cpu_info.features; an install from a repository with cpuFeatures changes it */
  cpuFeatures: string;
  sanBoot: boolean;
  multipathing: boolean;
  /** the RPU hotfix and its newer upgrade plugin are installed (getVersion & co. exist) */
  rpuHotfix: boolean;
}

export interface Listener {
  open(): Promise<void>;
  close(): Promise<void>;
}

export class PoolState {
  /** role undefined: the local superuser (root), as xapi's is_local_superuser */
  readonly sessions = new Map<string, { user: string; originator: string; role?: XapiRole }>();
  readonly taskControllers = new Map<string, AbortController>();
  constructor(
    readonly db: Db,
    public master: Machine,
  ) {}
  get poolRef(): string {
    return this.db.refs('pool')[0];
  }
  get poolRec(): Rec {
    return this.db.get('pool', this.poolRef);
  }
}

export class Machine {
  phase: Phase = 'running';
  pool: PoolState | null = null;
  hostRef = NULL_REF;
  staged: Repository | null = null;
  pendingUpdate: UpdateSpec | null = null;
  pendingOp: 'shutdown' | 'reboot' | null = null;
  broken = false;
  evacuating = false;
  /** emergency mode (a slave whose xapi started while the master was away): what every call is answered */
  emergencyError: string[] | null = null;
  listener: Listener | null = null;
  /** The TLS certificate its listener serves (null when the simulator serves plain HTTP); a fresh install makes a new one. */
  certificate: HostCertificate | null = null;
  /** Aborts the machine's current power lifecycle (an install in progress when the operator reinstalls it). */
  lifecycle = new AbortController();
  constructor(
    readonly name: string,
    readonly address: string,
    public installed: InstalledVersion,
    readonly spec: MachineSpec,
  ) {}
  get up(): boolean {
    return this.phase === 'running' || this.phase === 'shutting-down';
  }
  get power(): 'on' | 'off' | 'installing' | 'booting' {
    if (this.up) return 'on';
    if (this.phase === 'xapi-starting' || this.phase === 'booting') return 'booting';
    return this.phase === 'installing' ? 'installing' : 'off';
  }
}

export interface VmExtra {
  pci: boolean;
  tools: string | null;
  /** Set when suspended: the platform it was suspended on and whether a CD was in the drive (R2.3). */
  suspendedWith?: { platform: string; cdInserted: boolean };
}

export interface SimStats {
  calls: Record<string, number>;
  shutdowns: Record<string, number>;
  maxHostsDownAtOnce: number;
  migrations: number;
}

export interface UploadedVdi {
  data: Buffer;
  complete: boolean;
  /** the update.xml of a complete upload, or why there is none */
  update?: UpdateMetadata;
  invalid?: string;
}

export class Sim {
  readonly machines = new Map<string, Machine>();
  readonly vmExtra = new Map<string, VmExtra>();
  /** Bytes uploaded into VDIs by PUT /import_raw_vdi (R3.10); `complete` once the whole body arrived. */
  readonly vdiContent = new Map<string, UploadedVdi>();
  /** Update ISOs uploaded to the pool (VDI ref → the update it carries). */
  readonly updateVdis = new Map<string, UpdateSpec>();
  faults: ParsedFault[];
  readonly stats: SimStats = { calls: {}, shutdowns: {}, maxHostsDownAtOnce: 0, migrations: 0 };
  readonly stopper = new AbortController();
  pool!: PoolState;
  port = 0;

  constructor(
    readonly scenario: Scenario,
    readonly clock: Clock,
    readonly logger: Logger,
    /** HTTPS with a certificate per host (the default, as real hosts), or plain HTTP; `ca` issues the certificates */
    readonly tls: { enabled: boolean; ca?: TestCa } = { enabled: true },
  ) {
    this.faults = scenario.faults.map((f) => ({ ...f }));
  }

  get timings(): Timings {
    return this.scenario.timings;
  }
  get credentials(): { username: string; password: string } {
    return { username: this.scenario.pool.username, password: this.scenario.pool.password };
  }

  sleepSeconds(s: number, signal?: AbortSignal): Promise<void> {
    const sig = signal ? AbortSignal.any([signal, this.stopper.signal]) : this.stopper.signal;
    return this.clock.sleep(s * 1000, sig);
  }

  machine(name: string): Machine {
    const m = this.machines.get(name);
    if (!m) throw new Error(`unknown host "${name}" (known: ${[...this.machines.keys()].join(', ')})`);
    return m;
  }

  /** The machine behind a host ref of a pool database (undefined for a forgotten host). */
  machineOf(pool: PoolState, hostRef: string): Machine | undefined {
    for (const m of this.machines.values()) if (m.pool === pool && m.hostRef === hostRef) return m;
    return undefined;
  }

  masterUp(pool: PoolState): boolean {
    return pool.master.up && pool.master.pool === pool;
  }

  /** xapi's resync of host.updates after an install: nothing applied on the new version yet. */
  forgetAppliedUpdates(pool: PoolState, hostRef: string): void {
    pool.db.update('host', hostRef, { updates: [], updates_requiring_reboot: [] });
    for (const [ref, u] of pool.db.entries('pool_update'))
      if ((u.hosts as string[]).includes(hostRef)) pool.db.update('pool_update', ref, { hosts: (u.hosts as string[]).filter((x) => x !== hostRef) });
  }

  // ---- faults ----
  takeFault(kind: ParsedFault['kind'], match: (f: ParsedFault) => boolean): ParsedFault | undefined {
    const f = this.faults.find((x) => x.kind === kind && x.times > 0 && match(x));
    if (!f) return undefined;
    f.times--;
    this.faults = this.faults.filter((x) => x.times > 0);
    return f;
  }

  // ---- derived state ----
  platformOf(pool: PoolState, hostRef: string): string {
    const sv = pool.db.get('host', hostRef).software_version as Record<string, string>;
    return sv.platform_version ?? '0.0.0';
  }

  highestPlatform(pool: PoolState): string {
    return pool.db.refs('host').reduce((best, h) => (compareVersions(this.platformOf(pool, h), best) > 0 ? this.platformOf(pool, h) : best), '0.0.0');
  }

  rollingUpgrade(pool: PoolState): boolean {
    return 'rolling_upgrade_in_progress' in (pool.poolRec.other_config as Record<string, string>);
  }

  /** Db_gc.detect_rolling_upgrade: the flag is set while some host's platform differs from the master's (§4.1). */
  refreshRollingUpgrade(pool: PoolState): void {
    const masterPlatform = this.platformOf(pool, pool.master.hostRef);
    const mixed = pool.db.refs('host').some((h) => compareVersions(this.platformOf(pool, h), masterPlatform) !== 0);
    const was = this.rollingUpgrade(pool);
    if (mixed !== was)
      pool.db.mutate('pool', pool.poolRef, (r) => {
        const oc = r.other_config as Record<string, string>;
        if (mixed) oc.rolling_upgrade_in_progress = 'true';
        else delete oc.rolling_upgrade_in_progress;
      });
    this.refreshVmOperations(pool);
  }

  refreshVmOperations(pool: PoolState): void {
    const rpu = this.rollingUpgrade(pool);
    for (const [ref, vm] of pool.db.entries('VM')) {
      const x = this.vmExtra.get(ref);
      const ops = vmAllowedOperations(vm.power_state as string, {
        dom0: vm.is_control_domain as boolean,
        noSuspend: lacksFeatureFor(pool.db, vm, 'suspend'),
        noShutdown: lacksFeatureFor(pool.db, vm, 'clean_shutdown'),
        pci: x?.pci ?? false,
        rpu,
      });
      if (JSON.stringify(ops) !== JSON.stringify(vm.allowed_operations)) pool.db.update('VM', ref, { allowed_operations: ops });
    }
  }

  /** host.compute_free_memory: total − host overhead − Σ(dynamic_min + overhead) of VMs resident or scheduled. */
  freeMemory(pool: PoolState, hostRef: string): number {
    const host = pool.db.get('host', hostRef);
    const metrics = pool.db.get('host_metrics', host.metrics as string);
    let used = host.memory_overhead as number;
    for (const [, vm] of pool.db.entries('VM'))
      if (vm.resident_on === hostRef || vm.scheduled_to_be_resident_on === hostRef)
        used += (vm.memory_dynamic_min as number) + (vm.memory_overhead as number);
    return Math.max(0, (metrics.memory_total as number) - used);
  }

  refreshMemoryFree(pool: PoolState, hostRef: string): void {
    const host = pool.db.find('host', hostRef);
    if (!host) return;
    pool.db.update('host_metrics', host.metrics as string, { memory_free: this.freeMemory(pool, hostRef) });
  }

  isLive(pool: PoolState, hostRef: string): boolean {
    const host = pool.db.get('host', hostRef);
    return pool.db.get('host_metrics', host.metrics as string).live as boolean;
  }

  setLive(pool: PoolState, hostRef: string, live: boolean): void {
    const host = pool.db.find('host', hostRef);
    if (!host) return;
    pool.db.update('host_metrics', host.metrics as string, { live, last_updated: new Date(this.clock.now()) });
  }

  noteHostsDown(): void {
    let down = 0;
    for (const m of this.machines.values()) if (m.pool === this.pool && (m.phase !== 'running' || m.pendingOp !== null)) down++;
    this.stats.maxHostsDownAtOnce = Math.max(this.stats.maxHostsDownAtOnce, down);
  }

  // ---- power lifecycle ----
  private async setPhase(m: Machine, phase: Phase): Promise<void> {
    const wasListening = m.up || m.phase === 'xapi-starting';
    m.phase = phase;
    const listening = m.up || phase === 'xapi-starting';
    this.logger.debug({ host: m.name, phase }, 'sim host phase');
    this.noteHostsDown();
    if (listening && !wasListening) await m.listener?.open();
    if (!listening && wasListening) await m.listener?.close();
  }

  /** host.shutdown / host.reboot accepted: xapi marks the host dead at once, the machine goes down later. */
  issuePowerOp(m: Machine, op: 'shutdown' | 'reboot', task?: string): void {
    const pool = m.pool!;
    m.pendingOp = op;
    // real xapi shows the operation in host.current_operations (task ref → op) until the host is down (reference C4)
    const key = task ?? `OpaqueRef:op-${op}-${Math.random().toString(16).slice(2)}`;
    pool.db.mutate('host', m.hostRef, (r) => ((r.current_operations as Record<string, string>)[key] = op));
    this.stats.shutdowns[m.name] = (this.stats.shutdowns[m.name] ?? 0) + 1;
    this.setLive(pool, m.hostRef, false);
    pool.db.update('host', m.hostRef, { enabled: false });
    this.noteHostsDown();
    void this.run(m, async () => {
      await this.setPhase(m, 'shutting-down');
      await this.sleepSeconds(this.timings.shutdownSeconds, m.lifecycle.signal);
      await this.enterOff(m);
      if (op === 'reboot') await this.boot(m, m.staged ? this.installFromRepository(m.staged) : null);
    });
  }

  private installFromRepository(r: Repository): InstalledVersion {
    return { product: r.version, platform: r.platform, build: r.build, ...(r.cpuFeatures ? { cpuFeatures: r.cpuFeatures } : {}) };
  }

  /** Run a lifecycle coroutine; stopping the simulator or reinstalling the machine aborts it quietly. */
  private run(m: Machine, fn: () => Promise<void>): Promise<void> {
    const signal = m.lifecycle.signal;
    return fn().catch((err: unknown) => {
      if (this.stopper.signal.aborted || signal.aborted) return;
      this.logger.error({ host: m.name, err: (err as Error).message }, 'sim host lifecycle failed');
    });
  }

  /** The machine stops: its VMs die, its listener closes; a master takes its sessions and tasks with it. */
  async enterOff(m: Machine): Promise<void> {
    const pool = m.pool;
    if (pool && pool.db.has('host', m.hostRef)) {
      this.setLive(pool, m.hostRef, false);
      // the power operation ends with the host (reference C4): no longer in its current_operations
      pool.db.mutate('host', m.hostRef, (r) => {
        const ops = r.current_operations as Record<string, string>;
        for (const [k, op] of Object.entries(ops)) if (op === 'shutdown' || op === 'reboot') delete ops[k];
      });
      for (const [ref, vm] of pool.db.entries('VM'))
        if (vm.resident_on === m.hostRef && !vm.is_control_domain) this.haltVm(pool, ref);
      // 7.6 prepare_for_poweroff: Xapi_pbd.unplug_all_pbds (reference top 2); re-plugged at boot
      for (const [ref, pbd] of pool.db.entries('PBD'))
        if (pbd.host === m.hostRef && pbd.currently_attached) pool.db.update('PBD', ref, { currently_attached: false });
      if (pool.master === m) {
        pool.sessions.clear();
        for (const c of pool.taskControllers.values()) c.abort(new XapiFailure('INTERNAL_ERROR', ['master shut down']));
        pool.taskControllers.clear();
        // tasks are not persisted and their deletions are not queued: a waiter sees no `del` (reference top 10)
        pool.db.purge('task');
      }
    }
    await this.setPhase(m, 'off');
  }

  haltVm(pool: PoolState, ref: string): void {
    const vm = pool.db.get('VM', ref);
    const host = vm.resident_on as string;
    pool.db.update('VM', ref, { power_state: 'Halted', resident_on: NULL_REF, scheduled_to_be_resident_on: NULL_REF, domid: -1, memory_target: 0 });
    pool.db.update('VM_metrics', vm.metrics as string, { state: [] });
    this.refreshVmOperations(pool);
    if (host !== NULL_REF) this.refreshMemoryFree(pool, host);
  }

  /** Power-on path: optionally the installer, then boot, then xapi start (HOST_STILL_BOOTING meanwhile). */
  async boot(m: Machine, install: InstalledVersion | null): Promise<void> {
    const signal = m.lifecycle.signal;
    if (install) {
      await this.setPhase(m, 'installing');
      await this.sleepSeconds(this.timings.installSeconds, signal);
      m.staged = null;
      if (this.takeFault('install-hangs', (f) => f.host === m.name)) {
        this.logger.info({ host: m.name }, 'sim: install hangs (fault)');
        return; // stays "installing" for ever
      }
      if (this.takeFault('install-fails', (f) => f.host === m.name)) {
        if (m.pool && m.pool.master === m) {
          // R4.1: the master's failed upgrade comes back on its old version.
          this.logger.info({ host: m.name }, 'sim: master install fails, back on the old version (fault)');
        } else {
          this.logger.info({ host: m.name }, 'sim: slave install fails, host will not return (fault)');
          m.broken = true;
          await this.setPhase(m, 'off');
          return;
        }
      } else {
        m.installed = install;
        if (install.cpuFeatures) m.spec.cpuFeatures = install.cpuFeatures; // the new Xen may mask features
        // a fresh install of the new version has none of the old version's updates (/var/update/applied is new)
        if (m.pool?.db.has('host', m.hostRef)) this.forgetAppliedUpdates(m.pool, m.hostRef);
      }
    } else if (m.pendingUpdate) {
      const u = m.pendingUpdate;
      m.installed = { product: u.version, platform: u.platform, build: u.build };
      m.pendingUpdate = null;
    }
    await this.setPhase(m, 'booting');
    await this.sleepSeconds(this.timings.bootSeconds, signal);
    const bootedAt = this.clock.now();
    await this.setPhase(m, 'xapi-starting');
    const pool = m.pool;
    if (!pool) return; // a forgotten machine boots to nothing useful
    // A slave's xapi needs its master: it retries Pool.hello every 5 s, in emergency mode meanwhile (reference D2, R3.8):
    // HOST_STILL_BOOTING first, then what the failed Pool.hello gave (connection refused → INTERNAL_ERROR, …).
    if (pool.master !== m && !this.masterUp(pool)) {
      m.emergencyError = ['HOST_STILL_BOOTING'];
      // the start-up sequence reaches its first Pool.hello after about the usual xapi start time
      for (let wait = Math.max(5, this.timings.xapiStartSeconds); !this.masterUp(pool); wait = 5) {
        await this.sleepSeconds(wait, signal);
        if (this.masterUp(pool)) break;
        const f = this.takeFault('emergency-error', (x) => x.host === m.name);
        if (f || m.emergencyError[0] === 'HOST_STILL_BOOTING') m.emergencyError = emergencyAnswer(f?.code ?? 'INTERNAL_ERROR', m, pool);
      }
      m.emergencyError = null;
    }
    if (pool.db.has('host', m.hostRef)) {
      const [maj, min] = apiVersionOf(m.installed.product);
      const start = this.clock.now();
      const cpuInfo = { ...(pool.db.get('host', m.hostRef).cpu_info as Record<string, string>) };
      cpuInfo.features = cpuInfo.features_hvm = cpuInfo.features_pv = m.spec.cpuFeatures;
      pool.db.update('host', m.hostRef, {
        cpu_info: cpuInfo,
        software_version: softwareVersion(m.installed, m.name),
        API_version_major: maj,
        API_version_minor: min,
      });
      pool.db.mutate('host', m.hostRef, (r) => {
        const oc = r.other_config as Record<string, string>;
        oc.boot_time = (bootedAt / 1000).toFixed(3);
        oc.agent_start_time = (start / 1000).toFixed(3);
      });
    }
    await this.sleepSeconds(this.timings.xapiStartSeconds, signal);
    m.pendingOp = null;
    if (pool.db.has('host', m.hostRef)) {
      // resynchronise_pbds, then consider_enabling_host: with HA off the host is enabled even if a plug failed
      const allPlugged = plugPbdsAtBoot(this, pool, m);
      const enabled = !pool.poolRec.ha_enabled || allPlugged;
      pool.db.update('host', m.hostRef, { enabled, updates_requiring_reboot: [] });
      this.setLive(pool, m.hostRef, true);
      this.refreshMemoryFree(pool, m.hostRef);
      if (this.masterUp(pool) || pool.master === m) this.refreshRollingUpgrade(pool);
    }
    await this.setPhase(m, 'running');
    scheduleGuestTools(this, pool); // R5.1: guests with a timed Tools install, once every host runs one version
  }

  /**
   * host.restart_agent (R3.10 restartXAPI): xapi restarts on the host, which stays up with its VMs running; the master's
   * sessions go with its xapi. other_config.agent_start_time changes, boot_time does not.
   */
  restartAgent(m: Machine): void {
    const pool = m.pool!;
    void this.run(m, async () => {
      await this.sleepSeconds(1);
      this.setLive(pool, m.hostRef, false);
      if (pool.master === m) pool.sessions.clear();
      await this.setPhase(m, 'xapi-starting');
      await this.sleepSeconds(this.timings.xapiStartSeconds);
      pool.db.mutate('host', m.hostRef, (r) => void ((r.other_config as Record<string, string>).agent_start_time = (this.clock.now() / 1000).toFixed(3)));
      this.setLive(pool, m.hostRef, true);
      await this.setPhase(m, 'running');
    });
  }

  /** After pool.join: the host's xapi restarts as a slave of its new pool. */
  restartAgentAsSlave(m: Machine): void {
    const pool = m.pool!;
    this.setLive(pool, m.hostRef, false);
    void this.run(m, async () => {
      await this.sleepSeconds(1);
      await this.setPhase(m, 'xapi-starting');
      await this.sleepSeconds(this.timings.xapiStartSeconds);
      this.setLive(pool, m.hostRef, true);
      this.refreshRollingUpgrade(pool);
      await this.setPhase(m, 'running');
    });
  }

  // ---- control actions ----
  powerOn(name: string): void {
    const m = this.machine(name);
    if (m.phase !== 'off') throw new Error(`host ${name} is not off (it is ${m.phase})`);
    if (m.broken) throw new Error(`host ${name} has no working installation: forget it, reinstallFresh it and pool.join it (R4.2)`);
    // A host prepared by the plugin boots into the installer: it is the default boot entry.
    void this.run(m, () => this.boot(m, m.staged ? this.installFromRepository(m.staged) : null));
  }

  powerOff(name: string): void {
    const m = this.machine(name);
    if (m.phase === 'off') return;
    void this.run(m, () => this.enterOff(m));
  }

  completeManualInstall(name: string): void {
    const m = this.machine(name);
    if (m.phase !== 'off') throw new Error(`host ${name} must be shut down before the installer is booted (it is ${m.phase})`);
    const media = this.installMedia();
    if (!media) throw new Error('the scenario has no repositories: nothing to install from');
    m.broken = false;
    void this.run(m, () => this.boot(m, media));
  }

  /**
   * The operator reinstalls the physical machine (R4.2): whatever it was doing stops, and it comes up as a fresh
   * stand-alone host. A pool member qualifies only when its upgrade failed or hung, or it is off; the pool keeps its
   * stale (not live) host record until host.destroy on the master.
   */
  detachForReinstall(m: Machine): void {
    const member = m.pool === this.pool && this.pool.db.has('host', m.hostRef);
    if (member && !m.broken && m.phase !== 'off' && m.phase !== 'installing')
      throw new Error(
        `host ${m.name} is ${m.phase === 'running' ? 'running' : m.phase} as a member of the pool: only a host whose upgrade failed or hung, or that is off, can be reinstalled (R4.2)`,
      );
    m.lifecycle.abort(new Error('machine reinstalled'));
    m.lifecycle = new AbortController();
    if (member) {
      // The master already marked it dead (shutdown/reboot issued, or it went off); make sure the record says so.
      this.setLive(this.pool, m.hostRef, false);
      if (this.pool.db.get('host', m.hostRef).enabled) this.pool.db.update('host', m.hostRef, { enabled: false });
    }
    m.pool = null;
    m.hostRef = NULL_REF;
  }

  /** Manual installs use the newest repository of the scenario as the installation media. */
  installMedia(): InstalledVersion | null {
    const repos = [...this.scenario.repositories].sort((a, b) => compareVersions(b.version, a.version));
    return repos[0] ? this.installFromRepository(repos[0]) : null;
  }

  async stop(): Promise<void> {
    this.stopper.abort(new Error('simulator stopped'));
    for (const pool of new Set([...this.machines.values()].map((m) => m.pool)))
      if (pool) for (const c of pool.taskControllers.values()) c.abort(new Error('simulator stopped'));
    await Promise.all([...this.machines.values()].map((m) => m.listener?.close()));
  }
}
