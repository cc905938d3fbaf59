import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store';
import { createScheduler } from '../../src/scheduler';
import type { Actor, HostPlan, Plan, Run } from '../../src/domain/types';
import { samplePlan, sampleRun } from '../store/fixtures/sample';
import { fakeCore, fakeNotifier, poolConfig } from './fake-core';

/**
 * Several replicas tick on one store (issue 16): a window opens once and a reminder is sent once, also when the
 * replicas tick at the same instant and when a replica replaces one that died (its memory of what was sent is gone).
 * Two connections to one SQLite file stand for two replicas on one database (the PostgreSQL store passes the same
 * contract: claimNotice and updateSchedule are in test/store/contract.ts).
 */
const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 25, 12);
const START = Date.UTC(2026, 10, 28, 21);
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] }; // an approver (issue 10.4: only approvers schedule)
const host = (name: string): HostPlan => ({
  host: `OpaqueRef:${name}`, name, isMaster: name.endsWith('1'),
  from: { product: '7.1.1', platform: '2.1.1', build: '', brand: 'XenServer' },
  to: { product: '7.6.0', platform: '3.0.0' }, alreadyDone: false, migrations: [], stops: [], stepIds: [],
});
const approvedPlan = (over: Partial<Plan> = {}) => samplePlan({ id: 'plan-approved', hosts: [host('xs-a1'), host('xs-a2')], ...over });

describe('scheduler replicas on one store', () => {
  let dir: string;
  let now = T0;
  const stores: Store[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-sched-replicas-'));
    now = T0;
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function replica(runs: Run[] = [], settings: object = {}) {
    const clock = { now: () => now, sleep: async () => undefined, scale: 1 };
    const store = await openStore({ path: join(dir, 'state.sqlite'), clock });
    stores.push(store);
    const { core, runs: map } = fakeCore({ plan: () => approvedPlan({ id: 'plan-fresh', createdAt: now }), now: () => now });
    for (const r of runs) map.set(r.id, r);
    const notifier = fakeNotifier();
    const scheduler = createScheduler({ core, store, notifier, pools: [poolConfig('pool-a', 'Europe/Berlin')], clock, now: () => now, settings });
    return { store, core, notifier, scheduler };
  }

  test('two replicas ticking at the same instant open a window once', async () => {
    const a = await replica();
    const b = await replica();
    await a.store.savePlan('pool-a', approvedPlan());
    expect(await a.scheduler.schedule('pool-a', '2026-11-28T22:00', '2026-11-29T04:00', alice)).toMatchObject({ ok: true });
    await Promise.all([a.scheduler.tick(START - MIN), b.scheduler.tick(START - MIN)]);
    now = START + 10_000;
    await Promise.all([a.scheduler.tick(now), b.scheduler.tick(now)]);
    expect(a.core.start.mock.calls.length + b.core.start.mock.calls.length).toBe(1);
    const opened = [...a.notifier.poolNotice.mock.calls, ...b.notifier.poolNotice.mock.calls].filter((c) => /opened/.test(String(c[1])));
    expect(opened).toHaveLength(1);
    expect(await b.store.getSchedule('pool-a-w1')).toMatchObject({ state: 'active' });
  });

  test('an approval reminder goes out once across replicas, and a replacement replica does not repeat it', async () => {
    const waiting = () =>
      sampleRun('pool-a-20261125-1', {
        state: 'awaiting-approval', updatedAt: T0,
        steps: [{ id: 'xs-a1:approval', kind: 'approval', hostName: 'xs-a1', state: 'awaiting-approval', attempts: 1, startedAt: T0 }],
      });
    const settings = { approvalReminderAfterMs: 30 * MIN, approvalReminderEveryMs: HOUR };
    const a = await replica([waiting()], settings);
    const b = await replica([waiting()], settings);
    const sent = (...rs: Array<{ notifier: ReturnType<typeof fakeNotifier> }>) => rs.reduce((n, r) => n + r.notifier.runEvent.mock.calls.length, 0);
    for (const t of [T0, T0 + 29 * MIN]) {
      now = t;
      await Promise.all([a.scheduler.tick(t), b.scheduler.tick(t)]);
    }
    expect(sent(a, b)).toBe(0);
    now = T0 + 31 * MIN;
    await Promise.all([a.scheduler.tick(now), b.scheduler.tick(now)]);
    expect(sent(a, b)).toBe(1);
    now = T0 + 61 * MIN;
    await Promise.all([a.scheduler.tick(now), b.scheduler.tick(now)]);
    expect(sent(a, b)).toBe(1);
    // replica a dies; a replacement starts with an empty memory and ticks beside b
    const c = await replica([waiting()], settings);
    now = T0 + 62 * MIN;
    await Promise.all([b.scheduler.tick(now), c.scheduler.tick(now)]);
    expect(sent(a, b, c)).toBe(1);
    // the next reminder is due an hour after the first one, whoever sent it: once
    now = T0 + 92 * MIN;
    await Promise.all([b.scheduler.tick(now), c.scheduler.tick(now)]);
    expect(sent(a, b, c)).toBe(2);
  });
});
