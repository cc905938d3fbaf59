/**
 * R3.8 / issue 12 point 9: while the master is down, a member whose xapi started in its absence answers every call,
 * logins included, with its emergency error. Those answers mean "pool unavailable" (the runner reconnects and
 * re-runs the step, within its deadline); the same codes from a real operation are failures.
 */
import { isPoolUnavailable, toStepError } from '../../src/runner/errors';
import { XenApiError, XenApiTaskLostError } from '../../src/xenapi';

const err = (code: string, method: string, params: string[] = []) => new XenApiError(code, params, method, '10.0.0.2');

describe('emergency-mode answers count as "pool unavailable"', () => {
  it.each([
    ['HOST_STILL_BOOTING', 'session.login_with_password'],
    ['INTERNAL_ERROR', 'session.login_with_password'],
    ['HOST_MASTER_CANNOT_TALK_BACK', 'session.login_with_password'],
    ['HOST_UNKNOWN_TO_MASTER', 'session.login_with_password'],
    ['HOST_MASTER_CANNOT_TALK_BACK', 'VM.get_all_records'],
  ])('%s answered to %s', (code, method) => {
    expect(isPoolUnavailable(err(code, method, ['Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")']))).toBe(true);
  });

  it('an INTERNAL_ERROR of a real operation is a failure of that operation, not an outage', () => {
    const e = err('INTERNAL_ERROR', 'Async.VM.pool_migrate', ['xenopsd internal error: Storage_interface.Does_not_exist']);
    expect(isPoolUnavailable(e)).toBe(false);
    expect(toStepError(e)).toMatchObject({ code: 'INTERNAL_ERROR' });
  });

  it('a task lost in a master restart is re-run through the step (which reconciles), with its own code if it ends the step', () => {
    const lost = new XenApiTaskLostError('task OpaqueRef:t no longer exists', 'OpaqueRef:t', 'task');
    expect(isPoolUnavailable(lost)).toBe(true);
    expect(toStepError(lost)).toMatchObject({ code: 'TASK_LOST' });
  });
});
