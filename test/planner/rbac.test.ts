import { ScaledClock } from '../../src/clock';
import { BOT_CALLS, lowestRole, missingPermissions, permissionsOfRole, roleAllows } from '../../src/domain/rbac';
import { planLivePool } from '../../src/inventory/live-plan';
import { readSessionPermissions } from '../../src/inventory/rbac';
import { loadUpgradePaths } from '../../src/planner';
import { loadScenario, startSimulator, type SimPool } from '../../src/sim';
import { XenApiClient, XenApiError } from '../../src/xenapi';

describe('RBAC table (issue 14)', () => {
  it('names the lowest xapi role of each call the bot makes; unknown calls need pool-admin (fail closed)', () => {
    expect(lowestRole('host.call_plugin')).toBe('pool-admin');
    expect(lowestRole('VM.pool_migrate')).toBe('vm-power-admin');
    expect(lowestRole('host.disable')).toBe('pool-operator');
    expect(lowestRole('host.get_all_records')).toBe('read-only');
    expect(lowestRole('event.from')).toBe('read-only');
    expect(lowestRole('host.some_new_call')).toBe('pool-admin');
    expect(roleAllows('pool-operator', 'vm.pool_migrate')).toBe(true);
    expect(roleAllows('vm-power-admin', 'host.disable')).toBe(false);
  });

  it('a superuser lacks nothing; a pool-operator lacks the plugin and the database backup, strongest role first', () => {
    expect(missingPermissions({ superuser: true, permissions: [] }, 'automatic')).toEqual([]);
    const op = { superuser: false, permissions: permissionsOfRole('pool-operator') };
    expect(missingPermissions(op, 'automatic').map((c) => c.call)).toEqual(['http/get_pool_xml_db_sync', 'host.call_plugin']);
    expect(missingPermissions(op, 'manual').map((c) => c.call)).toEqual(['http/get_pool_xml_db_sync']);
    expect(missingPermissions({ superuser: false, permissions: permissionsOfRole('pool-admin') }, 'update')).toEqual([]);
    // permission names are compared case-insensitively (xapi stores them lower-case)
    expect(missingPermissions({ superuser: false, permissions: BOT_CALLS.map((c) => c.call.toUpperCase()) }, 'automatic')).toEqual([]);
  });
});

describe('the simulator models roles and the plan checks them first', () => {
  let sim: SimPool;
  const clock = new ScaledClock(1000);
  const clients: XenApiClient[] = [];
  const as = async (username: string, password: string) => {
    const c = new XenApiClient({ url: sim.masterUrl, username, password, tls: sim.tls, clock });
    clients.push(c);
    await c.login();
    return c;
  };

  beforeAll(async () => {
    const scenario = loadScenario('manifests/demo/pool-a.yaml');
    scenario.pool.users = [
      { username: 'ops', password: 'ops-pass', role: 'pool-operator' },
      { username: 'vmadmin', password: 'vm-pass', role: 'vm-power-admin' },
    ];
    sim = await startSimulator(scenario, { clock });
  });
  afterAll(async () => {
    for (const c of clients) await c.logout().catch(() => undefined);
    await sim.stop();
  });

  it('a vm-power-admin is refused host.disable with xapi\'s RBAC_PERMISSION_DENIED and its params; reads are allowed', async () => {
    const c = await as('vmadmin', 'vm-pass');
    const hosts = await c.getAllRecords('host');
    const host = Object.keys(hosts)[0];
    const err = await c.call('host.disable', [host]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XenApiError);
    expect((err as XenApiError).code).toBe('RBAC_PERMISSION_DENIED');
    expect((err as XenApiError).params).toEqual(['host.disable', 'No permission in user session. (Roles with this permission: pool-operator, pool-admin)']);
    // the refusal changed nothing
    expect((await c.getAllRecords('host'))[host].enabled).toBe(true);
  });

  it('a pool-operator may disable a host but not call the upgrade plugin', async () => {
    const c = await as('ops', 'ops-pass');
    const host = Object.keys(await c.getAllRecords('host'))[0];
    const err = await c.call('host.call_plugin', [host, 'prepare_host_upgrade.py', 'testUrl', { url: 'http://repo/' }]).catch((e: unknown) => e);
    expect((err as XenApiError).code).toBe('RBAC_PERMISSION_DENIED');
    expect((err as XenApiError).params[0]).toBe('host.call_plugin');
  });

  it('reports each session\'s permissions as xapi does (root: local superuser)', async () => {
    expect(await readSessionPermissions(await as('root', sim.password))).toEqual({ superuser: true, permissions: [] });
    const ops = (await readSessionPermissions(await as('ops', 'ops-pass')))!; // undefined only when xapi lacks the RBAC calls
    expect(ops.superuser).toBe(false);
    expect(ops.permissions).toContain('host.disable');
    expect(ops.permissions).not.toContain('host.call_plugin');
  });

  const plan = async (c: XenApiClient) =>
    (
      await planLivePool(c, { pool: 'pool-a', target: '7.6', mode: 'automatic', returnPolicy: 'none', paths: loadUpgradePaths(), repositoryUrl: 'http://repo.example.com/xenserver/7.6/' }, clock)
    ).plan;

  it('plan blocks a pool-operator before anything changes, naming each missing permission and the role to give', async () => {
    const p = await plan(await as('ops', 'ops-pass'));
    expect(p.executable).toBe(false);
    const rbac = p.prechecks.find((x) => x.id === 'rbac-permissions');
    expect(rbac).toMatchObject({ severity: 'blocker', rule: 'R2' });
    expect(rbac!.message).toContain('http/get_pool_xml_db_sync (pool-admin');
    expect(rbac!.message).toContain('host.call_plugin (pool-admin');
    expect(rbac!.fix).toEqual({ kind: 'manual', guidance: expect.stringContaining('pool-admin role') });
  });

  it('root has no RBAC blocker', async () => {
    const p = await plan(await as('root', sim.password));
    expect(p.prechecks.find((x) => x.id === 'rbac-permissions')).toBeUndefined();
  });
});
