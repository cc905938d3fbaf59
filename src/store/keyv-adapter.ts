import { EventEmitter } from 'node:events';
import type { KvBackend } from './backend';

/**
 * A minimal Keyv 5 storage adapter over a KvBackend (better-sqlite3, PostgreSQL or a Map).
 * `opts.dialect = 'sqlite'` matters: keyv only wires `iterator()` for adapters whose dialect it knows, and a custom
 * adapter with an iterator but an unknown dialect and no url makes the Keyv constructor throw.
 * TTLs are not used by the store (keyv would expire by Date.now(), not by our injectable clock).
 */
export class KeyvBackendAdapter extends EventEmitter {
  readonly opts: { dialect: 'sqlite'; url: string };
  namespace?: string;

  constructor(private readonly backend: KvBackend) {
    super();
    this.opts = { dialect: 'sqlite', url: `xsupgrade-${backend.kind}://` };
  }

  async get(key: string): Promise<string | undefined> {
    return this.backend.get(key);
  }
  async set(key: string, value: string): Promise<boolean> {
    await this.backend.put(key, value);
    return true;
  }
  async delete(key: string): Promise<boolean> {
    return this.backend.delete(key);
  }
  async clear(): Promise<void> {
    await this.backend.clear();
  }
  async has(key: string): Promise<boolean> {
    return (await this.backend.get(key)) !== undefined;
  }
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void> {
    for (const entry of await this.backend.list(namespace ? `${namespace}:` : '')) yield entry;
  }
  async disconnect(): Promise<void> {
    await this.backend.close();
  }
}
