/**
 * Loopback-only admin HTTP JSON endpoint over one or several SimPools (used by `xsupgrade sim` and the sandbox):
 * GET /pools, GET /pools/:name, POST /pools/:name/hosts/:host/{power-on,power-off,complete-install,reinstall},
 * POST /pools/:name/faults (a Fault as JSON), DELETE /pools/:name/faults.
 */
import http from 'node:http';
import { z } from 'zod';
import { SimPool } from './simulator';

export interface AdminServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const reinstallBody = z.object({ version: z.string().min(1).optional() }).strict();

function summary(p: SimPool) {
  return { name: p.name, masterUrl: p.masterUrl, port: p.port, hosts: p.hosts() };
}

export async function startAdminServer(pools: SimPool[], opts: { port?: number; host?: string } = {}): Promise<AdminServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') throw new Error(`admin server binds to loopback only, not ${host}`);
  const byName = new Map(pools.map((p) => [p.name, p]));
  const send = (res: http.ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://admin');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      let raw = '';
      for await (const c of req) raw += c;
      let body: unknown = {};
      if (raw.trim()) {
        try {
          body = JSON.parse(raw);
        } catch {
          return send(res, 400, { error: 'body: expected JSON' });
        }
      }
      try {
        if (parts[0] !== 'pools') return send(res, 404, { error: 'not found' });
        if (parts.length === 1 && req.method === 'GET') return send(res, 200, pools.map(summary));
        const pool = byName.get(parts[1]);
        if (!pool) return send(res, 404, { error: `unknown pool "${parts[1]}" (known: ${[...byName.keys()].join(', ')})` });
        if (parts.length === 2 && req.method === 'GET') return send(res, 200, { ...summary(pool), ...pool.inspect(), stats: pool.stats() });
        if (parts[2] === 'faults' && parts.length === 3) {
          if (req.method === 'POST') {
            pool.control.injectFault(body as never);
            return send(res, 200, { ok: true });
          }
          if (req.method === 'DELETE') {
            pool.control.clearFaults();
            return send(res, 200, { ok: true });
          }
        }
        if (parts[2] === 'hosts' && parts.length === 5 && req.method === 'POST') {
          const [, , , hostName, action] = parts;
          switch (action) {
            case 'power-on':
              pool.control.powerOn(hostName);
              return send(res, 200, { ok: true });
            case 'power-off':
              pool.control.powerOff(hostName);
              return send(res, 200, { ok: true });
            case 'complete-install':
              pool.control.completeManualInstall(hostName);
              return send(res, 200, { ok: true });
            case 'reinstall': {
              const parsed = reinstallBody.safeParse(body);
              if (!parsed.success) return send(res, 400, { error: `body.${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}` });
              const r = pool.control.reinstallFresh(hostName, parsed.data);
              await r.ready;
              return send(res, 200, { ok: true, address: r.address, url: r.url });
            }
          }
        }
        return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
      } catch (err) {
        const e = err as Error;
        if (e instanceof z.ZodError) return send(res, 400, { error: e.issues.map((i) => `fault.${i.path.join('.')}: ${i.message}`).join('; ') });
        return send(res, 409, { error: e.message });
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
