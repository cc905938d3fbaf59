import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

/**
 * Transport security for pool endpoints.
 * - verify (default for https): the certificate chain and host name are checked, optionally against a given CA.
 * - pinned: XenServer ships self-signed certificates, so a pool may pin its certificate's SHA-256 fingerprint.
 *   Our agent completes the TLS handshake, compares the peer certificate's fingerprint256, and only then hands
 *   the socket to the HTTP request: nothing is written to a host whose certificate does not match. The chain
 *   check is relaxed only in this mode, and only because the exact certificate is pinned.
 * - insecure-http: plain http, allowed only when the pool's config says so explicitly.
 */
/**
 * `pinned` takes one fingerprint or several: every XenServer host has its own self-signed certificate, so a pool
 * whose client follows HOST_IS_SLAVE or reconnects to another member after a master restart pins each member's.
 */
export type TlsOptions =
  | { mode: 'verify'; ca?: string }
  | { mode: 'pinned'; fingerprint256: string | string[] }
  | { mode: 'insecure-http' };

export interface Endpoint {
  scheme: 'http:' | 'https:';
  /** host name or IP, without brackets or port */
  hostname: string;
  /** explicit port from the URL, or the scheme's default */
  port: number;
}

export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

/** Parses the master URL and applies the scheme rules; throws a TlsConfigError naming what is wrong. */
export function parseEndpoint(url: string, tlsOpts: TlsOptions | undefined): Endpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TlsConfigError(`pool URL ${JSON.stringify(url)} is not a valid URL (expected http(s)://host[:port])`);
  }
  if (u.username || u.password) {
    throw new TlsConfigError('pool URL must not contain credentials; pass username and password separately');
  }
  const mode = tlsOpts?.mode ?? 'verify';
  if (u.protocol === 'http:') {
    if (mode !== 'insecure-http') {
      throw new TlsConfigError(
        `refusing plain http to ${u.host}: http:// URLs need tls: {mode: 'insecure-http'} in the pool's config (https is verified by default)`,
      );
    }
  } else if (u.protocol === 'https:') {
    if (mode === 'insecure-http') {
      throw new TlsConfigError(`tls mode 'insecure-http' is only for http:// URLs; ${u.host} uses https (use 'verify' or 'pinned')`);
    }
  } else {
    throw new TlsConfigError(`pool URL scheme ${u.protocol} is not supported (expected http: or https:)`);
  }
  const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { scheme: u.protocol as Endpoint['scheme'], hostname, port };
}

/** Base URL for a host of the pool: same scheme and port as the master URL (xapi's HOST_IS_SLAVE gives a bare address). */
export function hostUrl(ep: Endpoint, hostname: string): string {
  const h = net.isIPv6(hostname) ? `[${hostname}]` : hostname;
  return `${ep.scheme}//${h}:${ep.port}`;
}

export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

export const PIN_MISMATCH = 'ERR_XSUPGRADE_CERT_PIN_MISMATCH';

type ConnectCallback = (err: Error | null, socket?: net.Socket) => void;

/**
 * An https agent that releases a socket to the request only after the peer certificate matched the pin.
 * Node's Agent#createSocket accepts an asynchronous createConnection that answers through its callback.
 */
function createPinnedAgent(expected: ReadonlySet<string>, opts: https.AgentOptions): https.Agent {
  const agent = new https.Agent(opts);
  const createConnection = (options: tls.ConnectionOptions, cb: ConnectCallback): undefined => {
    const host = options.host ?? 'localhost';
    const socket = tls.connect({
      ...options,
      rejectUnauthorized: false, // relaxed ONLY here, replaced by the fingerprint comparison below
      servername: net.isIP(host) ? undefined : (options.servername ?? host),
    });
    const onError = (err: Error) => cb(err);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.removeListener('error', onError);
      const got = socket.getPeerCertificate()?.fingerprint256 ?? '';
      if (!expected.has(normalizeFingerprint(got))) {
        const err = Object.assign(
          new Error(`certificate of ${host} does not match the pinned SHA-256 fingerprint${expected.size > 1 ? 's' : ''} (server presented ${got || 'no certificate'})`),
          { code: PIN_MISMATCH },
        );
        socket.destroy();
        cb(err);
        return;
      }
      cb(null, socket);
    });
    return undefined;
  };
  (agent as unknown as { createConnection: typeof createConnection }).createConnection = createConnection;
  return agent;
}

/** One keep-alive agent per client; destroy() it to close idle sockets. */
export function createAgent(ep: Endpoint, tlsOpts: TlsOptions | undefined): http.Agent {
  const base = { keepAlive: true };
  if (ep.scheme === 'http:') return new http.Agent(base);
  if (tlsOpts?.mode === 'pinned') {
    const pins = [tlsOpts.fingerprint256].flat().map(normalizeFingerprint);
    if (pins.length === 0 || pins.some((fp) => fp.length !== 64)) {
      throw new TlsConfigError('pinned fingerprint256 must be SHA-256 fingerprints (32 hex pairs like AB:CD:…)');
    }
    return createPinnedAgent(new Set(pins), base);
  }
  const ca = tlsOpts?.mode === 'verify' ? tlsOpts.ca : undefined;
  return new https.Agent({ ...base, ca, rejectUnauthorized: true });
}

/** True for errors raised because a certificate was refused (by Node's chain/host check or by our pin). */
export function isCertificateError(err: { code?: unknown; message?: unknown }): boolean {
  const code = typeof err.code === 'string' ? err.code : '';
  if (code === PIN_MISMATCH) return true;
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT/.test(code);
}
