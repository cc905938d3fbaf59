/** session.*, system.listMethods, pool.get_master-style basics. */
import { newRef } from '../db';
import { fail } from '../failure';
import { permissionsOfRole, type XapiRole } from '../../domain/rbac';
import { def, METHODS, str } from './registry';

def('session.login_with_password', {
  params: 4,
  min: 2,
  session: false,
  async: false,
  handler: async ({ sim, pool, signal }, [user, pass, , originator]) => {
    const u = str(user);
    const root = u === sim.credentials.username && str(pass) === sim.credentials.password;
    const other = sim.scenario.pool.users.find((x) => x.username === u && x.password === str(pass));
    if (!root && !other) {
      // xapi delays a failed login on purpose (5 s by default), through the injected clock here.
      await sim.sleepSeconds(sim.timings.loginFailureDelaySeconds, signal);
      fail('SESSION_AUTHENTICATION_FAILED', u, 'Authentication failure');
    }
    const ref = newRef();
    pool.sessions.set(ref, { user: u, originator: originator === undefined ? '' : str(originator), ...(root ? {} : { role: other!.role }) });
    return ref;
  },
});

def('session.logout', {
  params: 0,
  async: false,
  handler: ({ pool, session }) => {
    pool.sessions.delete(session);
    return '';
  },
});

def('session.get_this_host', { params: 1, async: false, handler: ({ machine }) => machine.hostRef });

/** The session record's RBAC fields (xapi: is_local_superuser, rbac_permissions; empty for the superuser). */
const sessionOf = (pool: { sessions: Map<string, { role?: XapiRole }> }, self: unknown) => pool.sessions.get(str(self)) ?? fail('HANDLE_INVALID', 'session', str(self));
def('session.get_is_local_superuser', { params: 1, async: false, handler: ({ pool }, [self]) => sessionOf(pool, self).role === undefined });
def('session.get_rbac_permissions', {
  params: 1,
  async: false,
  handler: ({ pool }, [self]) => {
    const role = sessionOf(pool, self).role;
    return role === undefined ? [] : permissionsOfRole(role);
  },
});

def('system.listMethods', {
  params: 0,
  session: false,
  async: false,
  handler: () => [...METHODS.keys()].sort(),
});

def('pool.is_slave', { params: 1, async: false, handler: ({ pool, machine }) => pool.master !== machine });
def('host.is_in_emergency_mode', { params: 0, async: false, handler: () => false });
