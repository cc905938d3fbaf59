/**
 * Maintenance windows on the simulator (the real core and runner, test/runner/sim-harness.ts): the night operator is
 * in the pool's schedulers group, not an approver (issue 10.4), and the scheduler makes only window decisions
 * (reminders and watchdogs are covered in test/scheduler with a fake core).
 */
import type { Actor } from '../../src/domain/types';
import type { SchedulerSettings } from '../../src/scheduler';
import { APPROVER } from '../runner/sim-harness';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const OPERATOR: Actor = { userId: 'U0OPERATOR', source: 'slack', channel: 'CPOOL', groups: ['S0NIGHTOPS'] };
/** the pools-file entry's Slack settings that give OPERATOR scheduling rights */
export const WITH_SCHEDULERS = {
  slack: { channel: 'CPOOL', approvers: { users: [APPROVER.userId], groups: [] }, schedulers: { users: [], groups: ['S0NIGHTOPS'] }, allowSelfApproval: false },
};
export const QUIET: Partial<SchedulerSettings> = { approvalReminderAfterMs: 1e13, mixedModeAfterMs: 1e13, overdueMinExtraMs: 1e13 };
/** 2099-01-01T02:00Z → "2099-01-01T02:00Z" (the window grammar: minutes, explicit zone) */
export const iso = (t: number) => `${new Date(t).toISOString().slice(0, 16)}Z`;
