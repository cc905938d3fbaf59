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
    ['the scheduler pausing at a window end', { userId: 'scheduler', source: 'scheduler' } as Actor, 'hold', true],
  ])('%s → %s', (_what, actor, decision, allowed) => {
    expect(authorize(pool, actor, decision as 'approve', run).ok).toBe(allowed);
  });

  it('allows self-approval only when the pool says so', () => {
    const lax = { ...pool, slack: { ...pool.slack, allowSelfApproval: true } } as PoolConfig;
    expect(authorize(lax, slack('UAPP'), 'approve', run).ok).toBe(true);
  });
});
