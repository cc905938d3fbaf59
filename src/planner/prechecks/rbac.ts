import type { PoolSnapshot, Precheck } from '../../domain/types';
import { missingPermissions } from '../../domain/rbac';
import type { PrecheckContext } from '../context';
import { listNames } from '../context';

/**
 * The pool user may make every call the run will need (issue 14): checked from the session's RBAC permissions
 * before anything changes, so a narrow role blocks the plan instead of failing half-way through a run (a pool left
 * in mixed mode). Rule R2: everything is checked before any upgrade. No permissions read (a snapshot from a file,
 * an older caller): nothing to say.
 */
export function rbacChecks(_snapshot: PoolSnapshot, ctx: PrecheckContext): Precheck[] {
  const session = ctx.opts.permissions;
  if (!session) return [];
  const missing = missingPermissions(session, ctx.opts.mode, !!ctx.opts.updates);
  if (missing.length === 0) return [];
  const role = missing[0].role;
  return [
    {
      id: 'rbac-permissions',
      rule: 'R2',
      severity: 'blocker',
      subjects: { hosts: [], vms: [] },
      message:
        `the pool user lacks ${missing.length === 1 ? 'a permission' : `${missing.length} permissions`} the ${ctx.opts.mode} upgrade needs: ` +
        `${listNames(missing.map((m) => `${m.call} (${m.role}: ${m.why})`), 4)}`,
      fix: { kind: 'manual', guidance: `give the pool user the ${role} role (xe subject-role-add, or XenCenter's RBAC dialog), or use root; then plan again` },
    },
  ];
}
