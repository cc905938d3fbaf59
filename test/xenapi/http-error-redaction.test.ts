/**
 * An HTTP 500 whose body quotes the request (a broken xapi or a proxy's error page echoing what it could not
 * process) must never put the pool password, or any part of it, into the error the bot logs and shows.
 * wire.ts cut the body to 200 characters before the Redactor ran, so a password that straddled the cut was no longer
 * a whole match and its first characters survived in the message; and a password quoted HTML-escaped was not known
 * to the Redactor (found by review).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { XenApiClient } from '../../src/xenapi';

const password = 'Sup3r-Secret-Passw0rd-0123456789';

test('an HTTP 500 page echoing the login request never reveals any part of the password', async () => {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (req.url === '/jsonrpc') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      // the error page quotes the request's parameters, the password starting at character 190 of the page
      const params = `params: ${body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ')}`;
      const at = params.indexOf(password);
      const page = `${'Internal error while handling the request. '.padEnd(190 - at, '.')}${params}`;
      res.writeHead(500, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(page) }).end(page);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new XenApiClient({ url, username: 'root', password, tls: { mode: 'insecure-http' }, requestTimeoutMs: 5000 });
  try {
    const err = await client.login().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeDefined();
    const text = [String(err), err!.stack, inspect(err, { showHidden: true, depth: 10 })].join('\n');
    // the whole password is not there…
    expect(text).not.toContain(password);
    // …and neither is its beginning (the first 10 characters are enough to halve any brute force)
    expect(text).not.toContain(password.slice(0, 10));
  } finally {
    client.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('an HTML 500 page quoting the password HTML-escaped does not reveal it', async () => {
  const pw = 'Tr0ub&dor<3-Secret';
  const escaped = pw.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/jsonrpc') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      // an error page that shows the parameters it refused, HTML-escaped as any HTML page must
      const page = `<html><body><h1>500</h1><p>login refused for root / ${escaped}</p></body></html>`;
      res.writeHead(500, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) }).end(page);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new XenApiClient({ url, username: 'root', password: pw, tls: { mode: 'insecure-http' }, requestTimeoutMs: 5000 });
  try {
    const err = await client.login().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeDefined();
    const text = [String(err), err!.stack, inspect(err, { showHidden: true, depth: 10 })].join('\n');
    expect(text).toMatch(/HTTP 500/);
    expect(text).not.toContain(escaped);
    expect(text).not.toContain('3-Secret');
  } finally {
    client.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
