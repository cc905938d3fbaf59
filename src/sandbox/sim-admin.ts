/**
 * The simulator's control API over HTTP for the sandbox side panel, on loopback:
 *   GET  /pools                                       pools with their hosts (state, version, role, address)
 *   POST /pools/:name/hosts/:host/{power-on,power-off,complete-install,reinstall}
 *   POST /pools/:name/faults                          a Fault (src/sim/scenario.ts faultSchema), e.g. {kind:'install-fails', host}
 * Errors answer 4xx with `{ error }` naming what was wrong (unknown pool/host, invalid fault field, refused by the sim).
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log';
import { silentLogger } from '../log';
import { faultSchema } from '../sim/scenario';
import type { SimPool } from '../sim';

export interface SimAdminServer {
  url: string;
  stop(): Promise<void>;
}

export async function startSimAdminServer(
  pools: SimPool[],
  opts: { host?: string; port?: number; logger?: Logger } = {},
): Promise<SimAdminServer> {
  const log = opts.logger ?? silentLogger;
  const byName = new Map(pools.map((p) => [p.name, p]));

  function handle(method: string, path: string, body: unknown): { status: number; body: unknown } {
    if (method === 'GET' && path === '/pools')
      return { status: 200, body: pools.map((p) => ({ name: p.name, masterUrl: p.masterUrl, hosts: p.hosts() })) };
    const hostOp = /^\/pools\/([^/]+)\/hosts\/([^/]+)\/(power-on|power-off|complete-install|reinstall)$/.exec(path);
    const faults = /^\/pools\/([^/]+)\/faults$/.exec(path);
    if (method !== 'POST' || (!hostOp && !faults)) return { status: 404, body: { error: `no route ${method} ${path}` } };
    const poolName = decodeURIComponent((hostOp ?? faults)![1]);
    const pool = byName.get(poolName);
    if (!pool) return { status: 404, body: { error: `unknown pool ${poolName} (known: ${[...byName.keys()].join(', ')})` } };
    if (faults) {
      const f = faultSchema.safeParse(body);
      if (!f.success) return { status: 400, body: { error: f.error.issues.map((i) => `${i.path.join('.') || 'fault'}: ${i.message}`).join('; ') } };
      pool.control.injectFault(f.data);
      log.info({ pool: poolName, fault: f.data }, 'sim admin: fault injected');
      return { status: 200, body: { ok: true, fault: f.data } };
    }
    const host = decodeURIComponent(hostOp![2]);
    if (!pool.hosts().some((h) => h.name === host)) return { status: 404, body: { error: `unknown host ${host} in pool ${poolName}` } };
    const op = hostOp![3];
    log.info({ pool: poolName, host, op }, 'sim admin: host operation');
    switch (op) {
      case 'power-on':
        pool.control.powerOn(host);
        return { status: 200, body: { ok: true } };
      case 'power-off':
        pool.control.powerOff(host);
        return { status: 200, body: { ok: true } };
      case 'complete-install':
        pool.control.completeManualInstall(host);
        return { status: 200, body: { ok: true } };
      default: {
        const r = pool.control.reinstallFresh(host);
        return { status: 200, body: { ok: true, address: r.address, url: r.url } };
      }
    }
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let result: { status: number; body: unknown };
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        const body: unknown = raw ? JSON.parse(raw) : {};
        result = handle(req.method ?? 'GET', new URL(req.url ?? '/', 'http://sim').pathname, body);
      } catch (e) {
        // the simulator refuses impossible operations with an explanation (e.g. reinstall of a pool member)
        result = { status: e instanceof SyntaxError ? 400 : 409, body: { error: (e as Error).message } };
      }
      res.writeHead(result.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(result.body));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    stop: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
