import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { withoutUrlCredentials } from '../xenapi/redact';
import { TlsConfigError, parseEndpoint } from '../xenapi/tls';

/**
 * The pools file (XSUPGRADE_POOLS): which pools the bot may touch, how to reach them, who approves.
 * Passwords are never inline: the file names the environment variable that holds each secret.
 */

const envVarName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as XS_POOL_A_PASSWORD');

const sha256Fingerprint = z
  .string()
  .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'a SHA-256 fingerprint like AB:CD:… (32 hex pairs)');

const tlsSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('verify'), ca: z.string().optional() }).strict(),
  z
    .object({
      mode: z.literal('pinned'),
      /** one fingerprint, or one per pool member: each XenServer host has its own self-signed certificate */
      fingerprint256: z.union([sha256Fingerprint, z.array(sha256Fingerprint).min(1)], {
        errorMap: () => ({ message: 'a SHA-256 fingerprint like AB:CD:… (32 hex pairs), or a list of them (one per pool member)' }),
      }),
    })
    .strict(),
  z.object({ mode: z.literal('insecure-http') }).strict(),
]);

const upgradeSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('automatic'),
      /** http://, ftp:// or nfs:// install repository (R3.9) */
      repositoryUrl: z.string().regex(/^(https?|ftp|nfs):\/\/.+/, 'an http://, https://, ftp:// or nfs:// URL'),
      repositoryUsernameEnv: envVarName.optional(),
      repositoryPasswordEnv: envVarName.optional(),
    })
    .strict(),
  z.object({ mode: z.literal('manual') }).strict(),
  z
    .object({
      mode: z.literal('update'),
      /** where the update ISO is (a path or URL the bot uploads from, or an already-introduced update uuid) */
      updateIso: z.string().min(1),
    })
    .strict(),
]);

const poolObject = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lower-case letters, digits and dashes'),
    masterUrl: z.string().regex(/^https?:\/\/[^/\s?#]+\/?$/, 'http(s)://host[:port]'),
    username: z.string().min(1),
    passwordEnv: envVarName,
    tls: tlsSchema.default({ mode: 'verify' }),
    target: z.string().regex(/^\d+(\.\d+){0,2}$/, 'a version like 7.6 or 8.2.1'),
    upgrade: upgradeSchema,
    slack: z
      .object({
        channel: z.string().min(1),
        approvers: z
          .object({
            users: z.array(z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id like U012ABCDEF')).default([]),
            groups: z.array(z.string().regex(/^S[A-Z0-9]+$/, 'a Slack user group id like S012ABCDEF')).default([]),
          })
          .strict()
          .refine((a) => a.users.length + a.groups.length > 0, 'at least one approver user or group'),
        /** who may schedule and unschedule maintenance windows; unset: the approvers */
        schedulers: z
          .object({
            users: z.array(z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id like U012ABCDEF')).default([]),
            groups: z.array(z.string().regex(/^S[A-Z0-9]+$/, 'a Slack user group id like S012ABCDEF')).default([]),
          })
          .strict()
          .refine((a) => a.users.length + a.groups.length > 0, 'at least one scheduler user or group (or leave schedulers out: the approvers schedule)')
          .optional(),
        allowSelfApproval: z.boolean().default(false),
      })
      .strict(),
    returnPolicy: z.enum(['none', 'original']).default('none'),
    timezone: z.string().default('UTC'),
    /** how long to wait for a host to come back, per mode, in minutes */
    hostTimeoutMinutes: z.number().int().positive().optional(),
    /**
     * R2.7: the hosts (name_label) that boot from SAN. XenAPI has no field for it, so the bot knows only what is
     * declared here; these hosts are never upgraded by a rolling upgrade.
     */
    sanBootHosts: z.array(z.string().min(1).max(255)).max(1000).optional(),
    /**
     * R3.10: the update ISOs (hotfixes) for the target, applied to each host right after its upgrade: an absolute
     * directory path on the bot's machine, or an http(s) URL on the operator's network serving a directory listing.
     */
    updateRepository: z
      .string()
      .regex(/^(\/[^\0]*|https?:\/\/[^\s/@]+(\/\S*)?)$/, 'an absolute directory path (/srv/xs-updates/7.6) or an http(s):// URL without credentials')
      .optional(),
    /**
     * Multi-hop upgrades (R1.4): the media of each intermediate target the chain goes through (a path-table target
     * id such as "7.1.1"), in the same shape as `upgrade`. `upgrade` stays the media of `target`, the final one.
     */
    hops: z
      .array(z.object({ target: z.string().regex(/^\d+(\.\d+){0,2}$/, 'a path-table target id like 7.1.1'), upgrade: upgradeSchema }).strict())
      .max(8)
      .optional(),
  })
  .strict();

export const poolConfigSchema = poolObject.superRefine(crossFieldChecks);

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The master's host:port as the XenAPI client would address it (src/xenapi/tls.ts parseEndpoint), or undefined when it could not. */
function masterEndpoint(url: string): string | undefined {
  try {
    const ep = parseEndpoint(url, { mode: url.startsWith('http://') ? 'insecure-http' : 'verify' });
    return `${ep.hostname.toLowerCase()}:${ep.port}`;
  } catch (e) {
    if (e instanceof TlsConfigError) return undefined;
    throw e;
  }
}

/**
 * Mistakes each field alone cannot show, found when the file is loaded (`serve`, `start`, every CLI command) rather
 * than at first use, each naming the pool and the field (issue 10.11).
 */
function crossFieldChecks(p: z.infer<typeof poolObject>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  const url = p.masterUrl;
  if (url.startsWith('http://') && p.tls.mode !== 'insecure-http') {
    issue(['tls', 'mode'], `"${p.tls.mode}" needs an https:// masterUrl, but masterUrl is ${withoutUrlCredentials(url)} (the pool password would travel in clear); use https://, or tls mode insecure-http to allow plain HTTP explicitly`);
  }
  if (url.startsWith('https://') && p.tls.mode === 'insecure-http') {
    issue(['tls', 'mode'], `"insecure-http" is only for http:// masterUrls, and masterUrl is ${withoutUrlCredentials(url)}; use "verify" or "pinned"`);
  }
  if (/^https?:\/\/[^/]*@/.test(url)) issue(['masterUrl'], 'must not hold credentials (user@ or user:password@): the user is `username`, the password comes from `passwordEnv`');
  else if (masterEndpoint(url) === undefined) issue(['masterUrl'], `${JSON.stringify(url)} is not a URL the XenAPI client can use (a valid host name or address, a port from 1 to 65535)`);
  if (!isTimeZone(p.timezone)) issue(['timezone'], `"${p.timezone}" is not a time zone; expected an IANA name such as UTC or Europe/Berlin`);
  if (p.upgrade.mode === 'automatic') {
    if (/^\w+:\/\/[^/]*@/.test(p.upgrade.repositoryUrl)) {
      issue(['upgrade', 'repositoryUrl'], 'must not hold credentials: name the variables that hold them in repositoryUsernameEnv and repositoryPasswordEnv');
    }
    if (p.upgrade.repositoryPasswordEnv && !p.upgrade.repositoryUsernameEnv) issue(['upgrade', 'repositoryUsernameEnv'], 'is required with repositoryPasswordEnv (a repository password needs its user)');
  }
  (p.hops ?? []).forEach((h, i) => {
    if (h.upgrade.mode === 'automatic' && /^\w+:\/\/[^/]*@/.test(h.upgrade.repositoryUrl)) {
      issue(['hops', i, 'upgrade', 'repositoryUrl'], 'must not hold credentials: name the variables that hold them in repositoryUsernameEnv and repositoryPasswordEnv');
    }
    if (p.hops!.findIndex((o) => o.target === h.target) !== i) issue(['hops', i, 'target'], `target ${h.target} is listed twice`);
  });
  const channel = p.slack.channel;
  if (!/^[CG][A-Z0-9]+$/.test(channel) && !/^#?[a-z0-9][a-z0-9._-]{0,79}$/.test(channel)) {
    issue(['slack', 'channel'], `"${channel}" is neither a channel id (like C0123ABCDE) nor a channel name (like #xs-upgrades)`);
  }
}

export const poolsFileSchema = z
  .object({
    pools: z.array(poolConfigSchema).min(1),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    /** host:port → the first pool's name: one XenServer pool under two names would get two leases (R3.1) */
    const masters = new Map<string, string>();
    file.pools.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pools', i, 'name'], message: `duplicate pool name ${p.name}` });
      seen.add(p.name);
      const master = masterEndpoint(p.masterUrl);
      const other = master && masters.get(master);
      if (other) {
        const message = `the same master as pool ${other} (${master}): runs are kept apart by pool name, so two names for one pool could take two of its hosts down at once (R3.1)`;
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pools', i, 'masterUrl'], message });
      } else if (master) masters.set(master, p.name);
    });
  });

export type PoolConfig = z.infer<typeof poolConfigSchema>;
export type PoolsFile = z.infer<typeof poolsFileSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** "pools[0].slack.channel: Required" — the file, the pool and the field, in one line each. */
export function formatZodError(source: string, err: z.ZodError, data?: unknown): string {
  return err.issues
    .map((issue) => {
      const path = issue.path;
      let where = path.join('.');
      if (path[0] === 'pools' && typeof path[1] === 'number' && data && typeof data === 'object') {
        const pools = (data as { pools?: Array<{ name?: unknown }> }).pools;
        const name = pools?.[path[1]]?.name;
        if (typeof name === 'string') where = `pool ${name}: ${path.slice(2).join('.')}`;
      }
      return `${source}: ${where || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}

export function parsePoolsFile(text: string, source: string): PoolsFile {
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (e) {
    // the parser's first line says what and where; the rest quotes the line, which may be an inline secret
    throw new ConfigError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  const parsed = poolsFileSchema.safeParse(data);
  if (!parsed.success) throw new ConfigError(formatZodError(source, parsed.error, data));
  return parsed.data;
}

export function loadPoolsFile(path: string): PoolsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read the pools file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parsePoolsFile(text, path);
}

/** The pool's password from the environment variable the config names; never logged. */
export function resolveSecret(envName: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[envName];
  if (!value) throw new ConfigError(`environment variable ${envName} is not set (it holds a pool or repository secret)`);
  return value;
}

/** The repository user and password (automatic mode): secrets the XenAPI client removes from every error text. */
export function repositorySecrets(pool: PoolConfig, env: NodeJS.ProcessEnv = process.env): string[] {
  // the final target's repository and every intermediate hop's (R1.4)
  return [pool.upgrade, ...(pool.hops ?? []).map((h) => h.upgrade)].flatMap((u) =>
    u.mode !== 'automatic' ? [] : [u.repositoryUsernameEnv, u.repositoryPasswordEnv].filter((v): v is string => !!v).map((v) => resolveSecret(v, env)),
  );
}
