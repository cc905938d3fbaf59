import { foreignWorkspace } from '../../src/slack/request-guard';

/**
 * An install in a workspace of an Enterprise Grid org (auth.test names team T0 and enterprise E1). A block_actions
 * payload from a workspace-level install carries `enterprise: null` and the enterprise only inside `team`
 * (team.enterprise_id). A Slack Connect user of an outside (non-grid) organisation clicking in the shared pool
 * channel has user.team_id = their own team. The guard did not compare that team when the install had an
 * enterprise, and let the click in (found by review).
 */
describe('enterprise install: whose team vouches for the user', () => {
  const installed = { teamId: 'T0', enterpriseId: 'E1' };
  const connectClick = {
    type: 'block_actions',
    enterprise: null,
    team: { id: 'T0', domain: 'acme', enterprise_id: 'E1' },
    user: { id: 'U0EXTERNAL', team_id: 'T0OUTSIDE' },
  };

  it('a Slack Connect user of an outside team is refused, naming their team', () => {
    expect(foreignWorkspace(connectClick, installed)).toBe("the user's team T0OUTSIDE is not the installed team T0, and no enterprise id vouches for it");
  });

  it('the same payload is refused when the install has no enterprise', () => {
    expect(foreignWorkspace(connectClick, { teamId: 'T0' })).toBeDefined();
  });

  it('a user of the installed team, or of another workspace of the same enterprise, is accepted', () => {
    expect(foreignWorkspace({ ...connectClick, user: { id: 'U0A', team_id: 'T0' } }, installed)).toBeUndefined();
    // another workspace of the grid: its team is the request's team, vouched by the enterprise
    expect(foreignWorkspace({ ...connectClick, team: { id: 'T2', enterprise_id: 'E1' }, user: { id: 'U0B', team_id: 'T2' } }, installed)).toBeUndefined();
    // or the user's own enterprise id says so
    expect(foreignWorkspace({ ...connectClick, user: { id: 'U0C', team_id: 'T3', enterprise_id: 'E1' } }, installed)).toBeUndefined();
  });

  it('a request team that no enterprise id vouches for is refused', () => {
    expect(foreignWorkspace({ type: 'block_actions', team: { id: 'T9' }, user: { id: 'U0D', team_id: 'T9' } }, installed)).toMatch(/team T9 is not the installed team T0, and no enterprise id vouches for it/);
  });
});
