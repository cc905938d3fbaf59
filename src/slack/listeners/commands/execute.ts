import type { Command } from '../../../interface/grammar';
import { describeRefusal } from '../../errors';
import { poolsReply, runDetailReply, runsReply, textReply } from '../../blocks/replies';
import type { SlackMessage } from '../../blocks/common';
import { esc } from '../../blocks/common';
import { toolsReply } from '../../blocks/tools';
import { actorFor, auditRefusal, channelAllows, channelMention, messageLink, poolByName, postPlan, SlackContext, tellUser } from '../../context';

/**
 * Executes a parsed command for a Slack user after the ack. Returns the ephemeral reply for the user
 * (undefined when the answer is posted to the channel instead, like a plan).
 */
export interface CommandOrigin {
  userId: string;
  channelId: string;
  channelName?: string;
}

type Outcome = SlackMessage | undefined;

/** Pool-bound commands run only in the pool's channel; a refusal is audited. */
async function poolGate(ctx: SlackContext, poolName: string, origin: CommandOrigin, what: string): Promise<{ ok: true } | { ok: false; reply: SlackMessage }> {
  const pool = poolByName(ctx, poolName);
  if (!pool) {
    const known = ctx.pools.map((p) => p.name).join(', ') || 'none';
    return { ok: false, reply: textReply(`There is no pool "${poolName}" (configured: ${known}).`) };
  }
  if (!channelAllows(pool, { id: origin.channelId, name: origin.channelName })) {
    await auditRefusal(ctx, {
      runId: `pool:${pool.name}`,
      actor: origin.userId,
      message: `${what} refused: pool ${pool.name} is operated from its channel only`,
      detail: { channel: origin.channelId, pool: pool.name },
    });
    return { ok: false, reply: { text: `${pool.name} is operated from its own channel only`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:no_entry: *${esc(pool.name)}* is operated from ${channelMention(pool)} only. Nothing was done.` } }] } };
  }
  return { ok: true };
}

/** Run-bound commands: the run must exist and be operated from its pool's channel. */
async function runGate(ctx: SlackContext, runId: string, origin: CommandOrigin, what: string): Promise<{ ok: true; pool: string } | { ok: false; reply: SlackMessage }> {
  const run = await ctx.core.getRun(runId);
  if (!run) return { ok: false, reply: textReply(`There is no run "${runId}". \`/xsupgrade status <pool>\` shows a pool's active run.`) };
  const gate = await poolGate(ctx, run.pool, origin, `${what} ${runId}`);
  return gate.ok ? { ok: true, pool: run.pool } : gate;
}

export async function executeCommand(ctx: SlackContext, command: Command, origin: CommandOrigin): Promise<Outcome> {
  switch (command.name) {
    case 'help':
      return undefined; // answered in the ack
    case 'pools': {
      return poolsReply(await ctx.core.listPools());
    }
    case 'plan': {
      const gate = await poolGate(ctx, command.pool, origin, 'plan');
      if (!gate.ok) return gate.reply;
      const pool = poolByName(ctx, command.pool)!;
      const actor = await actorFor(ctx, origin.userId, origin.channelId, pool);
      const result = await ctx.core.plan(command.pool, { target: command.target, mode: command.mode }, actor);
      if (!result.ok) return textReply(`Plan for ${command.pool}: ${describeRefusal(result.code, result.error)}`);
      postPlan(ctx, origin.channelId, result.value, origin.userId);
      return undefined;
    }
    case 'start': {
      const gate = await poolGate(ctx, command.pool, origin, 'start');
      if (!gate.ok) return gate.reply;
      const actor = await actorFor(ctx, origin.userId, origin.channelId, poolByName(ctx, command.pool));
      const result = await ctx.core.start(command.pool, {}, actor);
      if (!result.ok) return textReply(`Start ${command.pool}: ${describeRefusal(result.code, result.error)}`);
      return textReply(`Run ${result.value.id} started for ${command.pool} from plan ${result.value.planHash.slice(0, 12)}. Progress and approvals are in the thread of its header message.`);
    }
    case 'status': {
      const subject = command.subject;
      if (subject) {
        const pool = poolByName(ctx, subject);
        if (pool) {
          const gate = await poolGate(ctx, subject, origin, 'status');
          if (!gate.ok) return gate.reply;
        } else {
          const gate = await runGate(ctx, subject, origin, 'status');
          if (!gate.ok) return gate.reply;
          const run = (await ctx.core.getRun(subject))!;
          const link = run.slack?.headerTs ? messageLink(ctx, run.slack.channel, run.slack.headerTs) : undefined;
          const reply = runDetailReply(run, poolByName(ctx, run.pool)?.timezone, link);
          if (!reply.followUps.length) return reply;
          // an outcome or a step list too long for one message: the rest after the reply, in order (one worker per ephemeral queue)
          [reply, ...reply.followUps].forEach((m, i) => tellUser(ctx, origin.channelId, origin.userId, m, `reply status part ${i + 1}`));
          return undefined;
        }
        return runsReply(`Status of ${subject}`, await ctx.core.status(subject), pool?.timezone, `No run for ${subject} yet.`);
      }
      // without a subject: the pools operated from this channel
      const here = ctx.pools.filter((p) => channelAllows(p, { id: origin.channelId, name: origin.channelName }));
      if (here.length === 0) return textReply(`No pool is operated from this channel. Pools: ${ctx.pools.map((p) => p.name).join(', ') || 'none'} (\`/xsupgrade pools\`).`);
      const runs = (await Promise.all(here.map((p) => ctx.core.status(p.name)))).flat();
      return runsReply('Status', runs, here[0].timezone, `No runs yet for ${here.map((p) => p.name).join(', ')}.`);
    }
    case 'pause':
    case 'resume':
    case 'abort': {
      const gate = await runGate(ctx, command.runId, origin, command.name);
      if (!gate.ok) return gate.reply;
      const actor = await actorFor(ctx, origin.userId, origin.channelId, poolByName(ctx, gate.pool));
      const result =
        command.name === 'pause'
          ? await ctx.core.hold(command.runId, undefined, actor)
          : command.name === 'resume'
            ? await ctx.core.resume(command.runId, actor)
            : await ctx.core.abort(command.runId, actor);
      if (!result.ok) return textReply(`${command.name} ${command.runId}: ${describeRefusal(result.code, result.error)}`);
      const done = { pause: 'will pause before the next host is taken down (the host in progress finishes)', resume: 'resumed', abort: 'aborted' }[command.name];
      return textReply(`Run ${command.runId} ${done}; now ${result.value.state}.`);
    }
    case 'history': {
      const gate = await poolGate(ctx, command.pool, origin, 'history');
      if (!gate.ok) return gate.reply;
      return runsReply(`Recent runs of ${command.pool}`, await ctx.core.history(command.pool, 10), poolByName(ctx, command.pool)?.timezone, `No runs of ${command.pool} yet.`);
    }
    case 'schedule': {
      if (!ctx.scheduler) return textReply('Scheduling is not enabled in this bot (no scheduler configured). Nothing was scheduled.');
      const gate = await poolGate(ctx, command.pool, origin, 'schedule');
      if (!gate.ok) return gate.reply;
      const actor = await actorFor(ctx, origin.userId, origin.channelId, poolByName(ctx, command.pool));
      const result = await ctx.scheduler.schedule(command.pool, command.when, command.until, actor);
      if (!result.ok) return textReply(`Schedule ${command.pool}: ${describeRefusal(result.code, result.error)}`);
      return textReply(`Window ${result.value.id} scheduled for ${command.pool}: ${result.value.whenText}${result.value.untilText ? ` until ${result.value.untilText}` : ''}.`);
    }
    case 'schedules': {
      if (!ctx.scheduler) return textReply('Scheduling is not enabled in this bot (no scheduler configured).');
      const list = await ctx.scheduler.list();
      if (list.length === 0) return textReply('No maintenance windows are scheduled.');
      return textReply(['Scheduled windows:', ...list.map((s) => `• ${s.id} · ${s.pool} · ${s.whenText}${s.untilText ? ` until ${s.untilText}` : ''} · ${s.state}`)].join('\n'));
    }
    case 'tools': {
      // read-only, like `pools`: answered from any channel, to the asking user only
      if (!ctx.tools) return textReply('The Tools follow-up is not enabled in this bot. Nothing was read.');
      if (!poolByName(ctx, command.pool)) {
        return textReply(`There is no pool "${command.pool}" (configured: ${ctx.pools.map((p) => p.name).join(', ') || 'none'}).`);
      }
      const result = await ctx.tools.show(command.pool);
      if (!result.ok) return textReply(`Tools for ${command.pool}: ${describeRefusal(result.code, result.error)}`);
      const run = result.value.runId ? await ctx.core.getRun(result.value.runId) : undefined;
      const ts = run?.slack?.messages?.tools ?? run?.slack?.headerTs;
      return toolsReply(result.value, run?.slack && ts ? messageLink(ctx, run.slack.channel, ts) : undefined);
    }
    case 'unschedule': {
      if (!ctx.scheduler) return textReply('Scheduling is not enabled in this bot (no scheduler configured).');
      const existing = (await ctx.scheduler.list()).find((s) => s.id === command.id);
      if (existing) {
        const gate = await poolGate(ctx, existing.pool, origin, 'unschedule');
        if (!gate.ok) return gate.reply;
      }
      const actor = await actorFor(ctx, origin.userId, origin.channelId, existing ? poolByName(ctx, existing.pool) : undefined);
      const result = await ctx.scheduler.unschedule(command.id, actor);
      if (!result.ok) return textReply(`Unschedule ${command.id}: ${describeRefusal(result.code, result.error)}`);
      return textReply(`Window ${command.id} of ${result.value.pool} deleted.`);
    }
  }
}
