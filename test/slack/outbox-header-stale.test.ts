/**
 * A header update waiting in the stored outbox holds the header as it was when it was queued. Adopted by another
 * replica (or restored by the next process) after a newer header was shown, it must not put the header back to
 * that older state (a host "in progress" again after it was upgraded): the notifier that shows the run rebuilds it
 * from the newest run it knows, or drops it when the header already shows that revision or a newer one.
 */
import type { Run } from '../../src/domain/types';
import type { FakeSlackApi } from '../../src/sandbox/fake-web-api';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import type { Store } from '../../src/store';
import { CHANNEL, makeRun, poolConfig, withSteps } from './helpers/fixtures';
import { HoldingClock, SharedStateReplicas } from './helpers/replicas';

const TOKEN = 'xoxb-outbox-header-stale-TOKEN';
const TTL = 10_000;

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition not reached');
}

describe('a stored header update adopted after a newer header was shown', () => {
  const world = new SharedStateReplicas(TOKEN, 'xsupgrade-header-stale-', TTL);
  let api: FakeSlackApi;
  let clock: HoldingClock;
  beforeEach(async () => ({ api, clock } = await world.start()));
  afterEach(() => world.stop());

  /** one replica: its own connection to the shared state file, its outbox (restored) and notifier */
  async function replica(name: string) {
    const r = await world.replica(name);
    await r.outbox.restore();
    return r;
  }

  const shown = (blocks: unknown) => JSON.stringify(blocks, (k, v: unknown) => (k === 'block_id' ? undefined : v));
  const headerShows = () => shown(api.messages(CHANNEL).find((m) => m.thread_ts === undefined)!.blocks);
  const rendered = (run: Run) => shown(runHeaderMessage(run, poolConfig()).blocks);

  // revision 1: nothing done; 2: xs-a1 evacuating; 3: xs-a1 upgraded, xs-a2 disabling
  const r1 = makeRun();
  const r2 = withSteps(r1, { backup: { state: 'done' }, 'pool-prep': { state: 'done' }, 'xs-a1:disable': { state: 'done' }, 'xs-a1:evacuate': { state: 'running' } });
  const r3 = withSteps(r2, { 'xs-a1:*': { state: 'done' }, 'xs-a2:disable': { state: 'running' } });

  /** replica a posts the header (r1), then stops with its refresh to r2 stored (Slack answered 500, retry waiting) */
  async function replicaALeavesR2Stored(): Promise<string> {
    const a = await replica('replica-a');
    await a.notifier.runStarted(r1);
    await a.outbox.idle();
    clock.hold = true;
    api.failNext('chat.update', { status: 500 });
    await a.notifier.runUpdated(r2);
    await until(() => api.calls.some((c) => c.outcome === 'http-500') && clock.held > 0);
    clock.hold = false;
    const headerTs = a.notifier.slackRefs(r1.id)!.headerTs!;
    await a.outbox.stop();
    const stored = await a.store.outbox.list();
    expect(stored.map((e) => [e.request.method, e.coalesceKey, e.owner])).toEqual([['chat.update', `header:${r1.id}`, 'replica-a']]);
    expect(shown(stored[0].request.args.blocks)).toBe(rendered(r2));
    return headerTs;
  }

  /** the revision a's stored refresh shows (kept with the entry) */
  const storedRevision = async (store: Store) => (await store.outbox.list())[0]?.revision;

  it('the fixtures render different headers', () => {
    expect(rendered(r2)).not.toBe(rendered(r3));
  });

  it('the replica that took over the run showed r3; adopting the r2 refresh later does not put the header back', async () => {
    const headerTs = await replicaALeavesR2Stored();
    const b = await replica('replica-b');
    // b takes over the run (a's lease expired) and shows r3
    await b.notifier.runUpdated({ ...r3, slack: { channel: CHANNEL, headerTs } });
    await b.outbox.idle();
    expect(headerShows()).toBe(rendered(r3));

    // a's heartbeat expires: b adopts what a left stored
    clock.t += TTL + 1;
    await b.store.heartbeat('replica-b', TTL, clock.now());
    expect(await b.outbox.adoptStored()).toBe(1);
    await b.outbox.idle();
    expect(headerShows()).toBe(rendered(r3));
    expect(await b.store.outbox.list()).toEqual([]);
  });

  it('an adopted refresh newer than anything the adopter showed is sent as stored', async () => {
    const headerTs = await replicaALeavesR2Stored();
    const b = await replica('replica-b');
    expect(await storedRevision(b.store)).toBe(r2.revision);
    // b knew the run only at r1 (an older notification): the stored r2 is newer and is what the header must show
    await b.notifier.runEvent({ ...r1, slack: { channel: CHANNEL, headerTs } }, 'xs-a1 disabled (R3.3)');
    await b.outbox.idle();
    clock.t += TTL + 1;
    await b.store.heartbeat('replica-b', TTL, clock.now());
    expect(await b.outbox.adoptStored()).toBe(1);
    await b.outbox.idle();
    expect(headerShows()).toBe(rendered(r2));
    expect(await b.store.outbox.list()).toEqual([]);
  });
});
