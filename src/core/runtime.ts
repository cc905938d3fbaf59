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
import { XenApiClient, hostUrl, parseEndpoint, probeHost } from '../xenapi';

export const DEFAULT_HOST_TIMEOUT_MIN = { automatic: 60, manual: 120, update: 45 } as const;

/** The repository URL with its credentials (R3.9: the HTTP/FTP server's, never the pool's), trailing slash. */
export function repositoryUrlWithCredentials(pool: PoolConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (pool.upgrade.mode !== 'automatic') return undefined;
  const u = new URL(pool.upgrade.repositoryUrl);
  if (pool.upgrade.repositoryUsernameEnv) u.username = encodeURIComponent(resolveSecret(pool.upgrade.repositoryUsernameEnv, env));
  if (pool.upgrade.repositoryPasswordEnv) u.password = encodeURIComponent(resolveSecret(pool.upgrade.repositoryPasswordEnv, env));
  const s = u.toString();
  return s.endsWith('/') ? s : `${s}/`;
}

export function runnerConfig(pool: PoolConfig, env: NodeJS.ProcessEnv, password: string, masterAddress: string, pollMs: number): RunnerConfig {
  const minutes = pool.hostTimeoutMinutes;
  const timeout = (mode: keyof typeof DEFAULT_HOST_TIMEOUT_MIN) => (minutes ?? DEFAULT_HOST_TIMEOUT_MIN[mode]) * 60_000;
  return {
    pool: pool.name,
    backupsDir: env.XSUPGRADE_BACKUPS && env.XSUPGRADE_BACKUPS.trim() !== '' ? env.XSUPGRADE_BACKUPS : './data/backups',
    repositoryUrl: repositoryUrlWithCredentials(pool, env),
    update: pool.upgrade.mode === 'update' ? pool.upgrade.updateIso : undefined,
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
}

export function createPoolRuntime(pool: PoolConfig, d: RuntimeDeps): { runtime: PoolRuntime; client: XenApiClient } {
  const password = resolveSecret(pool.passwordEnv, d.env);
  const logger = d.logger.child({ pool: pool.name });
  // every error text the client raises is cleaned of these (and of URL credentials) where it enters the bot
  const secrets = repositorySecrets(pool, d.env);
  const client =
    d.clientFactory?.(pool) ??
    new XenApiClient({ url: pool.masterUrl, username: pool.username, password, tls: pool.tls, clock: d.clock, logger, secrets });
  const config = runnerConfig(pool, d.env, password, client.masterAddress, d.pollMs);
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
