/**
 * A window that started a run pauses it at its end (README: "it may start a run and pause one at its end"; R3.1: no
 * new host down outside the window), even when the schedule never learnt the run's id: that id is written after
 * core.start returned, and the write can fail (a store blip) or the process die right before it. The run's start is
 * audited with the window's id in the same transaction as the run, so the scheduler finds the pool's unfinished run
 * started by that window and pauses it at the window's end.
 */
import type { Actor } from '../../src/domain/types';
import type { Schedule } from '../../src/store/types';
import { setup } from './fake-core';

const MIN = 60_000;
const HOUR = 60 * MIN;
const alice: Actor = { userId: 'U0ALICE', source: 'slack', channel: '#ops', groups: ['S0ADMINS'] };
const T0 = Date.UTC(2026, 10, 25, 12);
const START = Date.UTC(2026, 10, 28, 21); // 2026-11-28 22:00 Berlin

test('a window whose run id could not be written at its start still pauses that run at its end', async () => {
  const t = await setup({ now: T0 });
  expect((await t.scheduler.schedule('pool-a', '2026-11-28T22:00', '4h', alice)).ok).toBe(true);

  // the write that records the started run fails once (the write that claims the opening goes through)
  const update = t.store.updateSchedule.bind(t.store);
  let failed = 0;
  t.store.updateSchedule = async (id: string, mutate: (s: Schedule) => void) => {
    const probe = {} as Schedule;
    try {
      mutate(probe);
    } catch {
      /* the claim's guard: not the write we are looking for */
    }
    if (probe.runId !== undefined && failed === 0) {
      failed++;
      throw new Error('connection to the state store lost');
    }
    return update(id, mutate);
  };

  await t.tickAt(START + 1_000);
  expect(t.core.start).toHaveBeenCalledTimes(1);
  expect(failed).toBe(1);
  expect(t.notices().at(-1)).toMatch(/started run pool-a-run-1/);
  expect(t.runs.get('pool-a-run-1')!.state).toBe('running');

  // the window ends while the run it started is still running: it must be paused
  await t.tickAt(START + 4 * HOUR + 5_000);
  expect(t.core.hold).toHaveBeenCalledWith('pool-a-run-1', undefined, expect.objectContaining({ source: 'scheduler', window: 'pool-a-w1' }));
  expect(t.runs.get('pool-a-run-1')!.state).toBe('paused');
});
