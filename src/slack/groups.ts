import type { Clock } from '../clock';
import type { Logger } from '../log';

/**
 * Which of a pool's approver user groups a user belongs to (usergroups.users.list, scope
 * usergroups:read), cached for a minute. A lookup failure counts as "not a member": Core then
 * refuses a group-only approver, which fails closed.
 */
export interface UserGroupsApi {
  apiCall(method: 'usergroups.users.list', args: { usergroup: string }): Promise<object>;
}

export class GroupResolver {
  private readonly cache = new Map<string, { users: string[]; until: number }>();

  constructor(
    private readonly api: UserGroupsApi,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly ttlMs = 60_000,
  ) {}

  private async members(group: string): Promise<string[]> {
    const hit = this.cache.get(group);
    if (hit && hit.until > this.clock.now()) return hit.users;
    try {
      const res = (await this.api.apiCall('usergroups.users.list', { usergroup: group })) as { users?: unknown };
      const users = Array.isArray(res.users) ? res.users.filter((u): u is string => typeof u === 'string') : [];
      this.cache.set(group, { users, until: this.clock.now() + this.ttlMs });
      return users;
    } catch (e) {
      this.logger.warn({ group, err: (e as { data?: { error?: string } }).data?.error ?? (e as Error).message }, 'could not read a Slack user group (scope usergroups:read?); treating the user as not a member');
      return [];
    }
  }

  /** The subset of `groups` that `userId` belongs to. */
  async groupsOf(userId: string, groups: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const g of groups) if ((await this.members(g)).includes(userId)) out.push(g);
    return out;
  }
}
