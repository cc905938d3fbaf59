import pg from 'pg';
import { openStore } from '../../src/store';
import { MIGRATIONS } from '../../src/store/postgres';
import type { Clock } from '../../src/clock';
import { storeContract } from '../store/contract';
import { samplePlan, sampleRun } from '../store/fixtures/sample';
import { createTestDatabase, type TestDatabase } from './pg';

const fixedClock = (t: number): Clock => ({ now: () => t, sleep: async () => undefined, scale: 1 });

// the very suite SQLite passes (test/store/store.test.ts), on a fresh database per test
storeContract('postgresql', () => {
  let db: TestDatabase | undefined;
  const url = async () => (db ??= await createTestDatabase()).url;
  return {
    open: async () => openStore({ path: await url(), clock: fixedClock(5_000) }),
    second: async () => openStore({ path: await url(), clock: fixedClock(5_000) }),
    cleanup: async () => db?.drop(),
  };
});

describe('postgresql backend', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => db.drop());

  test('migrations are applied once, recorded, and two replicas opening together do not collide', async () => {
    const [a, b] = await Promise.all([openStore({ path: db.url }), openStore({ path: db.url })]);
    await a.createRun(sampleRun('r1'));
    expect((await b.getRun('r1'))?.id).toBe('r1');
    await a.close();
    await b.close();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const rows = (await c.query('SELECT version FROM xsupgrade_migrations ORDER BY version')).rows.map((r: { version: number }) => r.version);
    expect(rows).toEqual(MIGRATIONS.map((m) => m.version));
    await c.end();
  });

  test('a database migrated by a newer xsupgrade is refused with what to do, and nothing is changed', async () => {
    const s = await openStore({ path: db.url });
    await s.close();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query("INSERT INTO xsupgrade_migrations (version, name) VALUES (999, 'future')");
    await c.end();
    await expect(openStore({ path: db.url })).rejects.toThrow(/schema version 999, newer than this xsupgrade knows.*upgrade xsupgrade/);
  });

  test('an unreachable server fails the open with the URL named without its password', async () => {
    const url = 'postgres://bot:s3cret@127.0.0.1:1/nowhere';
    const err = await openStore({ path: url }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeDefined();
    expect(String(err?.message)).not.toContain('s3cret');
  });

  test('the table keeps the keyv format: plans written by keyv read back through the atomic paths', async () => {
    const s = await openStore({ path: db.url });
    await s.savePlan('pool-a', samplePlan({ id: 'p1' }));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const row = (await c.query("SELECT value FROM keyv WHERE key = 'plan:pool-a'")).rows[0] as { value: string };
    expect(JSON.parse(row.value).value.id).toBe('p1');
    await c.end();
    expect(s.describe()).toEqual({ backend: 'postgres', location: db.url });
    await s.close();
  });
});
