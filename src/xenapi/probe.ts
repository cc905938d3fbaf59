/**
 * Looks at a host before trusting it (R4.2 forget & rejoin): a bare TLS handshake that reads the certificate the
 * host presents and writes nothing — no HTTP request, no credential. xapi answers nothing useful without a session,
 * so the certificate (its SHA-256 fingerprint, subject, issuer and dates) is what a host reports without a login;
 * an approver compares the fingerprint with the one shown on the host's console before the bot logs in there.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from './tls';

export interface PeerCertificateInfo {
  /** AB:CD:… as openssl and Node print it */
  fingerprint256: string;
  subject: string;
  issuer: string;
  selfSigned: boolean;
  validFrom: string;
  validTo: string;
}

export interface HostProbe {
  address: string;
  port: number;
  /** absent over plain http (tls: insecure-http): there is nothing to verify the host's identity with */
  certificate?: PeerCertificateInfo;
}

export class HostProbeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'HostProbeError';
  }
}

function dn(o: Record<string, unknown> | undefined): string {
  if (!o) return '';
  return Object.entries(o)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

/** Connects to address:port (same scheme and port as the pool's master URL), reads what it can, and hangs up. */
export function probeHost(ep: Endpoint, address: string, opts: { timeoutMs?: number } = {}): Promise<HostProbe> {
  const timeoutMs = opts.timeoutMs ?? 2500;
  const port = ep.port;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, value?: HostProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const socket: net.Socket =
      ep.scheme === 'https:'
        ? tls.connect({ host: address, port, rejectUnauthorized: false, servername: net.isIP(address) ? undefined : address }, () => {
            const c = (socket as tls.TLSSocket).getPeerCertificate();
            if (!c || !c.fingerprint256) return done(new HostProbeError(`${address}:${port} presented no certificate`, 'NO_CERTIFICATE'));
            done(null, {
              address,
              port,
              certificate: {
                fingerprint256: c.fingerprint256,
                subject: dn(c.subject as unknown as Record<string, unknown>),
                issuer: dn(c.issuer as unknown as Record<string, unknown>),
                selfSigned: dn(c.subject as unknown as Record<string, unknown>) === dn(c.issuer as unknown as Record<string, unknown>),
                validFrom: c.valid_from,
                validTo: c.valid_to,
              },
            });
          })
        : net.connect({ host: address, port }, () => done(null, { address, port }));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      done(new HostProbeError(`cannot reach ${address}:${port}: ${e.code ?? e.message}`, e.code ?? 'CONNECTION')),
    );
    const timer = setTimeout(() => done(new HostProbeError(`no answer from ${address}:${port} within ${timeoutMs} ms`, 'TIMEOUT')), timeoutMs);
  });
}
