import type { Clock } from '../clock';
import type { PoolConfig } from '../config/pools';
import { decisionGroups } from '../core/authorize';
import type { Core, CoreResult } from '../domain/ports';
import type { Actor, AuditEvent, Plan } from '../domain/types';
import type { Logger } from '../log';
import type { SlackMessage } from './blocks/common';
import type { GroupResolver } from './groups';
import type { SlackNotifier } from './notifier';
import { Outbox, withoutBlocks } from './outbox';
import type { ToolsService } from '../tools/follow-up';

/** What the schedule commands need from the scheduler (src/scheduler createScheduler). */
export interface SchedulerPort {
  schedule(pool: string, whenText: string, untilText: string | undefined, actor: Actor): Promise<CoreResult<{ id: string; pool: string; whenText: string; untilText?: string }>>;
  list(pool?: string): Promise<Array<{ id: string; pool: string; whenText: string; untilText?: string; state: string; createdBy: string }>>;
  unschedule(id: string, actor: Actor): Promise<CoreResult<{ id: string; pool: string }>>;
}

/** What `/xsupgrade tools` and the checklist's Dismiss button need from the Tools follow-up (src/tools/follow-up.ts). */
export type ToolsPort = Pick<ToolsService, 'show' | 'dismiss'>;

export type PlanRenderer = (plan: Plan, opts: { requestedBy: string }) => SlackMessage & { threadMessages: SlackMessage[] };

/** Everything the listeners share: built once in app.ts, passed to each surface's register(). */
export interface SlackContext {
  core: Core;
  pools: PoolConfig[];
  logger: Logger;
  clock: Clock;
  outbox: Outbox;
  notifier: SlackNotifier;
  groups: GroupResolver;
  planBlocks: PlanRenderer;
  scheduler?: SchedulerPort;
  /** the R5.1 Tools follow-up; absent: `/xsupgrade tools` says it is not enabled */
  tools?: ToolsPort;
  /** append to the audit log (refusals decided here, before Core: forged buttons, wrong channel) */
  audit?: (e: AuditEvent) => Promise<void>;
  /** the workspace's URL from auth.test ("https://acme.slack.com/"), for message links; undefined before start */
  workspaceUrl?: () => string | undefined;
  /** registers work that continues after ack(), so stop()/tests can wait for it */
  track<T>(work: Promise<T>): Promise<T>;
}

export function poolByName(ctx: SlackContext, name: string): PoolConfig | undefined {
  return ctx.pools.find((p) => p.name === name);
}

/** A pool is operated from its configured channel only (an id like C0123, or "#name"). */
export function channelAllows(pool: PoolConfig, channel: { id?: string; name?: string }): boolean {
  const configured = pool.slack.channel;
  if (channel.id && configured === channel.id) return true;
  const name = configured.replace(/^#/, '');
  return channel.name !== undefined && channel.name !== '' && channel.name === name && configured !== channel.id;
}

/** A message's permalink (the format chat.getPermalink returns): <workspace>/archives/<channel>/p<ts without the dot>. */
export function messageLink(ctx: SlackContext, channel: string, ts: string): string | undefined {
  const base = ctx.workspaceUrl?.();
  if (!base || !/^https:\/\/[^\s<>|]+$/.test(base) || !/^\d+\.\d+$/.test(ts)) return undefined;
  return `${base.replace(/\/?$/, '/')}archives/${channel}/p${ts.replace('.', '')}`;
}

export function channelMention(pool: PoolConfig): string {
  const c = pool.slack.channel;
  return /^[CGD][A-Z0-9]+$/.test(c) ? `<#${c}>` : `#${c.replace(/^#/, '')}`;
}

/** The actor for Core: who, from where, and which of the pool's approver groups they are in. */
export async function actorFor(ctx: SlackContext, userId: string, channelId: string | undefined, pool: PoolConfig | undefined): Promise<Actor> {
  const groups = pool ? await ctx.groups.groupsOf(userId, decisionGroups(pool)) : [];
  return { userId, source: 'slack', groups, channel: channelId };
}

/** Audits a refusal decided in the Slack layer; audit failures are logged, never thrown. */
export async function auditRefusal(ctx: SlackContext, e: { runId: string; actor: string; message: string; detail?: Record<string, unknown> }): Promise<void> {
  ctx.logger.warn({ runId: e.runId, actor: e.actor, ...e.detail }, `refused: ${e.message}`);
  if (!ctx.audit) return;
  try {
    await ctx.audit({ at: ctx.clock.now(), runId: e.runId, kind: 'refused', actor: e.actor, message: e.message, detail: e.detail });
  } catch (err) {
    ctx.logger.error({ runId: e.runId, err: (err as Error).message }, 'could not write the audit event');
  }
}

/** An ephemeral message to one user in a channel (in a thread when threadTs is given), through the outbox (retried, never dropped silently). */
export function tellUser(ctx: SlackContext, channel: string, user: string, msg: SlackMessage, describe = 'ephemeral', threadTs?: string): void {
  ctx.outbox.enqueue({
    queue: `ephemeral:${channel}`,
    describe,
    build: () => ({ method: 'chat.postEphemeral', args: { channel, user, text: msg.text, blocks: msg.blocks, ...(threadTs ? { thread_ts: threadTs } : {}) } }),
    degrade: withoutBlocks,
  });
}

/** A message in a channel (optionally in a thread); `onPosted` receives its ts. */
export function postToChannel(ctx: SlackContext, channel: string, msg: SlackMessage, opts: { threadTs?: () => string | undefined; onPosted?: (ts: string, channel: string) => void; describe?: string } = {}): void {
  ctx.outbox.enqueue({
    queue: channel,
    describe: opts.describe ?? 'message',
    build: () => {
      const args: Record<string, unknown> = { channel, text: msg.text, blocks: msg.blocks, unfurl_links: false };
      const thread = opts.threadTs?.();
      if (thread) args.thread_ts = thread;
      return { method: 'chat.postMessage', args };
    },
    degrade: withoutBlocks,
    onSent: (res) => {
      if (typeof res.ts === 'string') opts.onPosted?.(res.ts, typeof res.channel === 'string' ? res.channel : channel);
    },
  });
}

/** Replaces a message's content in place (buttons → decision). */
export function updateMessage(ctx: SlackContext, channel: string, ts: string, msg: SlackMessage, describe = 'update'): void {
  ctx.outbox.enqueue({
    queue: channel,
    describe,
    build: () => ({ method: 'chat.update', args: { channel, ts, text: msg.text, blocks: msg.blocks } }),
    degrade: withoutBlocks,
  });
}

/** Posts a message and its follow-ups in its thread, in order. */
export function postWithThread(ctx: SlackContext, channel: string, msg: SlackMessage & { threadMessages: SlackMessage[] }, describe: string, onPosted?: (ts: string, channel: string) => void): void {
  let parent: string | undefined;
  postToChannel(ctx, channel, msg, {
    describe,
    onPosted: (ts, ch) => {
      parent = ts;
      onPosted?.(ts, ch);
    },
  });
  msg.threadMessages.forEach((m, i) => postToChannel(ctx, channel, m, { describe: `${describe} part ${i + 2}`, threadTs: () => parent }));
}

/** Posts a plan and remembers the message, so that its Start button is withdrawn once any run of the pool starts. */
export function postPlan(ctx: SlackContext, channel: string, plan: Plan, requestedBy: string): void {
  const msg = ctx.planBlocks(plan, { requestedBy });
  postWithThread(ctx, channel, msg, `plan ${plan.pool}`, (ts, ch) =>
    ctx.notifier.planMessages.remember(plan.pool, { channel: ch, ts, planId: plan.id, planAt: plan.createdAt, message: { text: msg.text, blocks: msg.blocks } }),
  );
}
