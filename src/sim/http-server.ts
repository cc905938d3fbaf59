/**
 * One listener per simulated host: POST / and /xmlrpc (XML-RPC), POST /jsonrpc (JSON-RPC), GET /pool/xmldbdump.
 * HTTPS with the machine's own certificate (as xapi behind stunnel on port 443), or plain HTTP when the simulator
 * was started without TLS.
 */
/** One HTTP listener per simulated host: POST / and /xmlrpc (XML-RPC), GET /pool/xmldbdump. */
import { roleAllows } from '../domain/rbac';
import http from 'node:http';
import https from 'node:https';
import { Socket } from 'node:net';
import { Machine, Sim, Listener, type UploadedVdi } from './engine';
import { noteUploadedUpdate } from './api/updates';
import { dispatch } from './rpc';
import { databaseDump } from './dbdump';
import { jsonRpcDialect, jsonRpcResponse, parseJsonRpcCall } from './jsonrpc';
import { failureResponse, faultResponse, parseMethodCall, successResponseBody } from './wire';

const MAX_BODY = 16 * 1024 * 1024;
const IDLE_KEEPALIVE_MS = 120_000;

export class HostServer implements Listener {
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly sim: Sim,
    private readonly machine: Machine,
    public port: number,
  ) {}

  async open(): Promise<void> {
    if (this.server) return;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    const cert = this.machine.certificate;
    if (this.sim.tls.enabled && !cert) throw new Error(`simulated host ${this.machine.name} has no certificate`);
    const server = cert ? https.createServer({ key: cert.key, cert: cert.cert }, handler) : http.createServer(handler);
    // Node closes idle keep-alive sockets after 5 s; a client that reuses one as it closes gets ECONNRESET (seen after
    // multi-second reads of a 64-host pool). Keep idle connections far longer, as a long-lived xapi/stunnel does.
    server.keepAliveTimeout = IDLE_KEEPALIVE_MS;
    server.headersTimeout = IDLE_KEEPALIVE_MS + 1000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.machine.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Stop accepting and drop every open connection: a host that is off refuses connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    try {
      if (req.method === 'POST' && (url.pathname === '/' || url.pathname === '/xmlrpc' || url.pathname === '/RPC2')) return await this.xmlrpc(req, res);
      if (req.method === 'POST' && url.pathname === '/jsonrpc') return await this.jsonrpc(req, res);
      if (req.method === 'GET' && url.pathname === '/pool/xmldbdump') return this.dump(url, res);
      if (req.method === 'PUT' && url.pathname === '/import_raw_vdi') return await importRawVdi(this.sim, this.machine, this.port, req, url, res);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${(err as Error).message}\n`);
    }
  }

  private async readBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        return undefined;
      }
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private async xmlrpc(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const text = await this.readBody(req, res);
    if (text === undefined) return;
    let call;
    try {
      call = await parseMethodCall(text);
    } catch (err) {
      parseError(res, 'Xmlrpc.Parse_error', err);
      return;
    }
    const out = await this.run(req, res, call.method, call.params);
    if (!out) return;
    const body =
      out.kind === 'success' ? successResponseBody(out.value) : out.kind === 'failure' ? failureResponse(out.description) : faultResponse(out.code, out.message);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  /**
   * JSON-RPC as this host's version serves it (jsonrpc.ts): v1 replies on 7.1, v1 or v2 (as asked) from 7.3; on
   * 7.0 and 7.2 the call is answered in XML-RPC, and a client must carry on over XML-RPC.
   */
  private async jsonrpc(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (jsonRpcDialect(this.machine.installed.product) === 'none') {
      // no such handler before 7.0: the client falls back to XML-RPC (xenapi/wire.ts JsonRpcUnavailable)
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const text = await this.readBody(req, res);
    if (text === undefined) return;
    let call;
    try {
      call = parseJsonRpcCall(text);
    } catch (err) {
      parseError(res, 'Jsonrpc.Malformed_method_request', err);
      return;
    }
    const dialect = jsonRpcDialect(this.machine.installed.product);
    // counted like the HTTP handlers: which clients came over JSON-RPC (tests, bench)
    this.sim.stats.calls['http:/jsonrpc'] = (this.sim.stats.calls['http:/jsonrpc'] ?? 0) + 1;
    const out = await this.run(req, res, call.method, call.params);
    if (!out || res.destroyed) return;
    if (dialect === 'xml') {
      const body =
        out.kind === 'success' ? successResponseBody(out.value) : out.kind === 'failure' ? failureResponse(out.description) : faultResponse(out.code, out.message);
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    const body = jsonRpcResponse(out, call, dialect);
    const parts = typeof body === 'string' ? [body] : body;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': parts.reduce((n, p) => n + Buffer.byteLength(p), 0) });
    for (const part of parts) res.write(part);
    res.end();
  }

  /** Dispatches one call; undefined when the connection was reset (a fault injection) instead of answered. */
  private async run(req: http.IncomingMessage, res: http.ServerResponse, method: string, params: unknown[]) {
    const aborter = new AbortController();
    res.on('close', () => aborter.abort(new Error('client went away')));
    const out = await dispatch(this.sim, this.machine, method, params, aborter.signal);
    if (out.kind === 'reset') {
      req.socket.destroy();
      return undefined;
    }
    return out;
  }

  private dump(url: URL, res: http.ServerResponse): void {
    const pool = this.machine.pool;
    const session = url.searchParams.get('session_id') ?? '';
    if (this.machine.phase === 'xapi-starting' || !pool) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('host still booting\n');
      return;
    }
    if (pool.master !== this.machine) {
      // xapi redirects HTTP handlers from a slave to the master.
      res.writeHead(302, { location: `${this.sim.tls.enabled ? 'https' : 'http'}://${pool.master.address}:${this.port}${url.pathname}${url.search}` }).end();
      return;
    }
    if (!pool.sessions.has(session)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: invalid session\n');
      return;
    }
    // RBAC: the pool database dump is the HTTP action get_pool_xml_db_sync, pool-admin only (as xapi: 403)
    const role = pool.sessions.get(session)?.role;
    if (role !== undefined && !roleAllows(role, 'http/get_pool_xml_db_sync')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: RBAC permission denied (http/get_pool_xml_db_sync needs pool-admin)\n');
      return;
    }
    this.sim.stats.calls['http:/pool/xmldbdump'] = (this.sim.stats.calls['http:/pool/xmldbdump'] ?? 0) + 1;
    // No content-length: the XML streams and the connection closes, as xapi does.
    res.writeHead(200, { 'content-type': 'application/xml', connection: 'close' });
    for (const chunk of databaseDump(pool.db, { stub: this.sim.rollingUpgrade(pool) })) res.write(chunk);
    res.end();
  }
}

/**
 * PUT /import_raw_vdi?session_id=…&vdi=… (R3.10, `xe update-upload`): the body's bytes go into the VDI. A body cut
 * short leaves a partial VDI (what the bot must clean up); a complete one holding an ISO has its update.xml read,
 * for pool_update.introduce.
 */
async function importRawVdi(sim: Sim, machine: Machine, port: number, req: http.IncomingMessage, url: URL, res: http.ServerResponse): Promise<void> {
  const self = { sim, machine, port };
  const pool = self.machine.pool;
  if (self.machine.phase === 'xapi-starting' || !pool) {
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain' }).end('host still booting\n');
    return;
  }
  if (pool.master !== self.machine) {
    req.resume();
    res.writeHead(302, { location: `${self.sim.tls.enabled ? 'https' : 'http'}://${pool.master.address}:${self.port}${url.pathname}${url.search}` }).end();
    return;
  }
  if (!pool.sessions.has(url.searchParams.get('session_id') ?? '')) {
    req.resume();
    res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: invalid session\n');
    return;
  }
  // RBAC: the upload is the HTTP action put_import_raw_vdi (vm-admin and above, as xapi: 403)
  const role = pool.sessions.get(url.searchParams.get('session_id') ?? '')?.role;
  if (role !== undefined && !roleAllows(role, 'http/put_import_raw_vdi')) {
    req.resume();
    res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: RBAC permission denied (http/put_import_raw_vdi)\n');
    return;
  }
  const vdi = url.searchParams.get('vdi') ?? '';
  const rec = pool.db.find('VDI', vdi);
  if (!rec) {
    req.resume();
    res.writeHead(404, { 'content-type': 'text/plain' }).end('VDI not found\n');
    return;
  }
  self.sim.stats.calls['http:/import_raw_vdi'] = (self.sim.stats.calls['http:/import_raw_vdi'] ?? 0) + 1;
  const capacity = Number(rec.virtual_size);
  const entry: UploadedVdi = { data: Buffer.alloc(0), complete: false };
  self.sim.vdiContent.set(vdi, entry);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > capacity) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('the data is larger than the VDI\n');
        req.destroy();
        return;
      }
      chunks.push(c as Buffer);
      entry.data = Buffer.concat(chunks); // what a crash mid-upload leaves in the VDI
    }
  } catch {
    return; // the client went away: the VDI keeps the partial data
  }
  if (req.readableAborted || (req.headers['content-length'] !== undefined && size !== Number(req.headers['content-length']))) return;
  entry.complete = true;
  await noteUploadedUpdate(entry);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 0 }).end();
}

/** xapi's answer to a body it cannot parse: HTTP 500 with an HTML page. */
function parseError(res: http.ServerResponse, what: string, err: unknown): void {
  res
    .writeHead(500, { 'content-type': 'text/html' })
    .end(`<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. If the problem persists, please contact your support representative.<h1> Additional information </h1>${what}: ${escapeHtml((err as Error).message)}</body></html>`);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
