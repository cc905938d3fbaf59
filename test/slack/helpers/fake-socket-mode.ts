/**
 * A loopback fake of Slack's Socket Mode endpoint, for tests only (it needs the `ws` dev dependency).
 * The protocol, as @slack/socket-mode 3 speaks it:
 * - `apps.connections.open` (served by the fake Web API, see `socketMode` in fake-web-api.ts) returns a
 *   one-use URL from `issueUrl()`; the client opens a WebSocket to it (undici accepts ws://);
 * - the server sends `{"type":"hello", …}` and only then does the client count as connected;
 * - the server sends envelopes `{envelope_id, type, payload, accepts_response_payload}` and the client
 *   answers each with `{envelope_id, payload}` (its ack body, `{}` for a bare ack);
 * - `{"type":"disconnect", reason}` asks the client to reconnect; the client pings and the server pongs
 *   (ws answers pings by itself); the client closes with code 1000 when it is stopped.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface SocketModeAck {
  envelopeId: string;
  /** the client's ack body (`{}` for a bare ack()) */
  payload: Record<string, unknown>;
}

export interface SocketModeClose {
  /** WebSocket close code: 1000 when the client closed normally (its disconnect()) */
  code: number;
  /** true when the client started the close handshake, false when this fake did */
  byClient: boolean;
}

export interface FakeSocketMode {
  /** ws://127.0.0.1:PORT */
  origin: string;
  appId: string;
  /** a one-use connection URL, what `apps.connections.open` answers */
  issueUrl(): string;
  /** connections that got their hello and are still open */
  openConnections(): number;
  /** how many connections were ever accepted (a reconnect makes it grow) */
  readonly accepted: number;
  /** upgrade requests refused (unknown or already used ticket) */
  readonly refused: number;
  readonly acks: SocketModeAck[];
  readonly closes: SocketModeClose[];
  /** resolves once at least `n` connections were accepted (default 1) */
  waitForConnection(n?: number): Promise<void>;
  /** resolves once no connection is open */
  waitForNoConnection(): Promise<void>;
  /**
   * Sends an envelope on the newest open connection; resolves with the client's ack body.
   * Rejects if there is no open connection or it closes before the ack arrives.
   */
  send(type: EnvelopeType, payload: Record<string, unknown>, opts?: { acceptsResponsePayload?: boolean }): Promise<Record<string, unknown>>;
  /** asks every client to reconnect, as Slack does before recycling a server */
  requestReconnect(reason?: 'warning' | 'refresh_requested' | 'link_disabled'): void;
  stop(): Promise<void>;
}

export interface FakeSocketModeOptions {
  host?: string;
  port?: number;
  appId?: string;
}

const ackFrame = z.object({ envelope_id: z.string().min(1), payload: z.record(z.unknown()).optional() }).strict();

interface Connection {
  socket: WebSocket;
  pending: Map<string, { resolve: (p: Record<string, unknown>) => void; reject: (e: Error) => void }>;
  closingByServer: boolean;
}

export async function startFakeSocketMode(opts: FakeSocketModeOptions = {}): Promise<FakeSocketMode> {
  const appId = opts.appId ?? 'A0XSUPGRADE';
  const tickets = new Set<string>();
  const connections: Connection[] = [];
  const acks: SocketModeAck[] = [];
  const closes: SocketModeClose[] = [];
  const waiters = new Set<() => void>();
  let accepted = 0;
  let refused = 0;
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  const waitUntil = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      if (done()) return resolve();
      const check = () => {
        if (!done()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });

  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Socket Mode endpoint: WebSocket upgrades only\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'ws://fake');
    const ticket = url.searchParams.get('ticket');
    if (url.pathname !== '/link/' || !ticket || !tickets.delete(ticket)) {
      refused++;
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  function accept(socket: WebSocket): void {
    const conn: Connection = { socket, pending: new Map(), closingByServer: false };
    connections.push(conn);
    accepted++;
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      let frame: unknown;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return; // Slack ignores garbage from clients too
      }
      const parsed = ackFrame.safeParse(frame);
      if (!parsed.success) return;
      const ack: SocketModeAck = { envelopeId: parsed.data.envelope_id, payload: parsed.data.payload ?? {} };
      acks.push(ack);
      const waiting = conn.pending.get(ack.envelopeId);
      conn.pending.delete(ack.envelopeId);
      waiting?.resolve(ack.payload);
    });
    socket.on('close', (code) => {
      connections.splice(connections.indexOf(conn), 1);
      closes.push({ code, byClient: !conn.closingByServer });
      for (const p of conn.pending.values()) p.reject(new Error(`the Socket Mode connection closed (code ${code}) before the envelope was acknowledged`));
      conn.pending.clear();
      notify();
    });
    socket.on('error', () => undefined); // a reset shows up as 'close' as well
    socket.send(
      JSON.stringify({
        type: 'hello',
        num_connections: connections.length,
        debug_info: { host: 'applink-fake-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: appId },
      }),
    );
    notify();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const origin = `ws://${addr.address}:${addr.port}`;

  return {
    origin,
    appId,
    issueUrl() {
      const ticket = randomUUID();
      tickets.add(ticket);
      return `${origin}/link/?ticket=${ticket}&app_id=${appId}`;
    },
    openConnections: () => connections.length,
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    acks,
    closes,
    waitForConnection: (n = 1) => waitUntil(() => accepted >= n),
    waitForNoConnection: () => waitUntil(() => connections.length === 0),
    send(type, payload, o = {}) {
      const conn = connections[connections.length - 1];
      if (!conn) return Promise.reject(new Error('no open Socket Mode connection'));
      const envelopeId = randomUUID();
      const acceptsResponsePayload = o.acceptsResponsePayload ?? (type === 'slash_commands' || payload.type === 'view_submission' || payload.type === 'block_suggestion');
      return new Promise((resolve, reject) => {
        conn.pending.set(envelopeId, { resolve, reject });
        conn.socket.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: acceptsResponsePayload }));
      });
    },
    requestReconnect(reason = 'refresh_requested') {
      for (const c of connections) c.socket.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake-1' } }));
    },
    async stop() {
      for (const c of [...connections]) {
        c.closingByServer = true;
        c.socket.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
