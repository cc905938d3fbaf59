/**
 * /healthz, /readyz and /metrics (issue 14). One request handler serves both Slack modes: Bolt's custom routes in
 * HTTP mode (the same loopback listener as /slack/events), and a small loopback listener of its own in Socket Mode.
 *
 * - /healthz: the process answers (no dependency is consulted: a liveness probe must not restart the bot because
 *   Slack is down).
 * - /readyz: every readiness check passes. Checks are a list of named functions (the state store is open, Slack is
 *   reachable and accepts the token, the pools file is valid; the PostgreSQL backend adds its own), each bounded in
 *   time; the JSON body names each check and why it failed, never a secret.
 * - /metrics: Prometheus text (metrics.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_TYPE, metricsText } from './metrics';

export interface CheckResult {
  ok: boolean;
  /** why it is not ready (or what was seen); never a secret */
  detail?: string;
}

export interface ReadinessCheck {
  name: string;
  check: () => Promise<CheckResult>;
}

/** The readiness checks of this process; other modules add theirs with `add`. */
export class Readiness {
  private readonly checks: ReadinessCheck[] = [];

  constructor(
    checks: ReadinessCheck[] = [],
    private readonly timeoutMs = 5000,
  ) {
    for (const c of checks) this.add(c);
  }

  add(check: ReadinessCheck): void {
    if (this.checks.some((c) => c.name === check.name)) throw new Error(`readiness check ${check.name} is already registered`);
    this.checks.push(check);
  }

  names(): string[] {
    return this.checks.map((c) => c.name);
  }

  /** Runs every check concurrently; a check that throws or exceeds the timeout is not ready. */
  async evaluate(): Promise<{ ready: boolean; checks: Array<{ name: string } & CheckResult> }> {
    const results = await Promise.all(
      this.checks.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<CheckResult>((resolve) => {
            timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${this.timeoutMs} ms` }), this.timeoutMs);
          });
          return { name: c.name, ...(await Promise.race([c.check(), timeout])) };
        } catch (e) {
          return { name: c.name, ok: false, detail: (e as Error).message };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ready: results.every((r) => r.ok), checks: results };
  }
}

/** A check whose result is reused for `ttlMs` (probes every few seconds must not call Slack every time). */
export function cached(name: string, ttlMs: number, now: () => number, check: () => Promise<CheckResult>): ReadinessCheck {
  let last: { at: number; result: CheckResult } | undefined;
  let inFlight: Promise<CheckResult> | undefined;
  return {
    name,
    check: async () => {
      if (last && now() - last.at < ttlMs) return last.result;
      inFlight ??= check()
        .catch((e: unknown): CheckResult => ({ ok: false, detail: (e as Error).message }))
        .then((result) => {
          last = { at: now(), result };
          return result;
        })
        .finally(() => (inFlight = undefined));
      return inFlight;
    },
  };
}

export const OBSERVE_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

/** Answers one of OBSERVE_PATHS; false when the path is not one of them (the caller answers 404). */
export async function handleObserve(path: string, readiness: Readiness, res: ServerResponse): Promise<boolean> {
  const send = (status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  try {
    if (path === '/healthz') send(200, 'application/json', JSON.stringify({ status: 'ok' }));
    else if (path === '/readyz') {
      const r = await readiness.evaluate();
      send(r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }));
    } else if (path === '/metrics') send(200, CONTENT_TYPE, await metricsText());
    else return false;
  } catch (e) {
    send(500, 'application/json', JSON.stringify({ status: 'error', error: (e as Error).message }));
  }
  return true;
}

/** Bolt custom routes (HTTP mode): GET only, served by the receiver's own listener. */
export function observeRoutes(readiness: Readiness): Array<{ path: string; method: string[]; handler: (req: IncomingMessage, res: ServerResponse) => void }> {
  return OBSERVE_PATHS.map((path) => ({
    path,
    method: ['GET'],
    handler: (_req: IncomingMessage, res: ServerResponse) => void handleObserve(path, readiness, res),
  }));
}

/** Socket Mode: a listener for the three paths alone, on a loopback address. */
export async function startObserveServer(opts: { host: string; port: number; readiness: Readiness }): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    void handleObserve(path, opts.readiness, res).then((handled) => {
      if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /healthz, /readyz and /metrics are served here\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
