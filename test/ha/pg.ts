import { scratchDatabase } from '../../bench/ha';

/**
 * A fresh PostgreSQL database per test (or per suite), dropped afterwards, so that tests depend neither on each
 * other nor on what an earlier run left. The server: XSUPGRADE_TEST_PG (an admin URL), default the local cluster
 * that .ci/run starts (trust authentication on 127.0.0.1).
 */
export const ADMIN_URL = process.env.XSUPGRADE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const db = await scratchDatabase(ADMIN_URL, 'xsupgrade_test');
  if (typeof db === 'string') throw new Error(`npm run test:ha needs PostgreSQL: ${db.replace('XSUPGRADE_BENCH_PG', 'XSUPGRADE_TEST_PG')}`);
  return db;
}
