/** session.*, system.listMethods, pool.get_master-style basics. */
import { newRef } from '../db';
import { fail } from '../failure';
import { def, METHODS, str } from './registry';

def('session.login_with_password', {
  params: 4,
  min: 2,
  session: false,
  async: false,
  handler: async ({ sim, pool, signal }, [user, pass, , originator]) => {
    const u = str(user);
    if (u !== sim.credentials.username || str(pass) !== sim.credentials.password) {
      // xapi delays a failed login on purpose (5 s by default), through the injected clock here.
      await sim.sleepSeconds(sim.timings.loginFailureDelaySeconds, signal);
      fail('SESSION_AUTHENTICATION_FAILED', u, 'Authentication failure');
    }
    const ref = newRef();
    pool.sessions.set(ref, { user: u, originator: originator === undefined ? '' : str(originator) });
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

def('system.listMethods', {
  params: 0,
  session: false,
  async: false,
  handler: () => [...METHODS.keys()].sort(),
});

def('pool.is_slave', { params: 1, async: false, handler: ({ pool, machine }) => pool.master !== machine });
def('host.is_in_emergency_mode', { params: 0, async: false, handler: () => false });
