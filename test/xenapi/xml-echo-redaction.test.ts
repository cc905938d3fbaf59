/**
 * A host that echoes the login request in its XML-RPC reply without escaping it (a broken xapi,
 * or a proxy answering for it) makes the reply unreadable. The decoder's error then quotes a piece of the reply; that
 * piece can be a part of the pool password, which the Redactor does not recognise (it only removes whole secrets).
 * test/xenapi/http-error-redaction.test.ts holds the same standard for HTTP 500 pages: no part of the password may
 * surface (its first characters are already enough to halve a brute force).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { XenApiClient } from '../../src/xenapi';

/** Logs in with `password` to a host that answers /jsonrpc 404 and XML-RPC 200 text/xml with `reply(body)`. */
async function loginErrorText(password: string, reply: (requestBody: string) => string): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/jsonrpc') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const text = reply(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(text) }).end(text);
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
    return [String(err), err!.stack, inspect(err, { showHidden: true, depth: 10 })].join('\n');
  } finally {
    client.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A Failure reply whose last error parameter quotes `text` as is (not XML-escaped). */
const failureQuoting = (text: string) =>
  '<?xml version="1.0"?><methodResponse><params><param><value><struct>' +
  '<member><name>Status</name><value>Failure</value></member>' +
  '<member><name>ErrorDescription</name><value><array><data>' +
  `<value>SESSION_AUTHENTICATION_FAILED</value><value>root</value><value>Authentication failure for ${text}</value>` +
  '</data></array></value></member></struct></value></param></params></methodResponse>';

test('a reply echoing a password with "&" unescaped does not put any part of the password in the error', async () => {
  const password = 'Tr0ub&dor-3-Secret-XYZ';
  const text = await loginErrorText(password, () => failureQuoting(password));
  expect(text).toMatch(/unreadable reply/);
  expect(text).not.toContain(password);
  // the part after the "&" is 17 characters of the password
  expect(text).not.toContain('dor-3-Secr');
});

test('a reply echoing a password with "<" unescaped does not put any part of the password in the error', async () => {
  const password = 'Tr0ub<dor3Secret';
  const text = await loginErrorText(password, () => failureQuoting(password));
  expect(text).toMatch(/unreadable reply/);
  expect(text).not.toContain(password);
  expect(text).not.toContain('dor3Secret');
});
