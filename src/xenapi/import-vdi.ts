import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { XenApiConnectionError, XenApiProtocolError, XenApiTlsError } from './errors';
import { isCertificateError, type Endpoint } from './tls';

/**
 * `PUT /import_raw_vdi?session_id=…&vdi=…` on the master: the bytes of an update ISO into a VDI made for it
 * (R3.10, what `xe update-upload` does). Content-Length is sent, so a body cut short is never taken as complete;
 * `onProgress` sees the bytes sent. The session ref is in the URL: never in a message.
 */
export interface ImportRawVdiRequest {
  endpoint: Endpoint;
  hostname: string;
  agent: http.Agent;
  sessionRef: string;
  vdi: string;
  size: number;
  body: Readable;
  idleTimeoutMs: number;
  onProgress?: (sent: number) => void;
}

export async function importRawVdi(req: ImportRawVdiRequest): Promise<void> {
  const transport = req.endpoint.scheme === 'https:' ? https : http;
  const method = 'PUT /import_raw_vdi';
  await new Promise<void>((resolve, reject) => {
    const r = transport.request(
      {
        host: req.hostname,
        port: req.endpoint.port,
        method: 'PUT',
        path: `/import_raw_vdi?session_id=${encodeURIComponent(req.sessionRef)}&vdi=${encodeURIComponent(req.vdi)}`,
        agent: req.agent,
        headers: { 'User-Agent': 'xsupgrade', 'content-length': req.size, 'content-type': 'application/octet-stream' },
      },
      (res) => {
        res.resume();
        if (res.statusCode === 200) res.on('end', () => resolve());
        else reject(new XenApiProtocolError(`upload into VDI refused by ${req.hostname}: HTTP ${res.statusCode}`, req.hostname, method, res.statusCode));
      },
    );
    r.setTimeout(req.idleTimeoutMs, () => r.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    r.on('error', (e: Error & { code?: string }) => {
      if (isCertificateError(e)) reject(new XenApiTlsError(`TLS: ${e.message} (${method} on ${req.hostname})`, req.hostname, e.code));
      else reject(new XenApiConnectionError(`upload to ${req.hostname} interrupted after ${sent} bytes: ${e.code ?? e.message} (${method})`, req.hostname, method, e.code));
    });
    let sent = 0;
    req.body.on('data', (c: Buffer) => {
      sent += c.length;
      req.onProgress?.(sent);
    });
    req.body.on('error', (e) => r.destroy(e));
    req.body.pipe(r);
  });
}
