/** startSimulator: binds every host of a scenario on its own loopback address (same port) and returns a SimPool. */
import { installGuestTools } from './guest-tools';
import { randomInt } from 'node:crypto';
import { Clock, systemClock } from '../clock';
import { Logger, silentLogger } from '../log';
import { compareVersions } from '../domain/versions';
import { buildFreshPool, buildPool } from './build';
import { Machine, Sim, SimStats } from './engine';
import { HostServer } from './http-server';
import { Fault, faultSchema, loadScenario, parseScenario, Scenario, type ScenarioInput } from './scenario';
import { hostCertificate, type TestCa } from './certs';
import type { TlsOptions } from '../xenapi/tls';

export interface SimHostView {
  name: string;
  ref: string;
  uuid: string;
  address: string;
  url: string;
  role: 'master' | 'slave';
  power: 'on' | 'off' | 'installing' | 'booting';
  productVersion: string;
  platformVersion: string;
  build: string;
  enabled: boolean;
  /** false once the host was forgotten (host.destroy) or while it is a fresh stand-alone host. */
  inPool: boolean;
  live: boolean;
  /** SHA-256 fingerprint of the certificate it serves now (what `openssl x509 -fingerprint -sha256` prints on its console); absent over plain HTTP */
  fingerprint256?: string;
}

export interface SimVmView {
  name: string;
  ref: string;
  powerState: string;
  residentOn: string | null;
  memory: number;
}

export interface SimInspect {
  hosts: SimHostView[];
  vms: SimVmView[];
  pool: { haEnabled: boolean; rollingUpgrade: boolean };
}

export interface SimControl {
  powerOn(host: string): void;
  powerOff(host: string): void;
  injectFault(f: Fault): void;
  clearFaults(): void;
  completeManualInstall(host: string): void;
  /**
   * The operator reinstalls a slave whose upgrade failed or hung (or that is off): it becomes a fresh stand-alone host
   * ready for pool.join; the pool keeps its stale, not-live record until host.destroy (R4.2).
   */
  reinstallFresh(host: string, opts?: { version?: string }): { address: string; url: string; ready: Promise<{ fingerprint256?: string }> };
  /** R5.1: the guest `vm` installs XenServer Tools `version` (default: the master's version); its VM_guest_metrics change */
  installGuestTools(vm: string, version?: string): { vm: string; version: string };
}

export interface SimPool {
  name: string;
  masterUrl: string;
  /** 'https:' (a certificate per host, the default) or 'http:' (scenario pool.tls: false or start option http) */
  scheme: 'https:' | 'http:';
  /**
   * The client TLS settings an operator would configure for this pool at start: every host's fingerprint pinned
   * (or the test CA in `verify` mode when the simulator was started with one), or insecure-http over plain HTTP.
   * A snapshot: a host reinstalled later has a new certificate that is NOT in it (R4.2 forget & rejoin).
   */
  tls: TlsOptions;
  username: string;
  password: string;
  port: number;
  hosts(): SimHostView[];
  control: SimControl;
  inspect(): SimInspect;
  stats(): SimStats;
  stop(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  /** serve plain HTTP even when the scenario leaves pool.tls at its default (true) */
  http?: boolean;
  /** issue every host certificate from this test CA instead of self-signing it (tests of `tls: verify`) */
  ca?: TestCa;
}

const MAX_SUBNET_TRIES = 30;

/** `s`: a scenario file's path, or a scenario as written (parsed here: its defaults filled in) or already parsed. */
export async function startSimulator(s: Scenario | ScenarioInput | string, opts: StartOptions = {}): Promise<SimPool> {
  const scenario = typeof s === 'string' ? loadScenario(s) : parseScenario(s);
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  let lastError: unknown;
  const tls = { enabled: scenario.pool.tls && !opts.http, ca: opts.ca };
  for (let attempt = 0; attempt < MAX_SUBNET_TRIES; attempt++) {
    const sim = new Sim(scenario, clock, logger, tls);
    const addresses = assignAddresses(scenario);
    buildPool(sim, addresses);
    try {
      if (tls.enabled) await Promise.all([...sim.machines.values()].map(async (m) => (m.certificate = await hostCertificate(m.name, m.address, { ca: tls.ca }))));
      await bindAll(sim, scenario.pool.port);
      logger.info({ pool: scenario.pool.name, port: sim.port }, 'simulator started');
      return makeSimPool(sim);
    } catch (err) {
      await sim.stop();
      lastError = err;
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || scenario.pool.port !== 0 || scenario.hosts.some((h) => h.address)) throw err;
    }
  }
  throw new Error(`could not bind the simulated hosts after ${MAX_SUBNET_TRIES} subnets: ${(lastError as Error)?.message}`);
}

/** 127.a.b.N with a random a.b in 10..250, N = 1, 2, … in scenario order (unless the scenario pins addresses). */
function assignAddresses(s: Scenario): Map<string, string> {
  const a = randomInt(10, 251);
  const b = randomInt(10, 251);
  return new Map(s.hosts.map((h, i) => [h.name, h.address ?? `127.${a}.${b}.${i + 1}`]));
}

async function bindAll(sim: Sim, port: number): Promise<void> {
  const master = sim.pool.master;
  const ordered = [master, ...[...sim.machines.values()].filter((m) => m !== master)];
  for (const m of ordered) {
    const server = new HostServer(sim, m, port);
    m.listener = server;
    await server.open();
    port = server.port;
    sim.port = port;
  }
}

function baseUrl(sim: Sim, address: string): string {
  return `${sim.tls.enabled ? 'https' : 'http'}://${address}:${sim.port}`;
}

function clientTls(sim: Sim): TlsOptions {
  if (!sim.tls.enabled) return { mode: 'insecure-http' };
  if (sim.tls.ca) return { mode: 'verify', ca: sim.tls.ca.cert };
  return { mode: 'pinned', fingerprint256: [...sim.machines.values()].map((m) => m.certificate!.fingerprint256) };
}

function view(sim: Sim, m: Machine): SimHostView {
  const inPool = m.pool === sim.pool && sim.pool.db.has('host', m.hostRef);
  const host = m.pool?.db.find('host', m.hostRef);
  const sv = (host?.software_version ?? {}) as Record<string, string>;
  return {
    name: m.name,
    ref: m.hostRef,
    uuid: (host?.uuid as string) ?? '',
    address: m.address,
    url: baseUrl(sim, m.address),
    role: sim.pool.master === m ? 'master' : 'slave',
    power: m.power,
    productVersion: sv.product_version ?? m.installed.product,
    platformVersion: sv.platform_version ?? m.installed.platform,
    build: sv.build_number ?? m.installed.build,
    enabled: (host?.enabled as boolean) ?? false,
    inPool,
    live: host && m.pool ? sim.isLive(m.pool, m.hostRef) : false,
    ...(m.certificate ? { fingerprint256: m.certificate.fingerprint256 } : {}),
  };
}

function makeSimPool(sim: Sim): SimPool {
  const pool = sim.pool;
  const hosts = () => [...sim.machines.values()].map((m) => view(sim, m));
  const tls = clientTls(sim);
  return {
    name: sim.scenario.pool.name,
    get masterUrl() {
      return baseUrl(sim, sim.pool.master.address);
    },
    scheme: sim.tls.enabled ? 'https:' : 'http:',
    tls,
    username: sim.credentials.username,
    password: sim.credentials.password,
    port: sim.port,
    hosts,
    control: {
      powerOn: (h) => sim.powerOn(h),
      powerOff: (h) => sim.powerOff(h),
      injectFault: (f) => {
        const parsed = faultSchema.parse(f);
        for (const [field, name] of [['host', parsed.host], ['vm', parsed.vm]] as const)
          if (name && (field === 'host' ? !sim.machines.has(name) : !pool.db.entries('VM').some(([, r]) => r.name_label === name)))
            throw new Error(`fault.${field}: unknown ${field} "${name}"`);
        if (parsed.sr && !pool.db.entries('SR').some(([, r]) => r.name_label === parsed.sr)) throw new Error(`fault.sr: unknown SR "${parsed.sr}"`);
        sim.faults.push(parsed);
      },
      clearFaults: () => {
        sim.faults = [];
      },
      completeManualInstall: (h) => sim.completeManualInstall(h),
      reinstallFresh: (h, o = {}) => reinstallFresh(sim, h, o.version),
      installGuestTools: (vm, version) => installGuestTools(sim, pool, vm, version),
    },
    inspect: () => ({
      hosts: hosts(),
      vms: pool.db
        .entries('VM')
        .filter(([, r]) => !r.is_control_domain && !r.is_a_template)
        .map(([ref, r]) => ({
          name: r.name_label as string,
          ref,
          powerState: r.power_state as string,
          residentOn: r.resident_on === 'OpaqueRef:NULL' ? null : (sim.machineOf(pool, r.resident_on as string)?.name ?? null),
          memory: r.memory_static_max as number,
        })),
      pool: { haEnabled: pool.poolRec.ha_enabled as boolean, rollingUpgrade: sim.rollingUpgrade(pool) },
    }),
    stats: () => JSON.parse(JSON.stringify(sim.stats)) as SimStats,
    stop: () => sim.stop(),
  };
}

function reinstallFresh(sim: Sim, name: string, version?: string): { address: string; url: string; ready: Promise<{ fingerprint256?: string }> } {
  const m = sim.machine(name);
  if (sim.pool.master === m)
    throw new Error(`host ${name} is the master of pool ${sim.scenario.pool.name}: a master is rolled back, not forgotten and reinstalled (R4.1)`);
  const repos = sim.scenario.repositories;
  const repo = version ? repos.find((r) => r.version === version) : [...repos].sort((a, b) => compareVersions(b.version, a.version))[0];
  if (version && !repo) throw new Error(`no repository in the scenario has version ${version} (known: ${repos.map((r) => r.version).join(', ') || 'none'})`);
  const master = sim.pool.master.installed;
  sim.detachForReinstall(m);
  m.installed = repo ? { product: repo.version, platform: repo.platform, build: repo.build } : { ...master };
  m.broken = false;
  m.staged = null;
  m.pendingOp = null;
  m.pendingUpdate = null;
  buildFreshPool(sim, m);
  m.phase = 'running';
  // a fresh install generates a new certificate at its first start (xapi-real-behaviour §4): never the old one
  const ready = (async () => {
    await m.listener?.close();
    if (sim.tls.enabled) m.certificate = await hostCertificate(m.name, m.address, { ca: sim.tls.ca });
    await m.listener?.open();
    return m.certificate ? { fingerprint256: m.certificate.fingerprint256 } : {};
  })();
  return { address: m.address, url: baseUrl(sim, m.address), ready };
}
