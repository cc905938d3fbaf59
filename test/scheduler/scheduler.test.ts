import { createScheduler } from '../../src/scheduler';
import type { Actor } from '../../src/domain/types';
import { sampleRun } from '../store/fixtures/sample';
import { approvedPlan, host, poolConfig, setup } from './fake-core';
import type { PoolConfig } from '../../src/config/pools';

const poolConfigWith = (slack: Partial<PoolConfig['slack']>): PoolConfig => {
  const p = poolConfig('pool-a', 'Europe/Berlin');
  return { ...p, slack: { ...p.slack, ...slack } };
};

const MIN = 60_000;
const HOUR = 60 * MIN;
// an approver (member of the pool's approver group S0ADMINS) in the pool's channel: windows need approver rights
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] };

const T0 = Date.UTC(2026, 10, 25, 12); // 2026-11-25 13:00 Berlin
const START = Date.UTC(2026, 10, 28, 21); // 2026-11-28 22:00 Berlin

describe('maintenance windows', () => {
  test('a window starts a run from the re-plan (once), and only once', async () => {
    const t = await setup({ now: T0 });
    const s = await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '2026-11-29T04:00', alice);
    expect(s).toMatchObject({ ok: true, value: { id: 'pool-a-w1', nextStartAt: START, state: 'scheduled' } });
    await t.tickAt(START - MIN);
    expect(t.core.plan).not.toHaveBeenCalled();
    await t.tickAt(START + 10_000);
    expect(t.core.plan).toHaveBeenCalledTimes(1);
    expect(t.core.start).toHaveBeenCalledTimes(1);
    expect(t.core.start).toHaveBeenCalledWith('pool-a', { planHash: 'plan-fresh' }, { userId: 'U0ALICE', source: 'scheduler', window: 'pool-a-w1' });
    expect(t.notices().at(-1)).toMatch(/Window pool-a-w1 opened until 2026-11-29 04:00 Europe\/Berlin: started run pool-a-run-1/);
    await t.tickAt(START + 20_000);
    await t.tickAt(START + HOUR);
    expect(t.core.start).toHaveBeenCalledTimes(1);
    expect(await t.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'active', runId: 'pool-a-run-1' });
  });

  test("a window acts with its creator's user groups as they are when it opens: Core checks the creator may still schedule", async () => {
    let member = true;
    const groupsOf = jest.fn(async (_user: string, groups: string[]) => (member ? groups.filter((g) => g === 'S0ADMINS') : []));
    const t = await setup({ now: T0, groupsOf });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '2026-11-29T04:00', alice);
    member = false; // alice left the approver group after scheduling
    await t.tickAt(START + 10_000);
    expect(groupsOf).toHaveBeenCalledWith('U0ALICE', expect.arrayContaining(['S0ADMINS']));
    expect(t.core.start).toHaveBeenCalledWith('pool-a', { planHash: 'plan-fresh' }, { userId: 'U0ALICE', source: 'scheduler', window: 'pool-a-w1', groups: [] });
  });

  test('a changed plan blocks the scheduled start and asks for a new approval', async () => {
    const t = await setup({
      now: T0,
      replan: () => approvedPlan({ id: 'plan-new', hosts: [host('xs-a1'), host('xs-a2', { stops: [{ vm: 'v', vmName: 'db-1', host: 'h', action: 'shutdown', reason: 'R2.5 local disk' }] })] }),
    });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice);
    await t.tickAt(START + 5_000);
    expect(t.core.plan).toHaveBeenCalledTimes(1);
    expect(t.core.start).not.toHaveBeenCalled();
    expect(t.notices().at(-1)).toMatch(/plan changed since it was approved \(VMs to stop added: db-1 shutdown\)\. Nothing was started\..*approve it by scheduling again/);
    expect(await t.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'blocked' });
    await t.tickAt(START + 10 * MIN);
    expect(t.core.start).not.toHaveBeenCalled();
  });

  test("a window's end pauses the run (hold without a step) and says so", async () => {
    const t = await setup({ now: T0 });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', alice);
    await t.tickAt(START + 1_000);
    await t.tickAt(START + 4 * HOUR - 1_000);
    expect(t.core.hold).not.toHaveBeenCalled();
    await t.tickAt(START + 4 * HOUR + 5_000);
    expect(t.core.hold).toHaveBeenCalledTimes(1);
    expect(t.core.hold).toHaveBeenCalledWith('pool-a-run-1', undefined, { userId: 'U0ALICE', source: 'scheduler', window: 'pool-a-w1' });
    expect(t.notices().at(-1)).toMatch(/Window pool-a-w1 closed: run pool-a-run-1 pauses after the host in progress finishes/);
    expect(await t.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'done' });
    await t.tickAt(START + 5 * HOUR);
    expect(t.core.hold).toHaveBeenCalledTimes(1);
  });

  test('a run that finishes inside the window completes the schedule; a closed window does not hold it', async () => {
    const t = await setup({ now: T0 });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', alice);
    await t.tickAt(START + 1_000);
    t.runs.get('pool-a-run-1')!.state = 'done';
    await t.tickAt(START + HOUR);
    expect(await t.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'done' });
    expect(t.notices().at(-1)).toMatch(/run pool-a-run-1 is done; the schedule is complete/);
    await t.tickAt(START + 5 * HOUR);
    expect(t.core.hold).not.toHaveBeenCalled();
  });

  test('a window missed while the bot was down is reported on start(), never run late', async () => {
    let t = await setup({ now: T0 });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', alice);
    // the bot is down over the window start; a new scheduler on the same store starts 2 hours late
    t = await setup({ now: START + 2 * HOUR, store: t.store });
    await t.scheduler.start();
    await t.scheduler.stop();
    expect(t.core.start).not.toHaveBeenCalled();
    expect(t.core.plan).not.toHaveBeenCalled();
    expect(t.notices()).toEqual([
      expect.stringMatching(/Window pool-a-w1: the window at 2026-11-28 22:00 Europe\/Berlin passed while the bot was not running\. Nothing was started late\./),
    ]);
    expect(await t.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'missed' });
  });

  test('recurring window: missed occurrences are reported, the next one still runs (resuming the paused run)', async () => {
    let t = await setup({ now: T0, timezone: 'UTC' });
    await t.scheduler.schedule('pool-a', '0 22 * * *', '2h', alice);
    await t.tickAt(Date.UTC(2026, 10, 25, 22, 0, 5));
    await t.tickAt(Date.UTC(2026, 10, 26, 0, 0, 5));
    expect(t.core.start).toHaveBeenCalledTimes(1);
    expect(t.core.hold).toHaveBeenCalledTimes(1);
    // down for two nights
    const { runs } = t;
    t = await setup({ now: Date.UTC(2026, 10, 28, 12), store: t.store, timezone: 'UTC' });
    for (const [id, run] of runs) t.runs.set(id, run);
    await t.scheduler.tick();
    // (the mixed-mode watchdog also speaks about the paused run: not what this test is about)
    expect(t.notices().filter((n) => n.startsWith('Window'))).toEqual([expect.stringMatching(/2 windows from 2026-11-26 22:00 UTC to 2026-11-27 22:00 UTC passed while the bot was not running.*Next window: 2026-11-28 22:00 UTC/)]);
    await t.tickAt(Date.UTC(2026, 10, 28, 22, 0, 5));
    expect(t.core.start).not.toHaveBeenCalled();
    expect(t.core.resume).toHaveBeenCalledWith('pool-a-run-1', { userId: 'U0ALICE', source: 'scheduler', window: 'pool-a-w1' });
  });

  test.each([
    ['invalid cron', '61 22 * * *', undefined, /minute/],
    ['past date', '2026-11-20T22:00', undefined, /in the past/],
    ['unknown timezone', '0 22 * * 6 Mars/Olympus', undefined, /unknown time zone/],
    ['end before start', '2026-11-28T22:00', '2026-11-28T20:00', /not after its start/],
  ])('bad input (%s): clear error, nothing scheduled', async (_name, when, until, message) => {
    const t = await setup({ now: T0 });
    const r = await t.scheduler.schedule('pool-a', when, until, alice);
    expect(r).toMatchObject({ ok: false, code: 'invalid', error: expect.stringMatching(message) });
    expect(await t.scheduler.list()).toEqual([]);
  });

  test('unknown pool, no plan, plan with blockers, a second window: refused', async () => {
    const t = await setup({ now: T0 });
    expect(await t.scheduler.schedule('pool-x', '2026-11-28T22:00', undefined, alice)).toMatchObject({ ok: false, code: 'not-found' });
    await t.store.savePlan('pool-a', approvedPlan({ executable: false, prechecks: [{ id: 'ha', rule: 'R2.4', severity: 'blocker', subjects: { hosts: [], vms: [] }, message: 'HA is enabled', fix: { kind: 'disable-ha' } }] }));
    expect(await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice)).toMatchObject({ ok: false, code: 'blocked', error: expect.stringMatching(/R2.4 HA is enabled/) });
    await t.store.savePlan('pool-a', approvedPlan());
    expect((await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice)).ok).toBe(true);
    expect(await t.scheduler.schedule('pool-a', '2026-11-29T22:00', undefined, alice)).toMatchObject({ ok: false, code: 'conflict', error: expect.stringMatching(/pool-a-w1/) });
    expect((await t.scheduler.list()).map((s) => s.id)).toEqual(['pool-a-w1']);
  });

  test('unschedule removes the window; it never fires', async () => {
    const t = await setup({ now: T0 });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice);
    expect(await t.scheduler.unschedule('pool-a-w1', alice)).toMatchObject({ ok: true, value: { id: 'pool-a-w1' } });
    expect(await t.scheduler.unschedule('pool-a-w1', alice)).toMatchObject({ ok: false, code: 'not-found' });
    await t.tickAt(START + 1_000);
    expect(t.core.start).not.toHaveBeenCalled();
  });

  // issue 10.4: a window acts later without anyone pressing a button, so creating or deleting one is an approver's decision
  test('a channel member who is not an approver can neither schedule nor unschedule; both refusals are audited with the reason', async () => {
    const t = await setup({ now: T0 });
    const mallory: Actor = { userId: 'U0MALLORY', source: 'slack', channel: '#ops', groups: [] };
    const refused = await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, mallory);
    expect(refused).toMatchObject({ ok: false, code: 'forbidden', error: expect.stringMatching(/<@U0MALLORY> is not an approver of pool pool-a: only they may schedule/) });
    expect(await t.scheduler.list()).toEqual([]);
    expect((await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice)).ok).toBe(true);
    expect(await t.scheduler.unschedule('pool-a-w1', mallory)).toMatchObject({ ok: false, code: 'forbidden' });
    expect((await t.scheduler.list()).map((s) => s.id)).toEqual(['pool-a-w1']);
    // an approver from another channel is refused too (pools are operated from their channel)
    expect(await t.scheduler.unschedule('pool-a-w1', { ...alice, channel: 'C0RANDOM' })).toMatchObject({ ok: false, code: 'forbidden' });
    const audit = await t.store.listAudit('pool:pool-a');
    expect(audit.filter((a) => a.kind === 'refused').map((a) => `${a.actor}: ${a.message}`)).toEqual([
      expect.stringMatching(/^U0MALLORY: schedule pool-a refused: <@U0MALLORY> is not an approver/),
      expect.stringMatching(/^U0MALLORY: unschedule pool-a-w1 refused/),
      expect.stringMatching(/^U0ALICE: unschedule pool-a-w1 refused: pool pool-a is operated from its channel #ops only/),
    ]);
  });

  // a pool taken out of the pools file keeps its windows in the store (they act again if it comes back): who may
  // delete one cannot be checked against a pool that is not configured, so only a local operator may
  test('a window of a pool no longer in the pools file is unscheduled from the CLI only; a Slack user is refused and audited', async () => {
    const t = await setup({ now: T0 });
    expect((await t.scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice)).ok).toBe(true);
    const without = createScheduler({ core: t.core, store: t.store, notifier: t.notifier, pools: [], clock: { now: () => T0, sleep: async () => undefined, scale: 1 }, now: () => T0 });
    const mallory: Actor = { userId: 'U0MALLORY', source: 'slack', channel: '#ops', groups: [] };
    expect(await without.unschedule('pool-a-w1', mallory)).toMatchObject({ ok: false, code: 'forbidden', error: expect.stringMatching(/pool pool-a is not in the pools file.*from the bot's host: xsupgrade unschedule pool-a-w1/) });
    expect((await without.list()).map((s) => s.id)).toEqual(['pool-a-w1']);
    expect((await t.store.listAudit('pool:pool-a')).filter((a) => a.kind === 'refused').map((a) => a.actor)).toEqual(['U0MALLORY']);
    expect((await without.unschedule('pool-a-w1', { userId: 'cli:root', source: 'cli' })).ok).toBe(true);
    expect(await without.list()).toEqual([]);
  });

  test('a separately configured list of schedulers replaces the approvers for windows (and only for windows)', async () => {
    const t = await setup({ now: T0 });
    const pool = poolConfigWith({ schedulers: { users: ['U0NIGHT'], groups: [] } });
    const scheduler = createScheduler({ core: t.core, store: t.store, notifier: t.notifier, pools: [pool], clock: { now: () => T0, sleep: async () => undefined, scale: 1 }, now: () => T0 });
    const night: Actor = { userId: 'U0NIGHT', source: 'slack', channel: '#ops', groups: [] };
    expect(await scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, alice)).toMatchObject({ ok: false, code: 'forbidden', error: expect.stringMatching(/not in the schedulers of pool pool-a/) });
    expect((await scheduler.schedule('pool-a', '2026-11-28T22:00', undefined, night)).ok).toBe(true);
    // the CLI is a local operator (it can read the state file anyway)
    expect((await scheduler.unschedule('pool-a-w1', { userId: 'cli', source: 'cli' })).ok).toBe(true);
  });

  test('a window acts on behalf of the approver who created it', async () => {
    const t = await setup({ now: T0 });
    await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', alice);
    await t.tickAt(START);
    expect(t.core.start).toHaveBeenCalledWith('pool-a', expect.anything(), { userId: 'U0ALICE', source: 'scheduler', window: 'pool-a-w1' });
  });
});

describe('DST transitions in Europe/Berlin: a daily 02:30 window neither double-runs nor skips', () => {
  test.each([
    ['spring forward', Date.UTC(2026, 2, 27, 12), Date.UTC(2026, 2, 31, 0), ['2026-03-28T01:30', '2026-03-29T01:30', '2026-03-30T00:30']],
    ['fall back', Date.UTC(2026, 9, 23, 12), Date.UTC(2026, 9, 27, 0), ['2026-10-24T00:30', '2026-10-25T00:30', '2026-10-26T01:30']],
  ])('%s', async (_name, from, to, expected) => {
    const t = await setup({ now: from });
    expect((await t.scheduler.schedule('pool-a', '30 2 * * *', '1h', alice)).ok).toBe(true);
    const opened: string[] = [];
    for (let now = from; now <= to; now += 5 * MIN) {
      const before = t.core.start.mock.calls.length + t.core.resume.mock.calls.length;
      await t.tickAt(now);
      if (t.core.start.mock.calls.length + t.core.resume.mock.calls.length > before) opened.push(new Date(now).toISOString().slice(0, 16));
    }
    expect(opened).toEqual(expected);
    expect(t.core.start).toHaveBeenCalledTimes(1);
    expect(t.core.resume).toHaveBeenCalledTimes(2);
    expect(t.core.hold).toHaveBeenCalledTimes(3);
    expect(t.notices().filter((n) => /missed|passed while/.test(n))).toEqual([]);
  });
});

describe('reminders and watchdogs', () => {
  test('an approval gate waiting too long is re-announced to the approvers, repeatedly, and never approved', async () => {
    const t = await setup({ now: T0, settings: { approvalReminderAfterMs: 30 * MIN, approvalReminderEveryMs: HOUR } });
    const run = sampleRun('pool-a-20261125-1', {
      state: 'awaiting-approval', updatedAt: T0,
      steps: [{ id: 'xs-a1:approval', kind: 'approval', hostName: 'xs-a1', state: 'awaiting-approval', attempts: 1, startedAt: T0 }],
    });
    t.runs.set(run.id, run);
    await t.tickAt(T0 + 29 * MIN);
    expect(t.notifier.runEvent).not.toHaveBeenCalled();
    await t.tickAt(T0 + 31 * MIN);
    expect(t.notifier.runEvent).toHaveBeenCalledTimes(1);
    expect(t.notifier.runEvent.mock.calls[0][1]).toMatch(/Reminder: <@U0APPROVER> <!subteam\^S0ADMINS> gate xs-a1:approval \(host xs-a1\) has been waiting for approval for 31m/);
    await t.tickAt(T0 + 61 * MIN);
    expect(t.notifier.runEvent).toHaveBeenCalledTimes(1);
    await t.tickAt(T0 + 92 * MIN);
    expect(t.notifier.runEvent).toHaveBeenCalledTimes(2);
    await t.tickAt(T0 + 24 * HOUR);
    expect(t.notifier.runEvent).toHaveBeenCalledTimes(3);
    expect(t.core.approve).not.toHaveBeenCalled();
    expect(run.state).toBe('awaiting-approval');
  });

  test('mixed mode: a paused run left too long gets a pool notice with its state', async () => {
    const t = await setup({ now: T0, timezone: 'UTC', settings: { mixedModeAfterMs: 12 * HOUR, mixedModeEveryMs: 12 * HOUR } });
    t.runs.set('r1', sampleRun('r1', {
      state: 'paused', updatedAt: T0,
      steps: [{ id: 'xs-a1:upgrade', kind: 'upgrade', state: 'done', attempts: 1 }, { id: 'xs-a2:disable', kind: 'disable', hostName: 'xs-a2', state: 'pending', attempts: 0 }],
    }));
    await t.tickAt(T0 + 11 * HOUR);
    expect(t.notices()).toEqual([]);
    await t.tickAt(T0 + 12 * HOUR);
    expect(t.notices()).toEqual([
      expect.stringMatching(/Pool pool-a has been in mixed mode for 12h .*run r1 is paused at step xs-a2:disable \(host xs-a2\).*resume r1.*R3\.5/),
    ]);
    await t.tickAt(T0 + 13 * HOUR);
    expect(t.notices()).toHaveLength(1);
  });

  test('mixed mode without a run: the latest plan shows hosts on different versions', async () => {
    const t = await setup({ now: T0, settings: { mixedModeAfterMs: HOUR } });
    await t.store.savePlan('pool-a', approvedPlan({ hosts: [host('xs-a1', { alreadyDone: true }), host('xs-a2')] }));
    await t.tickAt(T0);
    await t.tickAt(T0 + HOUR);
    expect(t.notices()).toEqual([expect.stringMatching(/in mixed mode for 1h.*no run is active/)]);
  });

  test('mixed mode reads the live pool (issue 11.5): a stale plan of mixed versions says nothing once every host runs the target', async () => {
    const t = await setup({ now: T0, settings: { mixedModeAfterMs: HOUR } });
    t.core.liveHosts.mockImplementation(async () => ({
      ok: true as const,
      value: [
        { name: 'xs-a1', product: '7.6.0', build: '', enabled: true, live: true },
        { name: 'xs-a2', product: '7.6.0', build: '', enabled: true, live: true },
      ],
    }));
    await t.store.savePlan('pool-a', approvedPlan({ hosts: [host('xs-a1', { alreadyDone: true }), host('xs-a2')] }));
    await t.tickAt(T0);
    await t.tickAt(T0 + 13 * HOUR);
    expect(t.notices()).toEqual([]);
    expect(t.core.liveHosts).toHaveBeenCalled();
  });

  test('mixed mode reads the live pool (issue 11.5): a paused run on a pool with one version is not called mixed', async () => {
    const t = await setup({ now: T0, timezone: 'UTC', settings: { mixedModeAfterMs: 12 * HOUR, mixedModeEveryMs: 12 * HOUR } });
    t.core.liveHosts.mockImplementation(async () => ({ ok: true as const, value: [{ name: 'xs-a1', product: '7.1.1', build: '', enabled: false, live: true }, { name: 'xs-a2', product: '7.1.1', build: '', enabled: true, live: true }] }));
    t.runs.set('r1', sampleRun('r1', { state: 'paused', updatedAt: T0, steps: [{ id: 'xs-a1:disable', kind: 'disable', hostName: 'xs-a1', state: 'done', attempts: 1 }] }));
    await t.tickAt(T0 + 13 * HOUR);
    expect(t.notices()).toEqual([]);
  });

  test('mixed mode reminder names the versions the live pool shows', async () => {
    const t = await setup({ now: T0, settings: { mixedModeAfterMs: HOUR } });
    await t.store.savePlan('pool-a', approvedPlan({ hosts: [host('xs-a1', { alreadyDone: true }), host('xs-a2')] }));
    await t.tickAt(T0);
    await t.tickAt(T0 + HOUR);
    expect(t.notices()).toEqual([expect.stringMatching(/the pool shows xs-a1 on 7\.6\.0; xs-a2 on 7\.1\.1/)]);
  });

  test('run watchdog: a step far beyond its expected duration is reported with the observed facts', async () => {
    const t = await setup({ now: T0, timezone: 'UTC', settings: { overdueFactor: 3, overdueMinExtraMs: 15 * MIN } });
    const run = sampleRun('r1', {
      plan: approvedPlan({ steps: [{ id: 'xs-a2:wait-host', kind: 'wait-host', description: 'wait', expectedSeconds: 20 * 60 }] }),
      steps: [{ id: 'xs-a2:wait-host', kind: 'wait-host', hostName: 'xs-a2', state: 'running', attempts: 1, startedAt: T0 }],
    });
    t.runs.set('r1', run);
    await t.tickAt(T0 + 60 * MIN);
    expect(t.notifier.runEvent).not.toHaveBeenCalled();
    await t.tickAt(T0 + 61 * MIN);
    expect(t.notifier.runEvent).toHaveBeenCalledTimes(1);
    expect(t.notifier.runEvent.mock.calls[0][1]).toMatch(/Step xs-a2:wait-host on host xs-a2 has been running since 2026-11-25 12:00 UTC \(1h 1m; expected about 20m, attempt 1\)/);
    await t.tickAt(T0 + 62 * MIN);
    expect(t.notifier.runEvent).toHaveBeenCalledTimes(1);
  });

  test('daily digest at the configured local time, once a day', async () => {
    const t = await setup({ now: Date.UTC(2026, 10, 25, 6), settings: { digest: { hour: 8, minute: 0 } } });
    await t.tickAt(Date.UTC(2026, 10, 25, 6, 50));
    expect(t.notices()).toEqual([]);
    await t.tickAt(Date.UTC(2026, 10, 25, 7, 0, 10)); // 08:00 Berlin
    expect(t.notices()).toEqual([expect.stringMatching(/Daily digest for pool-a: hosts xs-a1 7.1.1, xs-a2 7.1.1; runs in the last day: none/)]);
    await t.tickAt(Date.UTC(2026, 10, 25, 12));
    expect(t.notices()).toHaveLength(1);
  });
});
