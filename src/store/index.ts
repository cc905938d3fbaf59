import Keyv from 'keyv';
import { systemClock, type Clock } from '../clock';
import { silentLogger, type Logger } from '../log';
import { MemoryBackend, SqliteBackend, type KvBackend } from './backend';
import { KeyvBackendAdapter } from './keyv-adapter';
import { KvStore } from './kv-store';
import { formatRunId } from './run-id';
import type { OutboxStore, Store } from './types';
import { isPostgresUrl, redactUrl } from './url';

export * from './types';
export { formatRunId };
export { RUN_CHANGED_CHANNEL } from './kv-store';

/** the store (its logic: ./kv-store.ts), on the backend XSUPGRADE_STATE names */
export const DEFAULT_STATE_PATH = './data/state.sqlite';

/** XSUPGRADE_STATE (a SQLite path or a postgres:// URL) or ./data/state.sqlite */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.XSUPGRADE_STATE && env.XSUPGRADE_STATE.trim() !== '' ? env.XSUPGRADE_STATE : DEFAULT_STATE_PATH;
}

export interface OpenStoreOptions {
  /** a SQLite file (its directory is created), a postgres:// URL, or ':memory:' for a Map (unit tests) */
  path: string | ':memory:';
  clock?: Clock;
  logger?: Logger;
  /** SQLite: how long a writer waits for another process's transaction (default 10 s) */
  busyTimeoutMs?: number;
}

export async function openBackend(path: string, opts: { busyTimeoutMs?: number } = {}): Promise<{ backend: KvBackend; location: string }> {
  if (path === ':memory:') return { backend: new MemoryBackend(), location: ':memory:' };
  if (isPostgresUrl(path)) {
    const { PostgresBackend } = await import('./postgres'); // pg is loaded only by a PostgreSQL store
    return { backend: await PostgresBackend.open({ url: path }), location: redactUrl(path) };
  }
  return { backend: new SqliteBackend(path, { busyTimeoutMs: opts.busyTimeoutMs }), location: path };
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const logger = opts.logger ?? silentLogger;
  const { backend, location } = await openBackend(opts.path, opts);
  const keyv = new Keyv({
    store: new KeyvBackendAdapter(backend),
    namespace: undefined,
    useKeyPrefix: false,
    // plain JSON so the atomic paths (schemas.encode/decode) read and write the very same format
    serialize: (d: unknown) => JSON.stringify(d),
    deserialize: (s: string) => JSON.parse(s),
    throwOnErrors: true,
  });
  // keyv is an event emitter: an 'error' event without a listener would throw from inside keyv
  keyv.on('error', (err: unknown) => logger.error({ err }, 'state store (keyv) error'));
  return new KvStore(backend, keyv, opts.clock ?? systemClock, location);
}

/**
 * The outbox as one replica sees it (issue 16): what it stores is its own, and list() — read at start and
 * periodically by the Slack outbox — is its claim: its own entries plus those of replicas whose heartbeat expired.
 */
export function replicaOutbox(store: Store, owner: string, clock: Clock): OutboxStore {
  return {
    add: (entry) => store.outbox.add({ ...entry, owner }),
    replace: (entry) => store.outbox.replace({ ...entry, owner }),
    delete: (id) => store.outbox.delete(id),
    list: () => store.outbox.claim(owner, clock.now()),
    claim: (o, now) => store.outbox.claim(o, now),
  };
}
