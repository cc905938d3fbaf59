/**
 * SlackNotifier builds the run header from the newest run it was given. Notifications may arrive out of order (a
 * run loop's older snapshot in a runEvent, a replayed or retried notification): a run with a lower `revision` must
 * never replace a newer one, or the header goes back to a state the run has left (a host "in progress" again after
 * it was upgraded, a finished run "running" again).
 */
import { startFakeSlackApi, FakeSlackApi } from '../../src/sandbox/fake-web-api';
import type { Run } from '../../src/domain/types';
import { runHeaderMessage } from '../../src/slack/blocks/run-header';
import { SlackNotifier } from '../../src/slack/notifier';
import { Outbox } from '../../src/slack/outbox';
import { createWebClient } from '../../src/slack/web-client';
import { InstantClock } from './helpers/clock';
import { CHANNEL, makeRun, poolConfig, withSteps } from './helpers/fixtures';
import { captureLogs } from './helpers/logs';

const TOKEN = 'xoxb-notifier-revision-TOKEN';

describe('SlackNotifier header: an older run revision never replaces a newer one', () => {
  let api: FakeSlackApi;
  let outbox: Outbox;
  let notifier: SlackNotifier;

  beforeEach(async () => {
    api = await startFakeSlackApi({ token: TOKEN });
    const clock = new InstantClock();
    const logs = captureLogs();
    outbox = new Outbox({ client: createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, logs.logger), clock, logger: logs.logger });
    notifier = new SlackNotifier({ outbox, pools: [poolConfig()], clock, logger: logs.logger });
  });
  afterEach(async () => {
    await outbox.stop();
    await api.stop();
  });

  /** the header as Slack shows it now (after any edits) */
  const header = () => api.messages(CHANNEL).find((m) => m.thread_ts === undefined)!;
  /** blocks compared without block ids (Slack, and the fake API, add their own) */
  const shown = (blocks: unknown) => JSON.stringify(blocks, (k, v: unknown) => (k === 'block_id' ? undefined : v));
  const headerShows = () => shown(header().blocks);
  const rendered = (run: Run) => shown(runHeaderMessage(run, poolConfig()).blocks);
  const updates = () => api.calls.filter((c) => c.method === 'chat.update' && c.outcome === 'ok');

  // revision 1: nothing done; 2: xs-a1 evacuating; 3: xs-a1 upgraded, xs-a2 disabling
  const r1 = makeRun();
  const r2 = withSteps(r1, { backup: { state: 'done' }, 'pool-prep': { state: 'done' }, 'xs-a1:disable': { state: 'done' }, 'xs-a1:evacuate': { state: 'running' } });
  const r3 = withSteps(r2, { 'xs-a1:*': { state: 'done' }, 'xs-a2:disable': { state: 'running' } });

  it('the fixtures render different headers (the assertions below can tell them apart)', () => {
    expect(r2.revision).toBeLessThan(r3.revision);
    expect(rendered(r2)).not.toBe(rendered(r3));
  });

  it('a newer then an older runUpdated waiting together: the coalesced refresh shows the newer', async () => {
    await notifier.runStarted(r1);
    await outbox.idle();
    await notifier.runUpdated(r3);
    await notifier.runUpdated(r2); // late: a replay or retry of an earlier notification
    await outbox.idle();
    expect(headerShows()).toBe(rendered(r3));
  });

  it('an older runUpdated after the newer was shown: the header is not put back', async () => {
    await notifier.runStarted(r1);
    await notifier.runUpdated(r3);
    await outbox.idle();
    expect(headerShows()).toBe(rendered(r3));
    const before = updates().length;
    await notifier.runUpdated(r2);
    await outbox.idle();
    expect(headerShows()).toBe(rendered(r3));
    expect(updates()).toHaveLength(before);
  });

  it('a runEvent carrying an older snapshot while the header post waits: the header is posted from the newer', async () => {
    await notifier.runStarted(r1);
    await notifier.runUpdated(r3);
    await notifier.runEvent(r2, 'xs-a1 evacuated'); // a loop's snapshot taken before r3 was written
    await outbox.idle();
    expect(headerShows()).toBe(rendered(r3));
    // the event itself is still said, in the thread
    expect(api.messages(CHANNEL).some((m) => m.thread_ts === header().ts && m.text.includes('xs-a1 evacuated'))).toBe(true);
  });

  it('end of run: a late older runUpdated does not make a finished run\'s header "running" again', async () => {
    const done: Run = { ...withSteps(r3, { 'xs-a2:*': { state: 'done' }, 'xs-a3:*': { state: 'done' }, 'pool-finish': { state: 'done' } }), state: 'done', endedAt: r3.updatedAt + 3_600_000, outcome: 'done' };
    await notifier.runStarted(r1);
    await outbox.idle();
    await notifier.runFinished(done);
    await notifier.runUpdated(r3); // the last step's runUpdated, delivered after the end
    await outbox.idle();
    expect(headerShows()).toBe(rendered(done));
    expect(rendered(done)).not.toBe(rendered(r3));
  });
});
