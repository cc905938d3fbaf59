import { authorize } from '../../src/core/authorize';
import type { PoolConfig } from '../../src/config/pools';
import type { Actor } from '../../src/domain/types';
import { makePlan, makeRun } from '../runner/helpers';

const pool = {
  name: 'pool-t',
  slack: { channel: 'CPOOL', approvers: { users: ['UAPP'], groups: ['SGRP'] }, allowSelfApproval: false },
} as unknown as PoolConfig;
const run = { ...makeRun(makePlan()), requestedBy: 'UAPP' };
const slack = (userId: string, extra: Partial<Actor> = {}): Actor => ({ userId, source: 'slack', channel: 'CPOOL', ...extra });

describe('authorize', () => {
  it.each([
    ['a configured approver user', slack('UOTHER', { groups: ['SGRP'] }), 'approve', true],
    ['a member of an approver group', slack('UGRP', { groups: ['SGRP'] }), 'abort', true],
    ['someone who is neither', slack('UNOPE'), 'approve', false],
    ['the requester approving their own run', slack('UAPP'), 'approve', false],
    ['the requester aborting their own run', slack('UAPP'), 'abort', true],
    ['an approver from another channel', slack('UAPP', { channel: 'COTHER' }), 'hold', false],
    ['anyone in the channel starting', slack('UNOPE'), 'start', true],
    ['a local CLI operator', { userId: 'cli', source: 'cli' } as Actor, 'recover', true],
    ['the scheduler pausing at a window end', { userId: 'UAPP', source: 'scheduler', window: 'pool-t-w1' } as Actor, 'hold', true],
    ['the scheduler starting at a window start', { userId: 'UAPP', source: 'scheduler', window: 'pool-t-w1' } as Actor, 'start', true],
    ['the scheduler passing a gate', { userId: 'UOTHER', source: 'scheduler', window: 'pool-t-w1' } as Actor, 'approve', false],
    ['the scheduler choosing a recovery', { userId: 'UAPP', source: 'scheduler', window: 'pool-t-w1' } as Actor, 'recover', false],
    // the window acts for its creator only while they may still schedule the pool (looked up when it acts)
    ['a window whose creator is in an approver group now', { userId: 'UGRP', source: 'scheduler', window: 'pool-t-w1', groups: ['SGRP'] } as Actor, 'start', true],
    ['a window whose creator left the approvers and their group', { userId: 'UGONE', source: 'scheduler', window: 'pool-t-w1', groups: [] } as Actor, 'start', false],
    ['a window whose creator left, resuming', { userId: 'UGONE', source: 'scheduler', window: 'pool-t-w1', groups: [] } as Actor, 'resume', false],
    ['a window whose creator left, pausing at its end', { userId: 'UGONE', source: 'scheduler', window: 'pool-t-w1', groups: [] } as Actor, 'hold', true],
    ['a window scheduled from the command line', { userId: 'cli:root', source: 'scheduler', window: 'pool-t-w1' } as Actor, 'start', true],
    ['an approver scheduling a window', slack('UOTHER', { groups: ['SGRP'] }), 'schedule', true],
    ['a channel member scheduling a window', slack('UNOPE'), 'schedule', false],
  ])('%s → %s', (_what, actor, decision, allowed) => {
    expect(authorize(pool, actor, decision as 'approve', run).ok).toBe(allowed);
  });

  it('lets a window resume only a run that a window paused', () => {
    const window = { userId: 'UAPP', source: 'scheduler', window: 'pool-t-w1' } as Actor;
    const pausedBy = (source: Actor['source']) => ({ ...run, state: 'paused' as const, pausedBy: { userId: 'UAPP', source, at: 1 } });
    expect(authorize(pool, window, 'resume', pausedBy('scheduler')).ok).toBe(true);
    expect(authorize(pool, window, 'resume', pausedBy('slack'))).toEqual({ ok: false, reason: expect.stringMatching(/paused by <@UAPP> and a window never resumes a run a human paused/) });
    expect(authorize(pool, window, 'resume', pausedBy('cli')).ok).toBe(false);
  });

  it('allows self-approval only when the pool says so', () => {
    const lax = { ...pool, slack: { ...pool.slack, allowSelfApproval: true } } as PoolConfig;
    expect(authorize(lax, slack('UAPP'), 'approve', run).ok).toBe(true);
  });
  it("says why a window whose creator lost the right to schedule does not act", () => {
    const window = { userId: 'UGONE', source: 'scheduler', window: 'pool-t-w3', groups: [] } as Actor;
    expect(authorize(pool, window, 'start')).toEqual({ ok: false, reason: '<@UGONE>, who created window pool-t-w3, is no longer an approver of pool pool-t: the window does not act. A scheduler may schedule it again' });
  });
});
