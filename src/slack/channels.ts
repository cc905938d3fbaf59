import type { PoolConfig } from '../config/pools';
import { classifySlackError } from './errors';

/**
 * A pool channel written by name (`#xs-upgrades`) is resolved to its id once, at start-up (issue 10.11): Slack sends
 * the channel id with every click and most commands, so a pool configured by name could post plans but never be
 * started or approved. A name that cannot be resolved stops the start-up with a message naming the pool and field.
 */
export const CHANNEL_ID = /^[CG][A-Z0-9]+$/;

interface ApiCaller {
  apiCall(method: string, args?: Record<string, unknown>): Promise<unknown>;
}

interface ListPage {
  channels?: Array<{ id?: string; name?: string; is_archived?: boolean }>;
  response_metadata?: { next_cursor?: string };
}

const MAX_PAGES = 100;

export async function resolvePoolChannels(client: ApiCaller, pools: PoolConfig[]): Promise<{ pools: PoolConfig[]; problems: string[] }> {
  const byName = pools.filter((p) => !CHANNEL_ID.test(p.slack.channel));
  if (byName.length === 0) return { pools, problems: [] };
  const ids = new Map<string, string>();
  try {
    let cursor = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = (await client.apiCall('conversations.list', { types: 'public_channel,private_channel', exclude_archived: true, limit: 1000, ...(cursor ? { cursor } : {}) })) as ListPage;
      for (const c of r.channels ?? []) if (c.id && c.name && !c.is_archived) ids.set(c.name, c.id);
      cursor = r.response_metadata?.next_cursor ?? '';
      if (!cursor) break;
    }
  } catch (e) {
    const f = classifySlackError(e);
    const why = 'reason' in f ? f.reason : f.kind;
    return {
      pools,
      problems: byName.map(
        (p) => `pool ${p.name}: slack.channel "${p.slack.channel}" could not be resolved to a channel id (conversations.list: ${why}; it needs the channels:read and groups:read scopes); write the channel id (C…) instead`,
      ),
    };
  }
  const problems: string[] = [];
  const resolved = pools.map((p) => {
    if (CHANNEL_ID.test(p.slack.channel)) return p;
    const name = p.slack.channel.replace(/^#/, '');
    const id = ids.get(name);
    if (!id) {
      problems.push(`pool ${p.name}: slack.channel "${p.slack.channel}": no channel of that name is visible to the bot (archived, misspelt, or a private channel it was not invited to); write the channel id (C…) or invite the bot`);
      return p;
    }
    return { ...p, slack: { ...p.slack, channel: id } };
  });
  return { pools: resolved, problems };
}
