/**
 * Who may do what, decided in one place so no interface can skip it (Core enforces, every refusal is audited).
 * - CLI and scheduler actors are local operators: allowed.
 * - Slack (and sandbox) actors act only from the pool's channel; gate and run decisions need a configured approver
 *   (user id, or membership of an approver user group); nobody approves their own run unless allowSelfApproval.
 */
import type { PoolConfig } from '../config/pools';
import type { Actor, Run } from '../domain/types';
import { channelMention, mention } from '../domain/mention';

export type Decision = 'start' | 'approve' | 'hold' | 'resume' | 'abort' | 'recover';

export type AuthResult = { ok: true } | { ok: false; reason: string };

export function isApprover(pool: PoolConfig, actor: Actor): boolean {
  const a = pool.slack.approvers;
  return a.users.includes(actor.userId) || (actor.groups ?? []).some((g) => a.groups.includes(g));
}

export function authorize(pool: PoolConfig, actor: Actor, decision: Decision, run?: Run): AuthResult {
  if (actor.source === 'cli' || actor.source === 'scheduler') return { ok: true };
  if (actor.channel !== pool.slack.channel) {
    return { ok: false, reason: `pool ${pool.name} is operated from its channel ${channelMention(pool.slack.channel)} only` };
  }
  if (decision === 'start') return { ok: true };
  if (!isApprover(pool, actor)) return { ok: false, reason: `${mention(actor.userId)} is not an approver of pool ${pool.name}` };
  if (decision === 'approve' && run && run.requestedBy === actor.userId && !pool.slack.allowSelfApproval) {
    return { ok: false, reason: `${mention(actor.userId)} requested run ${run.id} and may not approve it (self-approval is off for pool ${pool.name})` };
  }
  return { ok: true };
}
