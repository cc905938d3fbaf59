/**
 * The alert's `attempt` is meant to refuse a click once the step "has run again and failed since". A recovery
 * procedure (rollback-master, forget-rejoin) ran the failed step again without a new attempt (found by review; the
 * recovery's mutation now counts one): the engine drives it
 * through Engine.recover (src/runner/engine.ts: `step.state === 'running' && step.data?.recovery`), never runStep, so
 * `attempts` does not change, and when the procedure fails Engine.failStep posts a NEW alert with the SAME attempt.
 * A click on the first alert (chosen from the CLI, so its buttons were never replaced) then acts on the procedure's
 * failure, which its reader has not seen.
 */
import { checkRequest, recoveryMutation } from '../../src/runner/recovery';
import type { Run } from '../../src/domain/types';
import { makeRun, withSteps } from '../slack/helpers/fixtures';

it('a click on the alert shown before a rollback-master procedure failed is refused (the step failed again since)', () => {
  // xs-a1 (master) did not come back from its upgrade: alert #1 is about attempt 1 of xs-a1:wait-host
  let run: Run = withSteps(makeRun(), {
    backup: { state: 'done', attempts: 1 },
    'pool-prep': { state: 'done', attempts: 1 },
    'xs-a1:disable': { state: 'done', attempts: 1 },
    'xs-a1:evacuate': { state: 'done', attempts: 1 },
    'xs-a1:approval': { state: 'done', attempts: 1 },
    'xs-a1:stop-vms': { state: 'done', attempts: 1 },
    'xs-a1:upgrade': { state: 'done', attempts: 1 },
    'xs-a1:wait-host': { state: 'failed', attempts: 1, error: { message: 'xs-a1 not back after 90 min' } },
  });
  run = { ...run, state: 'failed' };
  const alert1 = { stepId: 'xs-a1:wait-host', attempt: 1 };
  expect(checkRequest(run, { action: 'abort', ...alert1 }).ok).toBe(true);

  // from the CLI: rollback-master (no attempt); the engine continues the procedure, which fails (Engine.failStep)
  const next = structuredClone(run);
  recoveryMutation({ action: 'rollback-master', stepId: 'xs-a1:wait-host' }, 'cli:operator', { revision: run.revision })(next);
  const s = next.steps.find((x) => x.id === 'xs-a1:wait-host')!;
  expect(s.state).toBe('running');
  s.state = 'failed';
  s.error = { message: 'xs-a1 is not back live on 7.1.1 yet' };
  next.state = 'failed';
  // alert #2 is posted for this failure, with the same step.attempts as alert #1

  // a click on alert #1 (about "not back after 90 min") must not act on the procedure's failure
  const r = checkRequest(next, { action: 'abort', ...alert1 });
  expect(r.ok).toBe(false);
});
