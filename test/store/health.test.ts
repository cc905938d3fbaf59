import { openStore, type Store } from '../../src/store';
import { leaseHolders, storeReadiness } from '../../src/store/health';

describe('store readiness and lease holders (/readyz, /metrics)', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ path: ':memory:' });
  });
  afterEach(async () => store.close());

  it('ready when the store answers; not ready, with the reason, when it fails or hangs', async () => {
    expect(await storeReadiness(store)).toEqual({ ok: true, detail: 'memory :memory: answered' });
    const failing = Object.assign(Object.create(store) as Store, { ping: async () => Promise.reject(new Error('connection refused')) });
    expect(await storeReadiness(failing)).toEqual({ ok: false, detail: 'memory :memory:: connection refused' });
    const hanging = Object.assign(Object.create(store) as Store, { ping: () => new Promise<void>(() => undefined) });
    expect(await storeReadiness(hanging, 20)).toEqual({ ok: false, detail: 'memory :memory:: no answer within 20 ms' });
    await store.close();
    expect((await storeReadiness(store)).ok).toBe(false);
    store = await openStore({ path: ':memory:' });
  });

  it('names the replica holding each pool, and whether its lease is still live', async () => {
    await store.acquireLease('pool-a', 'replica-a', 'run-1', 10_000, 0);
    await store.acquireLease('pool-b', 'replica-b', 'run-2', 10_000, 0);
    await store.renewLease('pool-a', 'replica-a', 10_000, 5_000);
    expect(await leaseHolders(store, 12_000)).toEqual([
      { pool: 'pool-a', replica: 'replica-a', runId: 'run-1', token: 1, live: true },
      { pool: 'pool-b', replica: 'replica-b', runId: 'run-2', token: 1, live: false },
    ]);
  });
});
