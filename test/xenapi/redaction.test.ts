import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log';
import { XenApiClient } from '../../src/xenapi';
import { Redactor } from '../../src/xenapi/redact';
import { HANG, RESET, XapiFailure, startFakePool, type FakePool } from './helpers/fake-pool';

/** The password must never surface: not in messages, params, stacks, hidden properties, causes or logs. */
test('login failures of every kind never reveal the password', async () => {
  const password = 'Sup3r-Secret-Passw0rd';
  const pool: FakePool = await startFakePool({ hosts: 2, password });
  let logs = '';
  const logger = createLogger({
    level: 'trace',
    destination: new Writable({
      write(chunk, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    }),
  });
  const mk = (pw: string, extra: object = {}) =>
    // a timeout long enough for a loaded machine: only the hanging login (4) is meant to time out, at 300 ms
    new XenApiClient({ url: pool.masterUrl, username: 'root', password: pw, tls: { mode: 'insecure-http' }, logger, requestTimeoutMs: 10_000, ...extra });
  const errors: unknown[] = [];
  const clients: XenApiClient[] = [];
  const attempt = async (c: XenApiClient, fn: (c: XenApiClient) => Promise<unknown> = (x) => x.login()) => {
    clients.push(c);
    const e = await fn(c).then(
      () => undefined,
      (err) => err,
    );
    expect(e).toBeDefined();
    errors.push(e);
  };
  try {
    // 1. wrong password (server answers SESSION_AUTHENTICATION_FAILED)
    await attempt(mk(`${password}-wrong`));
    // 2. a server that echoes the password back in its error description and in a fault string
    pool.on('session.login_with_password', (params) => {
      throw new XapiFailure(['SESSION_AUTHENTICATION_FAILED', String(params[0]), `bad password ${String(params[1])}`]);
    });
    await attempt(mk(password));
    // 3. connection reset during login, 4. timeout during login
    pool.on('session.login_with_password', () => RESET);
    await attempt(mk(password));
    pool.on('session.login_with_password', () => HANG);
    await attempt(mk(password, { requestTimeoutMs: 300 }));
    // 5. host down, then reconnect giving up
    pool.overrides.delete('session.login_with_password');
    await pool.powerOff('host1');
    await attempt(mk(password));
    await attempt(mk(password), (c) => c.reconnect({ deadlineMs: Date.now() + 50 }));
    // 6. login via a slave whose master is down
    await attempt(mk(password, { url: pool.urlOf(pool.hosts[1]!) }));
  } finally {
    for (const c of clients) c.close();
    await pool.stop();
  }
  expect(errors).toHaveLength(7);
  for (const e of errors) {
    const text = [String(e), (e as Error).stack, inspect(e, { showHidden: true, depth: 20 }), JSON.stringify(e)].join('\n');
    expect(text).not.toContain(password);
  }
  expect(logs.length).toBeGreaterThan(0);
  expect(logs).not.toContain(password);
  // the echoed password was replaced, not silently dropped
  expect(inspect(errors[1])).toContain('[redacted]');
});

/**
 * Issue 10.8: repository credentials and URL credentials are removed where XenAPI and plugin errors enter the bot
 * (the client), so the plan's repository check, the upgrade step and any other caller get clean text.
 */
describe('secrets scrubbed at the client boundary', () => {
  const repoUser = 'repo-user';
  const repoPassword = 'Rep0-P@ss:word/x';
  const withCreds = `http://${repoUser}:${encodeURIComponent(repoPassword)}@repo.example/xs76/`;

  it('a testUrl failure that echoes the repository URL (credentials included) reaches the plan without them', async () => {
    const { testRepository } = await import('../../src/inventory/repository');
    const pool = await startFakePool({ hosts: 2, password: 'pool-password' });
    pool.on('host.call_plugin', (params) => {
      const url = (params[3] as { url: string }).url;
      throw new XapiFailure(['XENAPI_PLUGIN_FAILURE', 'testUrl', 'Exception', `INVALID_URL: could not fetch ${url}.treeinfo (user ${repoUser}, password ${repoPassword})`]);
    });
    const client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: 'pool-password', tls: { mode: 'insecure-http' }, secrets: [repoUser, repoPassword] });
    try {
      await client.login();
      const results = await testRepository(client, ['OpaqueRef:h1', 'OpaqueRef:h2'], withCreds);
      const text = JSON.stringify(results);
      expect(results['OpaqueRef:h1']).toEqual({ ok: false, error: expect.stringMatching(/^INVALID_URL: could not fetch http:\/\/\[redacted\]@repo\.example\/xs76\/\.treeinfo/) });
      for (const secret of [repoPassword, encodeURIComponent(repoPassword), `${repoUser}:`]) expect(text).not.toContain(secret);

      // any other call's failure (and the error's message and stack) is cleaned the same way: no call site can forget it
      pool.on('VM.get_all_records', () => {
        throw new XapiFailure(['INTERNAL_ERROR', `fetch ${withCreds} failed for ${repoPassword}`]);
      });
      const err = await client.call('VM.get_all_records').then(() => undefined, (e: unknown) => e as Error & { params: string[] });
      expect(err).toBeDefined();
      expect(inspect(err, { depth: 5 })).not.toContain(repoPassword);
      expect(inspect(err, { depth: 5 })).not.toContain(encodeURIComponent(repoPassword));
      expect(err!.params[0]).toBe('fetch http://[redacted]@repo.example/xs76/ failed for [redacted]');
    } finally {
      await client.logout().catch(() => undefined);
      await pool.stop();
    }
  });
});

describe('Redactor.redactPieces (the errors of decoders, which quote the reply they could not read)', () => {
  const r = new Redactor('Tr0ub&dor-3-Secret', ['repo-pw-XYZ']);
  test('removes any run of three or more characters that is also in a secret, and the whole secrets', () => {
    expect(r.redactPieces('a "&" that starts no reference: "&dor-3-Secre"')).toBe('a "&" that starts no reference: "[redacted]"');
    expect(r.redactPieces('unknown element <o-pw-XY>')).toBe('unknown element <[redacted]>');
    expect(r.redactPieces('Tr0ub&dor-3-Secret')).toBe('[redacted]');
  });
  test('leaves text that shares at most two characters in a row with a secret', () => {
    expect(r.redactPieces('Unexpected token } in JSON at position 12')).toBe('Unexpected token } in JSON at position 12');
  });
  test('redact, for ordinary messages, removes whole secrets only', () => {
    expect(r.redact('host xs-Secrets-1 is down')).toBe('host xs-Secrets-1 is down');
  });
});
