import type { Ref } from '../domain/types';

/** What testRepository needs from the XenAPI client. */
export interface PluginCaller {
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

export type RepositoryTestResults = Record<Ref, { ok: boolean; error?: string }>;

/**
 * Automatic mode (R3.9): ask every host to test the install repository with XenCenter's plugin call
 * `host.call_plugin(host, "prepare_host_upgrade.py", "testUrl", {url})`, which answers "true" or raises
 * XENAPI_PLUGIN_FAILURE [fn, class, message] (message: MISSING_URL, INVALID_URL, INVALID_VER, …).
 * One call per host, sequential so a large pool does not flood the master. Never throws: every host gets a
 * result, and the planner turns each failure into a blocker. The URL may hold repository credentials: the client
 * removes them (and every known secret) from any error text it raises (xenapi/redact.ts), plugin echoes included.
 */
export async function testRepository(client: PluginCaller, hosts: Ref[], url: string): Promise<RepositoryTestResults> {
  const out: RepositoryTestResults = {};
  const arg = url.endsWith('/') ? url : `${url}/`;
  for (const host of hosts) {
    try {
      const res = await client.call<unknown>('host.call_plugin', [host, 'prepare_host_upgrade.py', 'testUrl', { url: arg }]);
      out[host] = res === 'true' || res === true ? { ok: true } : { ok: false, error: `testUrl answered ${JSON.stringify(res)}` };
    } catch (e) {
      const err = e as { code?: string; params?: string[]; message?: string };
      if (err.code === 'XENAPI_PLUGIN_FAILURE' && err.params && err.params.length >= 3) {
        out[host] = { ok: false, error: `${err.params[2]}` };
      } else if (err.code) {
        out[host] = { ok: false, error: [err.code, ...(err.params ?? [])].join(' ') };
      } else {
        out[host] = { ok: false, error: `cannot run testUrl: ${err.message ?? String(e)}` };
      }
    }
  }
  return out;
}

/**
 * Automatic mode: the updates applied on each host, by name (one pool_update.get_all_records call: each update lists
 * the hosts it is applied on). The planner checks XenCenter's RPU hotfix against them. Never throws.
 */
export async function readAppliedUpdates(client: PluginCaller, hosts: Ref[]): Promise<{ hotfixes?: Record<Ref, string[]>; hotfixError?: string }> {
  try {
    const updates = (await client.call<Record<string, { name_label?: unknown; hosts?: unknown }>>('pool_update.get_all_records')) ?? {};
    const out: Record<Ref, string[]> = Object.fromEntries(hosts.map((h) => [h, [] as string[]]));
    for (const u of Object.values(updates)) {
      if (typeof u?.name_label !== 'string' || !Array.isArray(u.hosts)) continue;
      for (const h of u.hosts) if (typeof h === 'string' && out[h]) out[h].push(u.name_label);
    }
    for (const h of Object.keys(out)) out[h].sort();
    return { hotfixes: out };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { hotfixError: err.code ?? (err.message ?? String(e)).split('\n')[0] };
  }
}
