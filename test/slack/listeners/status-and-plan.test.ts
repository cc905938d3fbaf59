/** `/xsupgrade status <run>` shows the steps and a link to the thread (issue 11 point 18); `plan <unknown pool>` answers only the error (point 19). */
import { ephemeralsFor, fakeCore, Harness, startHarness } from '../helpers/harness';
import { CHANNEL, makeRun, REQUESTER, withSteps } from '../helpers/fixtures';

describe('/xsupgrade status <run> and plan <unknown pool>', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  afterEach(() => h.stop());

  it('status <run> lists every step with its state, the outcome and a link to the run thread', async () => {
    const run = withSteps(makeRun({ state: 'failed', slack: { channel: CHANNEL, headerTs: '1732500000.000100' } }), {
      'xs-a1:*': { state: 'done' },
      'xs-a2:disable': { state: 'done', data: { note: 'xs-a2 disabled (R3.3)' } },
      'xs-a2:evacuate': { state: 'failed', attempts: 2, error: { message: '1 of 4 migration(s) off xs-a2 failed' } },
    });
    core = fakeCore(run);
    h = await startHarness({ core });
    await h.command(`status ${run.id}`);
    await h.slack.idle();
    const reply = ephemeralsFor(h.api, REQUESTER).join('\n');
    expect(reply).toContain('xs-a1:upgrade` done');
    expect(reply).toContain('xs-a2:disable` done — xs-a2 disabled (R3.3)');
    expect(reply).toContain('❌ `xs-a2:evacuate` failed (attempt 2) — 1 of 4 migration(s) off xs-a2 failed');
    expect(reply).toContain('⏸ `xs-a3:upgrade` pending');
    // the permalink format: <workspace url>archives/<channel>/p<ts without the dot>
    expect(reply).toMatch(new RegExp(`Thread: <https://[a-z0-9]+\\.slack\\.com/archives/${CHANNEL}/p1732500000000100\\|`));
  });

  it('plan <unknown pool> answers only the error: no "Reading … the plan will be posted"', async () => {
    core = fakeCore();
    h = await startHarness({ core });
    const res = await h.command('plan no-such-pool');
    await h.slack.idle();
    expect(res.text).not.toContain('Reading');
    expect(core.plan).not.toHaveBeenCalled();
    const said = ephemeralsFor(h.api, REQUESTER).join('\n');
    expect(said).toContain('There is no pool "no-such-pool"');
    expect(said).not.toContain('Reading');
  });

  it('plan <pool> from another channel answers only the refusal; from its channel it says it is reading', async () => {
    core = fakeCore();
    h = await startHarness({ core });
    const elsewhere = await h.command('plan pool-a', { channel: 'C0RANDOM', channelName: 'random' });
    expect(elsewhere.text).not.toContain('Reading');
    const here = await h.command('plan pool-a');
    expect(JSON.parse(here.text).text).toContain('Reading pool-a and planning');
  });
});
