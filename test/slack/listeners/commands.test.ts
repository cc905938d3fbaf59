import { ephemeralsFor, fakeCore, Harness, startHarness } from '../helpers/harness';
import { APPROVER, CHANNEL, makePlan, makeRun, REQUESTER } from '../helpers/fixtures';

describe('/xsupgrade through the real Bolt app', () => {
  let h: Harness;
  let core: ReturnType<typeof fakeCore>;
  beforeEach(async () => {
    core = fakeCore();
    h = await startHarness({ core });
  });
  afterEach(() => h.stop());

  it('answers help in the ack, without calling Core', async () => {
    const res = await h.command('help');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.text);
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('xsupgrade commands');
    expect(JSON.stringify(body.blocks)).toContain('plan &lt;pool&gt; [target] [mode]');
    await h.slack.idle();
    expect(Object.values(core).every((fn) => fn.mock.calls.length === 0)).toBe(true);
  });

  it('answers an unknown subcommand with help naming it', async () => {
    const body = JSON.parse((await h.command('upgrade pool-a now')).text);
    expect(body.text).toContain("I don't know the command `upgrade`");
    expect(JSON.stringify(body.blocks)).toContain('Usage: /xsupgrade');
  });

  it('answers malformed input with what was wrong and the usage, and does nothing else', async () => {
    const body = JSON.parse((await h.command('plan Pool_A')).text);
    expect(body.text).toContain('pool: expected a pool name');
    expect(JSON.stringify(body.blocks)).toContain('Usage: /xsupgrade plan &lt;pool&gt; [target] [mode]');
    await h.slack.idle();
    expect(core.plan).not.toHaveBeenCalled();
    expect(h.api.calls.filter((c) => c.method.startsWith('chat.'))).toHaveLength(0);
  });

  it('plans after the ack and posts the plan to the channel, details in its thread', async () => {
    const res = await h.command('plan pool-a 7.6 automatic');
    expect(JSON.parse(res.text).text).toContain('Reading pool-a and planning');
    await h.slack.idle();
    expect(core.plan).toHaveBeenCalledWith('pool-a', { target: '7.6', mode: 'automatic' }, { userId: REQUESTER, source: 'slack', groups: [], channel: CHANNEL });
    const [planMsg, ...thread] = h.api.messages(CHANNEL).filter((m) => !m.ephemeralTo);
    expect(planMsg.text).toContain('pool-a');
    expect(JSON.stringify(planMsg.blocks)).toContain('plan_start');
    expect(thread.length).toBeGreaterThan(0);
    expect(thread.every((m) => m.thread_ts === planMsg.ts)).toBe(true);
  });

  it('acks within Slack\'s 3 s even when planning is slow: the ack does not wait for Core', async () => {
    let release!: () => void;
    const planning = new Promise<void>((called) =>
      core.plan.mockImplementation(() => {
        called();
        return new Promise((r) => (release = () => r({ ok: true, value: makePlan() })));
      }),
    );
    const res = await h.command('plan pool-a');
    expect(res.status).toBe(200);
    await planning;
    // Core is still planning, the request was answered, nothing is posted yet
    expect(h.api.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(0);
    release();
    await h.slack.idle();
    expect(h.api.messages(CHANNEL).filter((m) => !m.ephemeralTo).length).toBeGreaterThan(0);
  });

  it('surfaces a Core refusal of a plan as an ephemeral message', async () => {
    core.plan.mockResolvedValue({ ok: false, code: 'unavailable', error: 'pool-a master 127.0.0.2 refused the connection' });
    await h.command('plan pool-a');
    await h.slack.idle();
    expect(ephemeralsFor(h.api, REQUESTER).join('\n')).toContain('The pool cannot be reached: pool-a master 127.0.0.2 refused the connection');
  });

  it('starts a run and says where to follow it', async () => {
    await h.command('start pool-a');
    await h.slack.idle();
    expect(core.start).toHaveBeenCalledWith('pool-a', {}, expect.objectContaining({ userId: REQUESTER, channel: CHANNEL }));
    expect(ephemeralsFor(h.api, REQUESTER).join('\n')).toContain('Run pool-a-20261125-1 started for pool-a');
  });

  it('lists pools, statuses and history ephemerally', async () => {
    await h.command('pools');
    await h.command('status pool-a');
    await h.command('status');
    await h.command('history pool-a');
    await h.slack.idle();
    const seen = ephemeralsFor(h.api, REQUESTER).join('\n');
    expect(seen).toContain('*pool-a* → 7.6 (automatic)');
    expect(seen).toContain('Status of pool-a');
    expect(seen).toContain('Recent runs of pool-a');
    expect(core.status).toHaveBeenCalledWith('pool-a');
    expect(core.history).toHaveBeenCalledWith('pool-a', 10);
  });

  it('pauses, resumes and aborts a run through Core with the user as actor', async () => {
    await h.command('pause pool-a-20261125-1', { user: APPROVER });
    await h.command('resume pool-a-20261125-1', { user: APPROVER });
    await h.command('abort pool-a-20261125-1', { user: APPROVER });
    await h.slack.idle();
    const actor = expect.objectContaining({ userId: APPROVER, groups: ['S0OPSLEADS'], source: 'slack' });
    expect(core.hold).toHaveBeenCalledWith('pool-a-20261125-1', undefined, actor);
    expect(core.resume).toHaveBeenCalledWith('pool-a-20261125-1', actor);
    expect(core.abort).toHaveBeenCalledWith('pool-a-20261125-1', actor);
    expect(ephemeralsFor(h.api, APPROVER).join('\n')).toContain('Run pool-a-20261125-1 aborted; now aborted.');
  });

  it('says so when a run does not exist', async () => {
    await h.command('abort pool-a-20991231-9');
    await h.slack.idle();
    expect(core.abort).not.toHaveBeenCalled();
    expect(ephemeralsFor(h.api, REQUESTER).join('\n')).toContain('There is no run "pool-a-20991231-9"');
  });

  it('refuses pool commands outside the pool channel, audits, and does not call Core', async () => {
    await h.command('start pool-a', { channel: 'C0RANDOM', channelName: 'random' });
    await h.command('abort pool-a-20261125-1', { channel: 'C0RANDOM', channelName: 'random' });
    await h.slack.idle();
    expect(core.start).not.toHaveBeenCalled();
    expect(core.abort).not.toHaveBeenCalled();
    expect(h.audits.map((a) => [a.kind, a.actor, a.message])).toEqual([
      ['refused', REQUESTER, 'start refused: pool pool-a is operated from its channel only'],
      ['refused', REQUESTER, 'abort pool-a-20261125-1 refused: pool pool-a is operated from its channel only'],
    ]);
    expect(ephemeralsFor(h.api, REQUESTER).join('\n')).toContain('is operated from <#C0XSUPGRADE> only. Nothing was done.');
  });

  it('answers schedule commands honestly when no scheduler is configured', async () => {
    await h.command('schedule pool-a 2026-11-28T02:00 until 4h');
    await h.slack.idle();
    expect(ephemeralsFor(h.api, REQUESTER).join('\n')).toContain('Scheduling is not enabled');
  });

  it('tells the user and logs the detail when Core throws', async () => {
    core.history.mockRejectedValue(new Error('store file is locked (SQLITE_BUSY)'));
    await h.command('history pool-a');
    await h.slack.idle();
    const said = ephemeralsFor(h.api, REQUESTER).join('\n');
    expect(said).toContain('Something went wrong');
    expect(said).not.toContain('SQLITE_BUSY');
    expect(h.logs.entries().some((e) => e.msg === 'slash command failed' && String(e.err).includes('SQLITE_BUSY'))).toBe(true);
  });
});

describe('/xsupgrade schedule with a scheduler', () => {
  it('schedules through the scheduler with the user as actor', async () => {
    const scheduler = {
      schedule: jest.fn(async () => ({ ok: true as const, value: { id: 'pool-a-w1', pool: 'pool-a', whenText: '2026-11-28T02:00', untilText: '4h' } })),
      list: jest.fn(async () => [{ id: 'pool-a-w1', pool: 'pool-a', whenText: '2026-11-28T02:00', untilText: '4h', state: 'scheduled', createdBy: REQUESTER }]),
      unschedule: jest.fn(async () => ({ ok: true as const, value: { id: 'pool-a-w1', pool: 'pool-a' } })),
    };
    const h = await startHarness({ core: fakeCore(makeRun()), deps: { scheduler } });
    try {
      await h.command('schedule pool-a 2026-11-28T02:00 until 4h');
      await h.command('schedules');
      await h.command('unschedule pool-a-w1');
      await h.slack.idle();
      expect(scheduler.schedule).toHaveBeenCalledWith('pool-a', '2026-11-28T02:00', '4h', expect.objectContaining({ userId: REQUESTER }));
      expect(scheduler.unschedule).toHaveBeenCalledWith('pool-a-w1', expect.objectContaining({ userId: REQUESTER }));
      const said = ephemeralsFor(h.api, REQUESTER).join('\n');
      expect(said).toContain('Window pool-a-w1 scheduled for pool-a: 2026-11-28T02:00 until 4h.');
      expect(said).toContain('• pool-a-w1 · pool-a · 2026-11-28T02:00 until 4h · scheduled');
      expect(said).toContain('Window pool-a-w1 of pool-a deleted.');
    } finally {
      await h.stop();
    }
  });
});
