/**
 * A loopback HTTP server playing a XenAPI host for the client's tests: `answer` is called once each request's body
 * has been read. Listens on 127.0.0.1, any free port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeHost {
  url: string;
  close(): Promise<void>;
}

export async function startFakeHost(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakeHost> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Answers 200 with `body` as `type`, with its Content-Length. */
export function reply(res: http.ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}
