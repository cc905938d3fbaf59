/**
 * The compiled CLI: `xsupgrade schedule | schedules | unschedule` on a temp state file and a pools file pointing at
 * the simulator's pool-a, and an in-process scheduler on the same state file standing in for a running `serve`.
 * Window instants are far in the future (2099) so the "not in the past" check never depends on today's date;
 * the scheduler is ticked at explicit instants.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ScaledClock } from '../../src/clock';
import { createScheduler, type Scheduler } from '../../src/scheduler';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { openStore, type Store } from '../../src/store';
import type { Plan } from '../../src/domain/types';
import { fakeCore, fakeNotifier } from '../scheduler/fake-core';
import { poolConfigFor } from '../runner/sim-harness';

jest.setTimeout(120_000);

const ENTRY = 'dist/src/cli.js';
const START = Date.UTC(2099, 0, 1, 2, 0); // 2099-01-01 02:00 UTC

let sim: SimPool;
let dir: string;
let env: Record<string, string>;
let store: Store;
let serveScheduler: Scheduler;
let serveCore: ReturnType<typeof fakeCore>;
let latestPlan: Plan | undefined;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  errLines: string[];
}

/** Spawned asynchronously: the simulator answers from this process while the CLI runs. */
function cli(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, errLines: stderr.split('\n').filter((l) => l.trim() !== '') }));
  });
}

const logins = () => sim.stats().calls['session.login_with_password'] ?? 0;

beforeAll(async () => {
  expect(existsSync(ENTRY)).toBe(true);
  sim = await startSimulator(loadScenario('manifests/demo/pool-a.yaml'), { clock: new ScaledClock(1000) });
  dir = mkdtempSync(join(tmpdir(), 'xsupgrade-schedule-cli-'));
  writeFileSync(join(dir, 'pools.yaml'), YAML.stringify({ pools: [poolConfigFor(sim, 'automatic')] }));
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    XSUPGRADE_POOLS: join(dir, 'pools.yaml'),
    XSUPGRADE_STATE: join(dir, 'state.sqlite'),
    XSUPGRADE_BACKUPS: join(dir, 'backups'),
    XS_SIM_PASSWORD: sim.password,
  };
  // the running bot: its scheduler is created (and ticks once) before anything is scheduled
  store = await openStore({ path: env.XSUPGRADE_STATE });
  serveCore = fakeCore({ plan: () => latestPlan!, now: () => START });
  serveScheduler = createScheduler({
    core: serveCore.core,
    store,
    notifier: fakeNotifier(),
    pools: [poolConfigFor(sim, 'automatic')],
    clock: new ScaledClock(1),
    now: () => START - 86_400_000,
  });
  expect(await serveScheduler.tick(START - 86_400_000)).toEqual([]);
}, 180_000);

afterAll(async () => {
  await serveScheduler?.stop();
  await store?.close();
  await sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bad input: one clear error line, exit 1, nothing scheduled, no pool connection', () => {
  test.each([
    ['an invalid cron expression', ['pool-a', '61 2 * * *'], /^xsupgrade schedule: invalid cron expression "61 2 \* \* \*": minute/],
    ['a cron expression with too few fields', ['pool-a', '0 2 * *'], /is not a cron expression: expected 5 fields/],
    ['a past date', ['pool-a', '2001-01-01T02:00'], /^xsupgrade schedule: the window start 2001-01-01 02:00 UTC is in the past/],
    ['an unknown time zone', ['pool-a', '2099-01-01T02:00 Mars/Olympus'], /^xsupgrade schedule: unknown time zone "Mars\/Olympus": use an IANA name/],
    ['an end before the start', ['pool-a', '2099-01-01T02:00', 'until', '2099-01-01T01:00'], /^xsupgrade schedule: the window end 2099-01-01 01:00 UTC is not after its start 2099-01-01 02:00 UTC$/],
    ['an unknown pool', ['pool-x', '2099-01-01T02:00'], /^xsupgrade schedule: unknown pool "pool-x" \(configured: pool-a\)$/],
    ['a malformed pool name', ['Pool A!', '2099-01-01T02:00'], /^xsupgrade schedule: pool: expected a pool name/],
  ])('%s', async (_what, args, message) => {
    const before = logins();
    const r = await cli('schedule', ...args);
    expect(r.code).toBe(1);
    expect(r.errLines).toHaveLength(1);
    expect(r.errLines[0]).toMatch(message);
    expect(r.stdout).toBe('');
    expect(await store.listSchedules()).toEqual([]);
    expect(logins()).toBe(before);
  });

  test.each([
    [['schedule', 'pool-a'], /schedule needs a window start after the pool name/],
    [['schedule', 'pool-a', '2099-01-01T02:00', 'until'], /until needs an end/],
    [['unschedule'], /unschedule needs a schedule id/],
    [['unschedule', 'a', 'b'], /unexpected "b" after unschedule a/],
    [['schedules', 'pool-a', 'extra'], /unexpected "extra" after schedules pool-a/],
  ])('usage error %j: exit 2 with the usage line', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.errLines[0]).toMatch(message);
    expect(r.errLines[1]).toMatch(new RegExp(`^usage: xsupgrade ${args[0]}`));
    expect(await store.listSchedules()).toEqual([]);
  });
});

describe('schedule, list, pick-up by the running scheduler, unschedule', () => {
  test('a window scheduled from the CLI is listed, refused twice, and started by the running scheduler at its start', async () => {
    const r = await cli('schedule', 'pool-a', '2099-01-01T02:00', 'until', '4h');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    latestPlan = await store.getLatestPlan('pool-a');
    expect(latestPlan).toBeDefined();
    expect(r.stdout).toContain(`plan ${latestPlan!.id.slice(0, 12)} for pool-a: automatic upgrade to`);
    expect(r.stdout).toMatch(/host order xs-a1, xs-a2, xs-a3/);
    expect(r.stdout).toMatch(/VMs to stop: .*vm-licence-srv/);
    expect(r.stdout).toContain('Window pool-a-w1 scheduled for pool-a: 2099-01-01T02:00 until 4h');
    expect(r.stdout).toContain('opens 2099-01-01 02:00 UTC, closes 2099-01-01 06:00 UTC');
    expect(await store.getSchedule('pool-a-w1')).toMatchObject({
      pool: 'pool-a', state: 'scheduled', nextStartAt: START, window: { kind: 'once', startAt: START, endAt: START + 4 * 3_600_000 },
      approvedPlan: { id: latestPlan!.id }, createdBy: expect.stringMatching(/^cli:/),
    });

    const second = await cli('schedule', 'pool-a', '0 3 * * 6', 'until', '2h');
    expect(second.code).toBe(1);
    expect(second.errLines).toEqual(['xsupgrade schedule: pool pool-a already has window pool-a-w1 (2099-01-01T02:00); unschedule it first']);

    for (const args of [['schedules'], ['schedules', 'pool-a']]) {
      const list = await cli(...args);
      expect(list.code).toBe(0);
      expect(list.stdout.trim()).toBe('pool-a-w1 · pool-a · 2099-01-01T02:00 until 4h · scheduled · next 2099-01-01 02:00 UTC');
    }
    const unknown = await cli('schedules', 'pool-x');
    expect(unknown.code).toBe(1);
    expect(unknown.errLines).toEqual(['xsupgrade schedules: unknown pool "pool-x" (configured: pool-a)']);

    // the running bot's scheduler re-reads the store on each tick: one minute early nothing, at the start a run
    expect(await serveScheduler.tick(START - 60_000)).toEqual([]);
    expect(serveCore.core.start).not.toHaveBeenCalled();
    const actions = await serveScheduler.tick(START);
    expect(actions.map((a) => a.kind)).toEqual(['window-open']);
    expect(serveCore.core.start).toHaveBeenCalledTimes(1);
    expect(serveCore.core.start).toHaveBeenCalledWith('pool-a', { planHash: latestPlan!.id }, { userId: expect.stringMatching(/^cli:/), source: 'scheduler', window: 'pool-a-w1' });
    expect(await store.getSchedule('pool-a-w1')).toMatchObject({ state: 'active', runId: 'pool-a-run-1' });

    const listed = await cli('schedules');
    expect(listed.stdout).toMatch(/^pool-a-w1 · pool-a · 2099-01-01T02:00 until 4h · active · run pool-a-run-1$/m);
  });

  test('unschedule deletes the window (the bot then leaves it alone); an unknown id is refused', async () => {
    const r = await cli('unschedule', 'pool-a-w1');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('Window pool-a-w1 of pool-a unscheduled; run pool-a-run-1 keeps going (pause it with the pause command in Slack)');
    expect(await store.listSchedules()).toEqual([]);
    expect((await cli('schedules')).stdout.trim()).toBe('no maintenance windows scheduled');
    // its end passes: nothing is held any more
    expect(await serveScheduler.tick(START + 5 * 3_600_000)).toEqual([]);
    expect(serveCore.core.hold).not.toHaveBeenCalled();

    const again = await cli('unschedule', 'pool-a-w1');
    expect(again.code).toBe(1);
    expect(again.errLines).toEqual(['xsupgrade unschedule: no schedule pool-a-w1']);
  });

  test('a cron window typed as separate shell words is the same window as the quoted Slack form', async () => {
    const r = await cli('schedule', 'pool-a', '0', '3', '*', '*', '6', 'Europe/Berlin', 'until', '2h');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Window pool-a-w2 scheduled for pool-a: 0 3 \* \* 6 Europe\/Berlin until 2h/);
    expect(r.stdout).toMatch(/opens \d{4}-\d\d-\d\d 03:00 Europe\/Berlin, closes \d{4}-\d\d-\d\d 05:00 Europe\/Berlin/);
    expect(await store.getSchedule('pool-a-w2')).toMatchObject({ whenText: '0 3 * * 6 Europe/Berlin', untilText: '2h', timezone: 'Europe/Berlin', window: { kind: 'cron', cron: '0 3 * * 6', durationMs: 7_200_000 } });
  });
});
