import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { XenApiConnectionError, XenApiProtocolError, XenApiTlsError } from './errors';
import { isCertificateError, type Endpoint } from './tls';

/**
 * Pool database backup (R2.1): `GET /pool/xmldbdump?session_id=…` on the master. xapi streams the XML with no
 * length and closes the connection, so the body is streamed to `<file>.partial` while its SHA-256 and size are
 * computed, and renamed to `<file>` only when complete: a failed dump never leaves a truncated file behind.
 */
export interface DbDumpResult {
  path: string;
  bytes: number;
  sha256: string;
}

export interface DbDumpRequest {
  endpoint: Endpoint;
  hostname: string;
  agent: http.Agent;
  sessionRef: string;
  file: string;
  /** real ms of socket inactivity before giving up */
  idleTimeoutMs: number;
}

export async function downloadDbDump(req: DbDumpRequest): Promise<DbDumpResult> {
  const transport = req.endpoint.scheme === 'https:' ? https : http;
  const partial = `${req.file}.partial`;
  const method = 'GET /pool/xmldbdump';
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const r = transport.request(
      {
        host: req.hostname,
        port: req.endpoint.port,
        method: 'GET',
        path: `/pool/xmldbdump?session_id=${encodeURIComponent(req.sessionRef)}`,
        agent: req.agent,
        headers: { 'User-Agent': 'xsupgrade' },
      },
      resolve,
    );
    r.setTimeout(req.idleTimeoutMs, () => r.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    r.on('error', (e: Error & { code?: string }) => {
      if (isCertificateError(e)) reject(new XenApiTlsError(`TLS: ${e.message} (${method} on ${req.hostname})`, req.hostname, e.code));
      else reject(new XenApiConnectionError(`cannot reach ${req.hostname}: ${e.code ?? e.message} (${method})`, req.hostname, method, e.code));
    });
    r.end();
  });
  if (res.statusCode !== 200) {
    res.resume();
    // The URL carries the session ref: never put it in the message.
    throw new XenApiProtocolError(`database dump refused by ${req.hostname}: HTTP ${res.statusCode}`, req.hostname, method, res.statusCode);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res, meter, createWriteStream(partial, { mode: 0o600 }));
  } catch (e) {
    await unlink(partial).catch(() => undefined);
    const err = e as Error & { code?: string };
    throw new XenApiConnectionError(
      `database dump from ${req.hostname} interrupted after ${bytes} bytes: ${err.code ?? err.message}`,
      req.hostname,
      method,
      err.code,
    );
  }
  await rename(partial, req.file);
  return { path: req.file, bytes, sha256: hash.digest('hex') };
}
