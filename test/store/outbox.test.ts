import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDriver } from '../../src/store/sqlite-driver';
import { StoreCorruptError, openStore, type OutboxRecord } from '../../src/store';

/** this runtime's better-sqlite3 (13, or 12 where Node-API 10 is missing: src/store/sqlite-driver.ts) */
const Database = sqliteDriver();

const entry = (text: string, extra: Partial<OutboxRecord> = {}): Omit<OutboxRecord, 'id'> => ({
  queue: 'C1',
  describe: `event ${text}`,
  request: { method: 'chat.postMessage', args: { channel: 'C1', text } },
  degradable: true,
  createdAt: 1,
  ...extra,
});

describe('store.outbox (Slack messages not yet delivered)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-outbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps entries in creation order across a reopen, with replace and delete', async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    const a = await store.outbox.add(entry('a'));
    const b = await store.outbox.add(entry('b', { request: { method: 'chat.update', args: { channel: 'C1', text: 'b' }, refArgs: { ts: { runId: 'r1' } } } }));
    const c = await store.outbox.add(entry('c'));
    expect([a, b, c]).toEqual([...[a, b, c]].sort());
    expect(await store.outbox.replace({ ...entry('b2'), id: b })).toBe(true);
    expect(await store.outbox.delete(a)).toBe(true);
    expect(await store.outbox.delete(a)).toBe(false);
    // a delivered entry is not brought back by a late replace
    expect(await store.outbox.replace({ ...entry('a2'), id: a })).toBe(false);
    await store.close();

    const reopened = await openStore({ path });
    const left = await reopened.outbox.list();
    expect(left.map((e) => [e.id, e.request.args.text])).toEqual([
      [b, 'b2'],
      [c, 'c'],
    ]);
    // ids keep growing after a restart: new entries sort after the old ones
    const d = await reopened.outbox.add(entry('d'));
    expect(d > c).toBe(true);
    await reopened.close();
  });

  it('refuses an invalid entry naming the field, and reports a corrupt stored one', async () => {
    const path = join(dir, 'state.sqlite');
    const store = await openStore({ path });
    await expect(store.outbox.add({ ...entry('x'), request: { method: 'chat.delete', args: {} } })).rejects.toThrow(/request\.method/);
    await store.outbox.add(entry('ok'));
    await store.close();
    const db = new Database(path);
    db.prepare("UPDATE keyv SET value = ? WHERE key LIKE 'outbox:%'").run(JSON.stringify({ value: { id: '1', queue: '' } }));
    db.close();
    const reopened = await openStore({ path });
    await expect(reopened.outbox.list()).rejects.toThrow(StoreCorruptError);
    await expect(reopened.outbox.list()).rejects.toThrow(/queue/);
    await reopened.close();
  });

  it('works in memory too', async () => {
    const store = await openStore({ path: ':memory:' });
    const id = await store.outbox.add(entry('m'));
    expect((await store.outbox.list()).map((e) => e.id)).toEqual([id]);
    await store.close();
  });
});
