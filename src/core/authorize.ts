/**
 * Who may do what, decided in one place so no interface can skip it (Core enforces, every refusal is audited).
 * - CLI actors are local operators (they can read the state file anyway): allowed.
 * - Slack (and sandbox) actors act only from the pool's channel; gate and run decisions need a configured approver
 *   (user id, or membership of an approver user group); nobody approves their own run unless allowSelfApproval.
 *   Scheduling and unscheduling a maintenance window need the same rights: the pool's `slack.schedulers` when the
 *   pools file lists them, else its approvers (a window later acts without anyone pressing a button).
 * - The scheduler acts on behalf of the approver who created the window (actor.userId, actor.window): it may start
 *   a run (every host shutdown still waits at its gate) and pause one at a window's end; it never passes a gate
 *   (approve), never chooses a recovery, and never resumes a run that a human paused. In serve it starts and resumes
 *   only while the creator may still schedule the pool (their user groups are looked up when the window acts).
 */
import type { PoolConfig } from '../config/pools';
import type { Actor, Run } from '../domain/types';
import { channelMention, mention } from '../domain/mention';

export type Decision = 'start' | 'approve' | 'hold' | 'resume' | 'abort' | 'recover' | 'schedule' | 'dismiss-tools';

export type AuthResult = { ok: true } | { ok: false; reason: string };

export function isApprover(pool: PoolConfig, actor: Actor): boolean {
  const a = pool.slack.approvers;
  return a.users.includes(actor.userId) || (actor.groups ?? []).some((g) => a.groups.includes(g));
}

/** Who may create and delete windows: the configured schedulers, else the approvers. */
export function isScheduler(pool: PoolConfig, actor: Actor): boolean {
  const s = pool.slack.schedulers;
  if (!s) return isApprover(pool, actor);
  return s.users.includes(actor.userId) || (actor.groups ?? []).some((g) => s.groups.includes(g));
}

/** The user groups whose membership matters for a pool's decisions (resolved by the Slack layer). */
export function decisionGroups(pool: PoolConfig): string[] {
  return [...new Set([...pool.slack.approvers.groups, ...(pool.slack.schedulers?.groups ?? [])])];
}

/** "<@U1> (slack)", or for a window: "scheduler on behalf of <@U1>, window pool-a-w1" — for audit lines. */
export function describeActor(actor: Actor): string {
  // a Slack user as a mention; a window created from the CLI names its local operator (cli:<user>) as is
  const who = /^[UW][A-Z0-9]+$/.test(actor.userId) ? `<@${actor.userId}>` : actor.userId;
  if (actor.source === 'scheduler') return `scheduler on behalf of ${who}${actor.window ? `, window ${actor.window}` : ''}`;
  return `${actor.userId} (${actor.source})`;
}

const SCHEDULER_MAY: ReadonlySet<Decision> = new Set(['start', 'hold', 'resume']);

export function authorize(pool: PoolConfig, actor: Actor, decision: Decision, run?: Run): AuthResult {
  if (actor.source === 'cli') return { ok: true };
  if (actor.source === 'scheduler') {
    if (!SCHEDULER_MAY.has(decision)) {
      return { ok: false, reason: `a maintenance window never decides "${decision}" (${describeActor(actor)}): a human must, in the run's thread` };
    }
    if (decision === 'resume' && run?.state === 'paused' && run.pausedBy && run.pausedBy.source !== 'scheduler') {
      return { ok: false, reason: `run ${run.id} was paused by <@${run.pausedBy.userId}> and a window never resumes a run a human paused: resume it yourself` };
    }
    // a window starts or resumes a run only while its creator may still schedule the pool (removed from the pools
    // file's schedulers or approvers, or from their group: it no longer acts); pausing at a window's end always may.
    // The scheduler gives the creator's groups where it can look them up (serve); a window made from the CLI has none
    if (decision !== 'hold' && actor.groups !== undefined && !isScheduler(pool, actor)) {
      const who = pool.slack.schedulers ? 'in the schedulers' : 'an approver';
      return { ok: false, reason: `${mention(actor.userId)}, who created window ${actor.window ?? '?'}, is no longer ${who} of pool ${pool.name}: the window does not act. A scheduler may schedule it again` };
    }
    return { ok: true };
  }
  if (actor.channel !== pool.slack.channel) {
    return { ok: false, reason: `pool ${pool.name} is operated from its channel ${channelMention(pool.slack.channel)} only` };
  }
  if (decision === 'start') return { ok: true };
  if (decision === 'schedule') {
    if (isScheduler(pool, actor)) return { ok: true };
    const who = pool.slack.schedulers ? 'in the schedulers' : 'an approver';
    return { ok: false, reason: `${mention(actor.userId)} is not ${who} of pool ${pool.name}: only they may schedule or unschedule its maintenance windows` };
  }
  if (!isApprover(pool, actor)) return { ok: false, reason: `${mention(actor.userId)} is not an approver of pool ${pool.name}` };
  if (decision === 'approve' && run && run.requestedBy === actor.userId && !pool.slack.allowSelfApproval) {
    return { ok: false, reason: `${mention(actor.userId)} requested run ${run.id} and may not approve it (self-approval is off for pool ${pool.name})` };
  }
  return { ok: true };
}
