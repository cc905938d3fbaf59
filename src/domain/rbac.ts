/**
 * XenServer RBAC as the bot needs it (issue 14): each XenAPI call the bot makes, with the lowest role allowed to make
 * it (xapi's data model, `allowed_roles` in ocaml/idl/datamodel*.ml), and the session permissions that `plan` checks
 * before anything is changed. Pure data and functions: the planner's precheck, the simulator's role model and
 * docs/deploy.md use the same table. Permission names are lower case, as xapi stores them.
 */
import type { UpgradeMode } from './types';

/** xapi's built-in roles, weakest first; each role has every permission of the roles before it. */
export const ROLES = ['read-only', 'vm-operator', 'vm-admin', 'vm-power-admin', 'pool-operator', 'pool-admin'] as const;
export type XapiRole = (typeof ROLES)[number];

export interface BotCall {
  /** XenAPI method, or an HTTP action as `http/<action>` */
  call: string;
  role: XapiRole;
  /** what the bot does with it */
  why: string;
  /** only needed in these modes (default: every mode) */
  modes?: UpgradeMode[];
  /** also needed when the plan applies hotfixes (R3.10, pools file updateRepository) */
  hotfixes?: boolean;
}

/** Every state-changing call the bot makes (reads, event.from and task bookkeeping are allowed to read-only). */
export const BOT_CALLS: BotCall[] = [
  { call: 'http/get_pool_xml_db_sync', role: 'pool-admin', why: 'pool database backup before the first change (R2.1)' },
  { call: 'host.call_plugin', role: 'pool-admin', why: 'upgrade plugin: testUrl and the automatic install (R3.9)', modes: ['automatic'] },
  { call: 'pool.join', role: 'pool-operator', why: 'forget & rejoin a reinstalled host (R4.2)' },
  { call: 'host.destroy', role: 'pool-operator', why: 'forget a failed host before its rejoin (R4.2)' },
  { call: 'host.disable', role: 'pool-operator', why: 'disable a host before evacuating it (R3.3)' },
  { call: 'host.enable', role: 'pool-operator', why: 're-enable a host after its upgrade' },
  { call: 'host.evacuate', role: 'pool-operator', why: 'evacuate the host' },
  { call: 'host.assert_can_evacuate', role: 'pool-operator', why: 'check the evacuation before it starts' },
  { call: 'host.reboot', role: 'pool-operator', why: 'reboot into the installer or after an update' },
  { call: 'host.shutdown', role: 'pool-operator', why: 'shut the host down for a manual install' },
  { call: 'pool.disable_ha', role: 'pool-operator', why: 'HA off during the upgrade (R2.4)' },
  { call: 'pool.enable_ha', role: 'pool-operator', why: 'HA back on at the end' },
  { call: 'pool.set_ha_host_failures_to_tolerate', role: 'pool-operator', why: 'restore the HA setting at the end' },
  { call: 'pool_update.introduce', role: 'pool-operator', hotfixes: true, why: 'update mode: introduce the update ISO', modes: ['update'] },
  { call: 'pool_update.precheck', role: 'pool-operator', hotfixes: true, why: 'update mode: precheck on each host', modes: ['update'] },
  { call: 'pool_update.apply', role: 'pool-operator', hotfixes: true, why: 'update mode: apply on each host', modes: ['update'] },
  { call: 'vdi.create', role: 'vm-admin', why: 'hotfixes: a VDI for each update ISO to upload (R3.10)', modes: [], hotfixes: true },
  { call: 'vdi.destroy', role: 'vm-admin', why: 'hotfixes: remove a partial upload (R3.10)', modes: [], hotfixes: true },
  { call: 'http/put_import_raw_vdi', role: 'vm-admin', why: 'hotfixes: upload each update ISO (R3.10)', modes: [], hotfixes: true },
  { call: 'host.restart_agent', role: 'pool-operator', why: 'hotfixes: restart the toolstack when an update asks restartXAPI (R3.10)', modes: [], hotfixes: true },
  { call: 'pool_update.pool_clean', role: 'pool-operator', why: 'update mode: clean up after the last host', modes: ['update'] },
  { call: 'vm.pool_migrate', role: 'vm-power-admin', why: 'live-migrate VMs off the host (R3.7)' },
  { call: 'vm.start_on', role: 'vm-power-admin', why: 'restart a VM the run stopped, on a chosen host' },
  { call: 'vm.resume_on', role: 'vm-power-admin', why: 'resume a VM the run suspended, on a chosen host' },
  { call: 'vm.set_blocked_operations', role: 'vm-admin', why: 'block operations on VMs during the upgrade' },
  { call: 'vm.clean_shutdown', role: 'vm-operator', why: 'shut down an approved local-storage VM' },
  { call: 'vm.suspend', role: 'vm-operator', why: 'suspend an approved VM' },
  { call: 'vm.resume', role: 'vm-operator', why: 'resume a suspended VM' },
  { call: 'vm.start', role: 'vm-operator', why: 'restart a stopped VM' },
  { call: 'vbd.eject', role: 'vm-operator', why: 'eject an approved CD (R2.3)' },
  { call: 'vbd.insert', role: 'vm-operator', why: 'put a CD back at the end' },
];

const rank = (r: XapiRole) => ROLES.indexOf(r);

/** A call that changes nothing: allowed to every role (xapi: _R_READ_ONLY or _R_ALL). */
const READ_ONLY = /^(?:[a-z_]+\.(?:get_[a-z_]+|compute_free_memory|is_in_emergency_mode|is_slave|assert_can_boot_here)|event\.[a-z_]+|session\.[a-z_]+|task\.[a-z_]+|system\.[a-z_]+)$/;

/** The lowest role allowed to make `call` (lower-cased method or http/ action); unknown calls need pool-admin (fail closed). */
export function lowestRole(call: string): XapiRole {
  const name = call.toLowerCase();
  const known = BOT_CALLS.find((c) => c.call === name);
  if (known) return known.role;
  if (READ_ONLY.test(name)) return 'read-only';
  return 'pool-admin';
}

export function roleAllows(role: XapiRole, call: string): boolean {
  return rank(role) >= rank(lowestRole(call));
}

/** What xapi says about a session: a local superuser (root) has every permission and an empty list. */
export interface SessionPermissions {
  superuser: boolean;
  /** lower-case permission names (session.rbac_permissions) */
  permissions: string[];
}

/** The permissions a run in `mode` needs that the session does not have, strongest role first. */
export function missingPermissions(session: SessionPermissions, mode: UpgradeMode, hotfixes = false): BotCall[] {
  if (session.superuser) return [];
  const have = new Set(session.permissions.map((p) => p.toLowerCase()));
  return BOT_CALLS.filter((c) => (!c.modes || c.modes.includes(mode) || (hotfixes && c.hotfixes)) && !have.has(c.call.toLowerCase())).sort((a, b) => rank(b.role) - rank(a.role));
}

/** The permission names a role holds, as the simulator reports them (the bot's calls and the read-only ones it uses). */
export function permissionsOfRole(role: XapiRole): string[] {
  return BOT_CALLS.filter((c) => rank(role) >= rank(c.role)).map((c) => c.call);
}
