/**
 * Per-pool wiring: a XenApiClient from the pool's config (password resolved from its environment variable, never
 * logged), the runner's settings for the pool, and its step modules.
 */
import type { Clock } from '../clock';
import type { Logger } from '../log';
import type { Notifier } from '../domain/ports';
import { repositorySecrets, resolveSecret, type PoolConfig } from '../config/pools';
import type { PoolRuntime } from '../runner/engine';
import type { RunnerConfig, RunStore } from '../runner/ports';
import { createSteps } from '../runner/steps';
import { findTarget, type UpgradePathTable } from '../planner/paths';
import { XenApiClient, hostUrl, parseEndpoint, probeHost } from '../xenapi';
import { masterUnreachable, masterUnreachableSeconds } from '../observe/metrics';

/** master-unreachable time per pool for /metrics (R3.8), from the client's own events, on real time. */
function observeMaster(client: XenApiClient, pool: string): void {
  let since: number | undefined;
  client.on('master-unreachable', () => {
    since ??= Date.now();
    masterUnreachable.set({ pool }, 1);
  });
  client.on('master-back', () => {
    if (since !== undefined) masterUnreachableSeconds.inc({ pool }, (Date.now() - since) / 1000);
    since = undefined;
    masterUnreachable.set({ pool }, 0);
  });
}

export const DEFAULT_HOST_TIMEOUT_MIN = { automatic: 60, manual: 120, update: 45 } as const;

/** The repository URL with its credentials (R3.9: the HTTP/FTP server's, never the pool's), trailing slash. */
export function repositoryUrlWithCredentials(pool: Pick<PoolConfig, 'upgrade'>, env: NodeJS.ProcessEnv): string | undefined {
  if (pool.upgrade.mode !== 'automatic') return undefined;
  const u = new URL(pool.upgrade.repositoryUrl);
  if (pool.upgrade.repositoryUsernameEnv) u.username = encodeURIComponent(resolveSecret(pool.upgrade.repositoryUsernameEnv, env));
  if (pool.upgrade.repositoryPasswordEnv) u.password = encodeURIComponent(resolveSecret(pool.upgrade.repositoryPasswordEnv, env));
  const s = u.toString();
  return s.endsWith('/') ? s : `${s}/`;
}

/** Multi-hop (R1.4): each intermediate target's media from the pools file's `hops`, by product version. */
export function hopMediaOf(pool: PoolConfig, env: NodeJS.ProcessEnv, paths: UpgradePathTable | undefined): RunnerConfig['hopMedia'] {
  if (!pool.hops?.length || !paths) return undefined;
  const out: NonNullable<RunnerConfig['hopMedia']> = {};
  for (const h of pool.hops) {
    const t = findTarget(paths, h.target);
    if (!t) continue;
    out[t.product] = h.upgrade.mode === 'automatic' ? { repositoryUrl: repositoryUrlWithCredentials(h, env) } : h.upgrade.mode === 'update' ? { update: h.upgrade.updateIso } : {};
  }
  return out;
}

export function runnerConfig(pool: PoolConfig, env: NodeJS.ProcessEnv, password: string, masterAddress: string, pollMs: number, paths?: UpgradePathTable): RunnerConfig {
  const minutes = pool.hostTimeoutMinutes;
  const timeout = (mode: keyof typeof DEFAULT_HOST_TIMEOUT_MIN) => (minutes ?? DEFAULT_HOST_TIMEOUT_MIN[mode]) * 60_000;
  return {
    pool: pool.name,
    backupsDir: env.XSUPGRADE_BACKUPS && env.XSUPGRADE_BACKUPS.trim() !== '' ? env.XSUPGRADE_BACKUPS : './data/backups',
    repositoryUrl: repositoryUrlWithCredentials(pool, env),
    update: pool.upgrade.mode === 'update' ? pool.upgrade.updateIso : undefined,
    ...(pool.hops?.length ? { hopMedia: hopMediaOf(pool, env, paths) } : {}),
    poolCredentials: { username: pool.username, password, masterAddress },
    hostTimeoutMs: { automatic: timeout('automatic'), manual: timeout('manual'), update: timeout('update') },
    pollMs,
    migrationConcurrency: 3,
    enableRetries: 60,
  };
}

export interface RuntimeDeps {
  store: RunStore;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  clientFactory?: (pool: PoolConfig) => XenApiClient;
  pollMs: number;
  /** the path table, to resolve the pools file's hop targets (R1.4) */
  paths?: UpgradePathTable;
  /** this process ticks the Tools follow-up (RunnerConfig.toolsFollowUp) */
  toolsFollowUp?: boolean;
}

export function createPoolRuntime(pool: PoolConfig, d: RuntimeDeps): { runtime: PoolRuntime; client: XenApiClient } {
  const password = resolveSecret(pool.passwordEnv, d.env);
  const logger = d.logger.child({ pool: pool.name });
  // every error text the client raises is cleaned of these (and of URL credentials) where it enters the bot
  const secrets = repositorySecrets(pool, d.env);
  const client =
    d.clientFactory?.(pool) ??
    new XenApiClient({ url: pool.masterUrl, username: pool.username, password, tls: pool.tls, clock: d.clock, logger, secrets });
  observeMaster(client, pool.name);
  const config = { ...runnerConfig(pool, d.env, password, client.masterAddress, d.pollMs, d.paths), ...(d.toolsFollowUp ? { toolsFollowUp: true } : {}) };
  const deps = { client, store: d.store, clock: d.clock, notifier: d.notifier, logger, config };
  const endpoint = parseEndpoint(pool.masterUrl, pool.tls);
  return {
    client,
    runtime: {
      deps,
      steps: createSteps(deps),
      // R4.2: a reinstalled host has a new self-signed certificate, so neither the pool's pins nor its CA can vouch
      // for it: over https the client trusts exactly the fingerprint an approver confirmed, and nothing else.
      freshHostClient: (address, fingerprint256) => {
        if (endpoint.scheme === 'https:' && !fingerprint256) throw new Error(`no confirmed certificate fingerprint for ${address}: refusing to connect`);
        const tls = endpoint.scheme === 'https:' ? ({ mode: 'pinned', fingerprint256: fingerprint256! } as const) : pool.tls;
        return new XenApiClient({ url: hostUrl(endpoint, address), username: pool.username, password, tls, clock: d.clock, logger, followMasterRedirect: false, secrets });
      },
      probeHost: (address) => probeHost(endpoint, address),
      scheme: endpoint.scheme,
      trustFingerprint: (fp) => (client as { trustFingerprint?: (f: string) => void }).trustFingerprint?.(fp),
    },
  };
}
