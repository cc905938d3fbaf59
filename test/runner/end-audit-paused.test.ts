/**
 * The end audit of a VM the run stopped and that is up at the end in another state than before the run (Paused though
 * it ran, Running though it was Paused): restore-vms leaves such a VM as found and does not count it restored, so the
 * audit says what the pool shows and what the run did, words "someone changed it" as the bot's conclusion, and does
 * not count it as restarted. A VM Paused before and Paused again is no leftover.
 */
import type { PowerState } from '../../src/domain/types';
import { abortedOutcome, auditEnd, doneOutcome } from '../../src/runner/end-audit';
import { pool, runWithStops } from './paused-vms-fixture';

const at = (power: { app: PowerState; held: PowerState }) => pool('7.6.0', power);

describe('auditEnd: a VM the run stopped, up at the end but not as before the run', () => {
  it('both back as before (Running, and Paused): no leftover; only the Running one counts as running again', () => {
    const run = runWithStops();
    const a = auditEnd({ run, snapshot: at({ app: 'Running', held: 'Paused' }), now: 1 });
    expect(a.vms).toEqual([]);
    expect(a.leftovers).toEqual([]);
    expect(a.counts).toEqual({ migrated: 0, stopped: 2, restarted: 1, backPaused: 1 });
    expect(doneOutcome(run, a)).toMatch(/^done: /);
  });

  it('Running before, Paused now: said as what the pool shows and what the run did, never "not started again"; not restarted', () => {
    const run = runWithStops();
    const a = auditEnd({ run, snapshot: at({ app: 'Paused', held: 'Paused' }), now: 1 });
    expect(a.vms).toEqual([
      {
        name: 'app',
        cause: 'left-as-found',
        now: 'Paused',
        why: expect.stringMatching(
          /^stopped by this run for h2 \(suspended\); the pool shows it Paused, not Running as before the run: the bot concludes someone paused it after the run stopped it .*presumably on purpose; it was left as found, not counted as restored/,
        ),
      },
    ]);
    expect(a.vms[0]!.why).not.toMatch(/not started again/);
    expect(a.counts.restarted).toBe(0);
    expect(a.leftovers).toEqual([expect.stringMatching(/^app \(Paused\): stopped by this run for h2 \(suspended\); the pool shows it Paused, not Running/)]);
    expect(abortedOutcome('U1', a)).toMatch(/still changed: .*; app Paused: stopped by this run for h2 \(suspended\)/);
  });

  it('Paused before, Running now: a leftover worded the same way, not counted as restarted', () => {
    const run = runWithStops();
    const a = auditEnd({ run, snapshot: at({ app: 'Running', held: 'Running' }), now: 1 });
    expect(a.vms).toEqual([
      {
        name: 'held',
        cause: 'left-as-found',
        now: 'Running',
        why: expect.stringMatching(
          /^stopped by this run for h2 \(suspended\); the pool shows it Running, not Paused as before the run: the bot concludes someone started or unpaused it after the run stopped it .*presumably on purpose; it was left as found, not counted as restored/,
        ),
      },
    ]);
    expect(a.counts.restarted).toBe(1); // app only
    expect(doneOutcome(run, a)).toMatch(/^done with exceptions: held \(Running\): stopped by this run/);
  });

  it('Paused before, still suspended by the run: a leftover, not brought back', () => {
    const run = runWithStops();
    const snap = at({ app: 'Running', held: 'Suspended' });
    const a = auditEnd({ run, snapshot: snap, now: 1 });
    expect(a.vms).toEqual([
      expect.objectContaining({ name: 'held', cause: 'stopped-by-run', now: 'Suspended', why: 'suspended by this run for h2 and not brought back (the pool shows it Suspended; it was Paused before the run)' }),
    ]);
  });
});
