/**
 * The simulated Slack workspace: its users, user groups, channel and bot identity.
 * Shared by the fake Web API (users.info, usergroups.users.list, auth.test), the sandbox page
 * (user switcher, mention names) and `npm start` (the generated pools config names these ids).
 */
export interface SandboxUser {
  id: string;
  name: string;
  realName: string;
  /** what the sandbox's user switcher shows next to the name */
  role: string;
}

export interface SandboxDirectory {
  teamId: string;
  teamName: string;
  bot: { userId: string; botId: string; name: string };
  channel: { id: string; name: string };
  users: SandboxUser[];
  userGroups: Array<{ id: string; handle: string; users: string[] }>;
}

export const DEFAULT_DIRECTORY: SandboxDirectory = {
  teamId: 'T0SANDBOX',
  teamName: 'xsupgrade sandbox',
  bot: { userId: 'U0XSBOT', botId: 'B0XSBOT', name: 'xsupgrade' },
  channel: { id: 'C0XSUPGRADE', name: 'xs-upgrades' },
  users: [
    { id: 'U0KENJI', name: 'kenji', realName: 'Kenji Sato', role: 'requester' },
    { id: 'U0MIKA', name: 'mika', realName: 'Mika Virtanen', role: 'approver' },
    { id: 'U0SAM', name: 'sam', realName: 'Sam Okafor', role: 'not an approver' },
  ],
  userGroups: [{ id: 'S0OPSLEADS', handle: 'ops-leads', users: ['U0MIKA'] }],
};

export function findUser(dir: SandboxDirectory, id: string): SandboxUser | undefined {
  return dir.users.find((u) => u.id === id);
}
