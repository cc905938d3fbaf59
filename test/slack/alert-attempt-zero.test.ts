/**
 * A failure alert for a step that failed before it ever ran: the engine fails the run's FIRST step when the pool
 * cannot be read to record the baseline (src/runner/engine.ts recordBaseline → failStep), and that step is still
 * at attempts 0. The alert's buttons now carry `attempt: step.attempts` (0), but runButtonValue only accepts a
 * positive attempt: every button of that alert (Retry, Abort) decoded as "forged or corrupted" (found by review).
 */
import { failureMessage } from '../../src/slack/blocks/failure';
import { decodeButtonValue, runButtonValue } from '../../src/slack/blocks/ids';
import { validActions } from '../../src/runner/recovery';
import { makeRun, poolConfig, withSteps } from './helpers/fixtures';

it("a failure alert for a step at attempt 0 (the baseline read failed) has buttons the bot's own decoder accepts", () => {
  let run = makeRun();
  // as Engine.failStep leaves it after recordBaseline could not read the pool: the first step failed, never started
  run = withSteps(run, {
    backup: { state: 'failed', attempts: 0, error: { message: 'the pool could not be read to record its state before the first change: ECONNREFUSED' } },
  });
  run = { ...run, state: 'failed' };
  const step = run.steps.find((s) => s.id === 'backup')!;
  const actions = validActions(run, step);
  expect(actions).toEqual(expect.arrayContaining(['retry', 'abort']));
  const msg = failureMessage(run, step, actions, poolConfig());
  const values: string[] = [];
  for (const b of msg.blocks as Array<{ type: string; elements?: Array<{ value?: string }> }>) {
    if (b.type === 'actions') for (const el of b.elements ?? []) if (el.value) values.push(el.value);
  }
  expect(values.length).toBeGreaterThan(0);
  const decoded = values.map((v) => decodeButtonValue(runButtonValue, v));
  // each button must be one the click handler (resolveRunClick) accepts, not refused as forged
  expect(decoded.every((d) => d !== undefined)).toBe(true);
});
