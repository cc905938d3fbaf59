/**
 * Scenario files: a pool described in YAML, validated with zod. Every field is documented in
 * docs/scenarios.md. Errors name the file and the field path (`hosts[1].memoryGiB: expected number`).
 */
import { ROLES } from '../domain/rbac';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';

const version = z.string().regex(/^\d+(\.\d+){0,3}$/, 'a dotted version such as 7.1.1');
const cpuFeatures = z.string().regex(/^[0-9a-f]{8}(-[0-9a-f]{8}){0,15}$/, 'hex words as xapi writes CPU features, e.g. 1fcbfbff-f7fa3203');
/** the CPU feature set of every host (and VM) unless the scenario says otherwise */
export const DEFAULT_CPU_FEATURES = '1fcbfbff-f7fa3203-2d93fbff-00000023';
const name = z.string().min(1).max(80);
/** the network every host has a PIF on (its management interface), as xapi names it */
export const MANAGEMENT_NETWORK = 'Pool-wide network associated with eth0';

const hostSchema = z
  .object({
    name,
    master: z.boolean().default(false),
    productVersion: version,
    platformVersion: version,
    build: z.string().min(1).default('unknown'),
    memoryGiB: z.number().positive().default(256),
    dom0MemoryGiB: z.number().positive().default(4),
    cpus: z.number().int().positive().default(32),
    cpuVendor: z.string().default('GenuineIntel'),
    /** cpu_info.features: the feature set Xen offers guests, hex words as xapi writes them (VM_INCOMPATIBLE_WITH_THIS_HOST) */
    cpuFeatures: cpuFeatures.default(DEFAULT_CPU_FEATURES),
    sanBoot: z.boolean().default(false),
    multipathing: z.boolean().default(false),
    /** the RPU hotfix (RPU003 on 7.0, RPU004 on 7.1-7.6) and its newer upgrade plugin are installed */
    rpuHotfix: z.boolean().default(true),
    address: z
      .string()
      .regex(/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/, 'a loopback IPv4 address (127.x.y.z)')
      .optional(),
  })
  .strict();

const srSchema = z
  .object({
    name,
    type: z.string().min(1).default('nfs'),
    shared: z.boolean().default(true),
    host: name.optional(),
    sizeGiB: z.number().positive().default(2048),
    isos: z.array(name).default([]),
  })
  .strict();

const vmSchema = z
  .object({
    name,
    host: name.nullable().default(null),
    power: z.enum(['Running', 'Halted', 'Suspended', 'Paused']).default('Running'),
    memoryGiB: z.number().positive().default(4),
    vcpus: z.number().int().positive().default(2),
    disks: z.array(z.object({ sr: name, sizeGiB: z.number().positive().default(20) }).strict()).default([]),
    cd: z
      .object({ iso: name, sr: name.optional() })
      .strict()
      .nullable()
      .default(null),
    tools: version.nullable().optional(),
    /** R5.1: once every host runs one newer version, the guest installs its Tools this many simulated seconds later */
    installsToolsAfterSeconds: z.number().nonnegative().optional(),
    os: z.string().default('CentOS 7'),
    affinity: name.nullable().default(null),
    pci: z.boolean().default(false),
    lacksFeature: z.union([z.boolean(), z.array(z.enum(['suspend', 'shutdown']))]).default(false),
    haRestartPriority: z.enum(['restart', 'best-effort', '']).default(''),
    template: z.boolean().default(false),
    /** networks of its VIFs (default: the management network every host has) */
    networks: z.array(name).optional(),
    /** last_boot_CPU_flags.features (default: its host's cpuFeatures, or the master's) */
    cpuFlags: cpuFeatures.optional(),
  })
  .strict();

const networkSchema = z
  .object({
    name,
    /** a VLAN tag: the PIFs are VLAN interfaces */
    vlan: z.number().int().min(1).max(4094).optional(),
    /** hosts with a PIF on it (default: every host); ignored when internal */
    hosts: z.array(name).optional(),
    /** a private network with no PIF at all: pinned to the host where its VMs run */
    internal: z.boolean().default(false),
  })
  .strict();

const repositorySchema = z
  .object({
    url: z.string().regex(/^(https?|ftp|nfs):\/\/.+/, 'an http://, https://, ftp:// or nfs:// URL'),
    version,
    platform: version,
    build: z.string().min(1).default('unknown'),
    reachable: z.boolean().default(true),
    /**
     * install media an operator boots by hand (R3.7, manual mode), not offered to the bot as a network repository:
     * the demo pools file and rehearsals then upgrade to its version in manual mode
     */
    manualOnly: z.boolean().default(false),
    /** the CPU features the new Xen offers on the hosts installed from it (default: unchanged) */
    cpuFeatures: cpuFeatures.optional(),
  })
  .strict();

const updateSchema = z
  .object({
    name,
    version,
    platform: version,
    build: z.string().min(1).default('unknown'),
    from: z.array(version).optional(),
    introduced: z.boolean().default(false),
  })
  .strict();

/** What a slave in emergency mode answers after a failed Pool.hello (reference D2, R3.8). */
export const EMERGENCY_CODES = ['INTERNAL_ERROR', 'HOST_MASTER_CANNOT_TALK_BACK', 'HOST_UNKNOWN_TO_MASTER'];

export const faultSchema = z
  .object({
    kind: z.enum(['install-fails', 'install-hangs', 'migration-fails', 'connection-reset', 'api-error', 'pbd-plug-fails', 'emergency-error']),
    host: name.optional(),
    vm: name.optional(),
    /** pbd-plug-fails: only the PBD of this SR (default: every PBD of the host) */
    sr: name.optional(),
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an upper-case XenAPI error code').optional(),
    /** api-error: the error's parameters (default: the call's first argument) */
    params: z.array(z.string().max(500)).max(10).optional(),
    method: z.string().min(1).optional(),
    when: z.enum(['before', 'after']).default('before'),
    times: z.number().int().positive().default(1),
  })
  .strict()
  .superRefine((f, ctx) => {
    if ((f.kind === 'install-fails' || f.kind === 'install-hangs') && !f.host)
      ctx.addIssue({ code: 'custom', path: ['host'], message: `required for kind ${f.kind}` });
    if (f.kind === 'migration-fails' && !f.vm)
      ctx.addIssue({ code: 'custom', path: ['vm'], message: 'required for kind migration-fails' });
    if ((f.kind === 'connection-reset' || f.kind === 'api-error') && !f.method)
      ctx.addIssue({ code: 'custom', path: ['method'], message: `required for kind ${f.kind}` });
    if (f.kind === 'api-error' && !f.code) ctx.addIssue({ code: 'custom', path: ['code'], message: 'required for kind api-error' });
    if ((f.kind === 'pbd-plug-fails' || f.kind === 'emergency-error') && !f.host)
      ctx.addIssue({ code: 'custom', path: ['host'], message: `required for kind ${f.kind}` });
    if (f.kind === 'emergency-error' && f.code && !EMERGENCY_CODES.includes(f.code))
      ctx.addIssue({ code: 'custom', path: ['code'], message: `one of ${EMERGENCY_CODES.join(', ')}` });
  });
export type Fault = z.input<typeof faultSchema>;
export type ParsedFault = z.output<typeof faultSchema>;

const timingsSchema = z
  .object({
    migrationSecondsPerGiB: z.number().nonnegative().default(2),
    installSeconds: z.number().nonnegative().default(2400),
    bootSeconds: z.number().nonnegative().default(180),
    xapiStartSeconds: z.number().nonnegative().default(60),
    shutdownSeconds: z.number().nonnegative().default(10),
    updateApplySeconds: z.number().nonnegative().default(120),
    // slow calls: minutes at time scale 1, as on a real pool (reference top 1): they go through Async.* and a task
    pluginMainSeconds: z.number().nonnegative().default(600),
    poolJoinSeconds: z.number().nonnegative().default(180),
    haEnableSeconds: z.number().nonnegative().default(120),
    haDisableSeconds: z.number().nonnegative().default(60),
    updatePrecheckSeconds: z.number().nonnegative().default(90),
    loginFailureDelaySeconds: z.number().nonnegative().default(5),
  })
  .strict();

export const scenarioSchema = z
  .object({
    pool: z
      .object({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lower-case letters, digits and dashes'),
        username: z.string().min(1).default('root'),
        password: z.string().min(1),
        port: z.number().int().min(0).max(65535).default(0),
        // further pool users with an RBAC role (the main user is the local superuser, root)
        users: z
          .array(z.object({ username: z.string().min(1), password: z.string().min(1), role: z.enum(ROLES) }).strict())
          .default([]),
        /** HTTPS with a self-signed certificate per host (as real hosts); false serves plain HTTP */
        tls: z.boolean().default(true),
      })
      .strict(),
    hosts: z.array(hostSchema).min(1),
    srs: z.array(srSchema).default([]),
    networks: z.array(networkSchema).default([]),
    vms: z.array(vmSchema).default([]),
    ha: z
      .object({ enabled: z.boolean().default(false), failuresToTolerate: z.number().int().min(0).default(1) })
      .strict()
      .default({}),
    repositories: z.array(repositorySchema).default([]),
    updates: z.array(updateSchema).default([]),
    timings: timingsSchema.default({}),
    faults: z.array(faultSchema).default([]),
  })
  .strict()
  .superRefine(checkReferences);

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioHost = Scenario['hosts'][number];
export type ScenarioVm = Scenario['vms'][number];
export type ScenarioSr = Scenario['srs'][number];
export type ScenarioNetwork = Scenario['networks'][number];
export type Repository = Scenario['repositories'][number];
export type UpdateSpec = Scenario['updates'][number];
export type Timings = Scenario['timings'];

function unique(ctx: z.RefinementCtx, items: Array<{ name: string }>, list: string): void {
  const seen = new Set<string>();
  items.forEach((it, i) => {
    if (seen.has(it.name)) ctx.addIssue({ code: 'custom', path: [list, i, 'name'], message: `duplicate name "${it.name}"` });
    seen.add(it.name);
  });
}

function checkReferences(s: z.output<z.ZodObject<any>>, ctx: z.RefinementCtx): void {
  const sc = s as unknown as Scenario;
  unique(ctx, sc.hosts, 'hosts');
  unique(ctx, sc.srs, 'srs');
  unique(ctx, sc.vms, 'vms');
  unique(ctx, sc.networks, 'networks');
  const networks = new Set(sc.networks.map((n) => n.name));
  sc.networks.forEach((n, i) =>
    (n.hosts ?? []).forEach((h, j) => {
      if (!sc.hosts.some((x) => x.name === h)) ctx.addIssue({ code: 'custom', path: ['networks', i, 'hosts', j], message: `unknown host "${h}"` });
    }),
  );
  sc.vms.forEach((vm, i) =>
    (vm.networks ?? []).forEach((n, j) => {
      if (n !== MANAGEMENT_NETWORK && !networks.has(n))
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'networks', j], message: `unknown network "${n}" (known: ${[MANAGEMENT_NETWORK, ...networks].join(', ')})` });
    }),
  );
  const masters = sc.hosts.filter((h) => h.master).length;
  if (masters !== 1) ctx.addIssue({ code: 'custom', path: ['hosts'], message: `exactly one host must have master: true (found ${masters})` });
  const hostNames = new Set(sc.hosts.map((h) => h.name));
  const known = (set: Set<string>) => [...set].join(', ') || 'none';
  const srs = new Map(sc.srs.map((r) => [r.name, r]));
  sc.srs.forEach((r, i) => {
    if (!r.shared && !r.host) ctx.addIssue({ code: 'custom', path: ['srs', i, 'host'], message: 'a local (shared: false) SR needs the host it is on' });
    if (r.host && !hostNames.has(r.host))
      ctx.addIssue({ code: 'custom', path: ['srs', i, 'host'], message: `unknown host "${r.host}" (known: ${known(hostNames)})` });
    if (r.shared && r.host) ctx.addIssue({ code: 'custom', path: ['srs', i, 'host'], message: 'a shared SR is on every host; remove host or set shared: false' });
  });
  const isoSr = new Map<string, string>();
  sc.srs.forEach((r) => r.isos.forEach((iso) => isoSr.set(iso, r.name)));
  sc.vms.forEach((vm, i) => {
    if (vm.host !== null && !hostNames.has(vm.host))
      ctx.addIssue({ code: 'custom', path: ['vms', i, 'host'], message: `unknown host "${vm.host}" (known: ${known(hostNames)})` });
    if ((vm.power === 'Running' || vm.power === 'Paused') && vm.host === null)
      ctx.addIssue({ code: 'custom', path: ['vms', i, 'host'], message: `a ${vm.power} VM needs the host it runs on` });
    if (vm.lacksFeature !== false && (vm.lacksFeature === true || vm.lacksFeature.length > 0) && typeof vm.tools === 'string')
      ctx.addIssue({
        code: 'custom',
        path: ['vms', i, 'lacksFeature'],
        message: 'a VM with PV drivers (tools) has every feature in xapi; set tools: null for a guest that lacks one',
      });
    if (vm.affinity !== null && !hostNames.has(vm.affinity))
      ctx.addIssue({ code: 'custom', path: ['vms', i, 'affinity'], message: `unknown host "${vm.affinity}"` });
    vm.disks.forEach((d, j) => {
      const sr = srs.get(d.sr);
      if (!sr) ctx.addIssue({ code: 'custom', path: ['vms', i, 'disks', j, 'sr'], message: `unknown SR "${d.sr}" (known: ${known(new Set(srs.keys()))})` });
      else if (!sr.shared && vm.host && sr.host !== vm.host && vm.power !== 'Halted')
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'disks', j, 'sr'], message: `SR "${d.sr}" is local to ${sr.host}, but the VM is on ${vm.host}` });
    });
    if (vm.cd) {
      const srName = vm.cd.sr ?? isoSr.get(vm.cd.iso);
      const sr = srName ? srs.get(srName) : undefined;
      if (!sr) ctx.addIssue({ code: 'custom', path: ['vms', i, 'cd', vm.cd.sr ? 'sr' : 'iso'], message: `no SR holds ISO "${vm.cd.iso}" (list it in srs[].isos)` });
      else if (!sr.isos.includes(vm.cd.iso))
        ctx.addIssue({ code: 'custom', path: ['vms', i, 'cd', 'iso'], message: `SR "${sr.name}" has no ISO "${vm.cd.iso}"` });
    }
  });
  const hostsByName = new Map(sc.hosts.map((h) => [h.name, h]));
  sc.faults.forEach((f, i) => {
    if (f.host && !hostsByName.has(f.host)) ctx.addIssue({ code: 'custom', path: ['faults', i, 'host'], message: `unknown host "${f.host}"` });
    if (f.vm && !sc.vms.some((v) => v.name === f.vm)) ctx.addIssue({ code: 'custom', path: ['faults', i, 'vm'], message: `unknown VM "${f.vm}"` });
    if (f.sr && !srs.has(f.sr)) ctx.addIssue({ code: 'custom', path: ['faults', i, 'sr'], message: `unknown SR "${f.sr}"` });
  });
}

export class ScenarioError extends Error {}

function formatIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((iss) => {
    const path = iss.path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : String(p)), '');
    return `  ${path || '(root)'}: ${iss.message}`;
  });
  return `invalid scenario ${source}:\n${lines.join('\n')}`;
}

/** Validate an already-parsed object (from YAML, JSON or a test). `source` names it in errors. */
export function parseScenario(input: unknown, source = '<scenario>'): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) throw new ScenarioError(formatIssues(source, r.error));
  return r.data;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ScenarioError(`invalid scenario ${path}: not valid YAML: ${(err as Error).message}`);
  }
  return parseScenario(doc, path);
}
