/**
 * Loopback-only admin HTTP JSON endpoint over one or several SimPools: the one control API of the simulator over
 * HTTP, used by `xsupgrade sim` and by the sandbox side panel (src/sandbox/server.ts proxies /sim/* to it).
 *   GET    /pools                                  every pool: name, masterUrl, port, hosts (SimHostView)
 *   GET    /pools/:name                            the same plus inspect() (hosts, vms, pool) and stats()
 *   POST   /pools/:name/hosts/:host/{power-on,power-off,complete-install,reinstall}
 *                                                  reinstall body {version?} → {ok, address, url, fingerprint256?} once
 *                                                  it answers (fingerprint256: its NEW certificate, as its console shows it)
 *   POST   /pools/:name/faults                     a Fault (scenario.ts faultSchema) → {ok, fault}
 *   DELETE /pools/:name/faults                     clear every pending fault
 *   POST   /pools/:name/vms/:vm/install-tools      body {version?}: the guest reports new XenServer Tools (R5.1)
 * Errors are `{ error }` naming what was wrong: 400 bad body (field named), 404 unknown pool/host/route (with what is
 * known), 409 the simulator refuses the action now (e.g. power-on of a running host, reinstall of the master).
 */
import http from 'node:http';
import { z } from 'zod';
import { Logger, silentLogger } from '../log';
import { faultSchema } from './scenario';
import { SimPool } from './simulator';

export interface AdminServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface AdminServerOptions {
  port?: number;
  /** A loopback address (127.x.y.z or localhost); default 127.0.0.1. */
  host?: string;
  logger?: Logger;
}

const reinstallBody = z.object({ version: z.string().min(1).optional() }).strict();
const installToolsBody = z.object({ version: z.string().regex(/^\d+(\.\d+){1,2}$/, 'a version like 7.6.0').optional() }).strict();
const HOST_ACTIONS = ['power-on', 'power-off', 'complete-install', 'reinstall'] as const;
type HostAction = (typeof HOST_ACTIONS)[number];

interface Reply {
  status: number;
  body: unknown;
}

const reply = (status: number, body: unknown): Reply => ({ status, body });
const issues = (prefix: string, e: z.ZodError) =>
  e.issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== '').join('.')}: ${i.message}`).join('; ');

function summary(p: SimPool) {
  return { name: p.name, masterUrl: p.masterUrl, port: p.port, hosts: p.hosts() };
}

async function hostAction(pool: SimPool, host: string, action: HostAction, body: unknown): Promise<Reply> {
  switch (action) {
    case 'power-on':
      pool.control.powerOn(host);
      return reply(200, { ok: true });
    case 'power-off':
      pool.control.powerOff(host);
      return reply(200, { ok: true });
    case 'complete-install':
      pool.control.completeManualInstall(host);
      return reply(200, { ok: true });
    case 'reinstall': {
      const parsed = reinstallBody.safeParse(body);
      if (!parsed.success) return reply(400, { error: issues('body', parsed.error) });
      const r = pool.control.reinstallFresh(host, parsed.data);
      const { fingerprint256 } = await r.ready;
      return reply(200, { ok: true, address: r.address, url: r.url, ...(fingerprint256 ? { fingerprint256 } : {}) });
    }
  }
}

/** Route one request (pure over the pools: no HTTP here). */
async function route(pools: SimPool[], method: string, parts: string[], body: unknown, logger: Logger): Promise<Reply> {
  const byName = new Map(pools.map((p) => [p.name, p]));
  if (parts[0] !== 'pools') return reply(404, { error: `no route ${method} /${parts.join('/')}` });
  if (parts.length === 1 && method === 'GET') return reply(200, pools.map(summary));
  const pool = byName.get(parts[1] ?? '');
  if (!pool) return reply(404, { error: `unknown pool "${parts[1]}" (known: ${[...byName.keys()].join(', ')})` });
  if (parts.length === 2 && method === 'GET') return reply(200, { ...summary(pool), ...pool.inspect(), stats: pool.stats() });
  if (parts[2] === 'faults' && parts.length === 3) {
    if (method === 'POST') {
      const parsed = faultSchema.safeParse(body);
      if (!parsed.success) return reply(400, { error: issues('fault', parsed.error) });
      pool.control.injectFault(parsed.data);
      logger.info({ pool: pool.name, fault: parsed.data }, 'sim admin: fault injected');
      return reply(200, { ok: true, fault: parsed.data });
    }
    if (method === 'DELETE') {
      pool.control.clearFaults();
      logger.info({ pool: pool.name }, 'sim admin: faults cleared');
      return reply(200, { ok: true });
    }
  }
  if (parts[2] === 'hosts' && parts.length === 5 && method === 'POST' && (HOST_ACTIONS as readonly string[]).includes(parts[4])) {
    const host = parts[3];
    const known = pool.hosts().map((h) => h.name);
    if (!known.includes(host)) return reply(404, { error: `unknown host "${host}" in pool ${pool.name} (known: ${known.join(', ')})` });
    logger.info({ pool: pool.name, host, action: parts[4] }, 'sim admin: host action');
    return hostAction(pool, host, parts[4] as HostAction, body);
  }
  if (parts[2] === 'vms' && parts.length === 5 && method === 'POST' && parts[4] === 'install-tools') {
    const parsed = installToolsBody.safeParse(body);
    if (!parsed.success) return reply(400, { error: issues('body', parsed.error) });
    const known = pool.inspect().vms.map((v) => v.name);
    if (!known.includes(parts[3])) return reply(404, { error: `unknown VM "${parts[3]}" in pool ${pool.name} (known: ${known.join(', ')})` });
    const done = pool.control.installGuestTools(parts[3], parsed.data.version);
    logger.info({ pool: pool.name, ...done }, 'sim admin: guest installed Tools');
    return reply(200, { ok: true, ...done });
  }
  return reply(404, { error: `no route ${method} /${parts.join('/')}` });
}

export async function startAdminServer(pools: SimPool[], opts: AdminServerOptions = {}): Promise<AdminServer> {
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? silentLogger;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') throw new Error(`admin server binds to loopback only, not ${host}`);

  const server = http.createServer((req, res) => {
    void (async () => {
      const send = ({ status, body }: Reply) =>
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
      try {
        const url = new URL(req.url ?? '/', 'http://admin');
        const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
        let raw = '';
        for await (const c of req) raw += c;
        let body: unknown = {};
        if (raw.trim()) {
          try {
            body = JSON.parse(raw);
          } catch {
            return send(reply(400, { error: 'body: expected JSON' }));
          }
        }
        send(await route(pools, req.method ?? 'GET', parts, body, logger));
      } catch (err) {
        // the simulator refuses impossible actions with an explanation (e.g. reinstalling the master, R4.1)
        send(reply(409, { error: (err as Error).message }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
