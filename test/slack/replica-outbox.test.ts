import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { Outbox } from '../../src/slack/outbox';
import { openStore, replicaOutbox, type Store } from '../../src/store';

/**
 * Several replicas share the stored Slack outbox (issue 16): each sends its own messages; those of a replica that
 * stopped (heartbeat expired) are claimed by ONE live replica and sent once, in order; a live replica's messages
 * are never taken. Two connections to one SQLite file stand for two replicas on one database.
 */
let now = 1_000;
const clock: Clock = { now: () => now, sleep: async () => new Promise((r) => setImmediate(r)), scale: 1 };
const TTL = 10_000;

function recordingClient(sent: string[]) {
  return {
    apiCall: async (_method: string, args: Record<string, unknown>) => {
      sent.push(String(args.text));
      return { ok: true, ts: `${sent.length}.0001`, channel: args.channel };
    },
  };
}

const entry = (text: string) => ({ queue: 'C1', describe: `msg ${text}`, request: { method: 'chat.postMessage', args: { channel: 'C1', text } }, createdAt: 1 });

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition not reached');
}

describe('the stored outbox with several replicas', () => {
  let dir: string;
  const stores: Store[] = [];
  const outboxes: Outbox[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-replica-outbox-'));
    now = 1_000;
  });
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.stop();
    for (const s of stores.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function replica(name: string, sent: string[]) {
    const store = await openStore({ path: join(dir, 'state.sqlite'), clock });
    stores.push(store);
    await store.heartbeat(name, TTL, now);
    const outbox = new Outbox({ client: recordingClient(sent), clock, logger: silentLogger, store: replicaOutbox(store, name, clock), minIntervalMs: 0 });
    outboxes.push(outbox);
    return { store, outbox };
  }

  it("a live replica's pending messages are not taken; once its heartbeat expires one replica sends them, once, in order", async () => {
    // replica a stored two messages it could not deliver yet (Slack down), then stopped heartbeating
    const seed = await openStore({ path: join(dir, 'state.sqlite'), clock });
    stores.push(seed);
    await seed.heartbeat('replica-a', TTL, now);
    const aView = replicaOutbox(seed, 'replica-a', clock);
    await aView.add(entry('one'));
    await aView.add(entry('two'));

    const sentB: string[] = [];
    const sentC: string[] = [];
    const b = await replica('replica-b', sentB);
    const c = await replica('replica-c', sentC);
    // a is alive: b and c start and take nothing of it
    expect(await b.outbox.restore()).toBe(0);
    expect(await c.outbox.restore()).toBe(0);
    expect(await b.outbox.adoptStored()).toBe(0);

    // a's heartbeat expires; b and c look at the same moment (each keeps heartbeating)
    now += TTL + 1;
    await b.store.heartbeat('replica-b', TTL, now);
    await c.store.heartbeat('replica-c', TTL, now);
    const adopted = await Promise.all([b.outbox.adoptStored(), c.outbox.adoptStored()]);
    expect(adopted.sort()).toEqual([0, 2]);
    await until(() => sentB.length + sentC.length === 2);
    await Promise.all([b.outbox.idle(), c.outbox.idle()]);
    expect(sentB.length > 0 ? sentB : sentC).toEqual(['one', 'two']);
    expect(await seed.outbox.list()).toEqual([]);
    // looking again changes nothing: nothing is sent twice
    expect(await b.outbox.adoptStored()).toBe(0);
    expect(await c.outbox.adoptStored()).toBe(0);
    expect(sentB.length + sentC.length).toBe(2);
  });

  it('each replica stores its messages as its own; another live replica leaves them alone', async () => {
    const sentB: string[] = [];
    const b = await replica('replica-b', sentB);
    const other = await openStore({ path: join(dir, 'state.sqlite'), clock });
    stores.push(other);
    await other.heartbeat('replica-x', TTL, now);
    await b.store.outbox.add({ ...entry('b-owned'), owner: 'replica-b' });
    expect(await other.outbox.claim('replica-x', now)).toEqual([]);
    expect((await other.outbox.claim('replica-b', now)).map((e) => e.describe)).toEqual(['msg b-owned']);
  });
});
