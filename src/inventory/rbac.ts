/**
 * Reads what the pool session may do (issue 14): session.get_is_local_superuser and session.get_rbac_permissions on
 * the bot's own session (both allowed to every role). The reply passes a zod schema at this boundary.
 */
import { z } from 'zod';
import type { SessionPermissions } from '../domain/rbac';

export interface SessionSource {
  sessionRef(): Promise<string>;
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

const permissionsSchema = z.array(z.string().min(1).max(200)).max(10_000);

/** undefined when the pool does not know these calls (a stand-in server without RBAC): the check is skipped. */
export async function readSessionPermissions(client: SessionSource): Promise<SessionPermissions | undefined> {
  try {
    return await read(client);
  } catch (e) {
    if ((e as { code?: unknown }).code === 'MESSAGE_METHOD_UNKNOWN') return undefined;
    throw e;
  }
}

async function read(client: SessionSource): Promise<SessionPermissions> {
  const session = await client.sessionRef();
  const superuser = z.boolean().safeParse(await client.call('session.get_is_local_superuser', [session, session]));
  if (!superuser.success) throw new Error('session.get_is_local_superuser: expected a boolean');
  if (superuser.data) return { superuser: true, permissions: [] };
  const perms = permissionsSchema.safeParse(await client.call('session.get_rbac_permissions', [session, session]));
  if (!perms.success) throw new Error('session.get_rbac_permissions: expected a list of permission names');
  return { superuser: false, permissions: perms.data.map((p) => p.toLowerCase()) };
}
