import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenApiClient, XenApiConnectionError, XenApiTlsError } from '../../src/xenapi';
import { startFakePool, type FakePool } from './helpers/fake-pool';

const dir = mkdtempSync(join(tmpdir(), 'xenapi-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate for the given IPs, made with openssl (present on CI images and here). */
function selfSigned(name: string, ips: string[]): { key: string; cert: string; fingerprint256: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`,
  ], { stdio: 'ignore' });
  const pem = readFileSync(cert, 'utf8');
  return { key: readFileSync(key, 'utf8'), cert: pem, fingerprint256: new X509Certificate(pem).fingerprint256 };
}

describe('https', () => {
  const base = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const ips = [`${base}.2`, `${base}.3`];
  const good = selfSigned('pool', ips);
  const other = selfSigned('other', ips);
  let pool: FakePool;
  const clients: XenApiClient[] = [];
  const mk = (tls: ConstructorParameters<typeof XenApiClient>[0]['tls']) => {
    const c = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    pool = await startFakePool({ hosts: 2, base, tls: good });
    pool.on('pool.get_all', () => ['OpaqueRef:p']);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await pool.stop();
  });
  beforeEach(() => pool.requests.splice(0));

  test('verify (the default) refuses a self-signed certificate before sending anything', async () => {
    const err = await mk(undefined).login().catch((e) => e);
    expect(err).toBeInstanceOf(XenApiTlsError);
    expect(err).not.toBeInstanceOf(XenApiConnectionError);
    expect(pool.requests).toHaveLength(0);
  });

  test('verify with the certificate as CA works', async () => {
    expect(await mk({ mode: 'verify', ca: good.cert }).call('pool.get_all')).toEqual(['OpaqueRef:p']);
  });

  test('pinned: the matching fingerprint works (any case or separators)', async () => {
    expect(await mk({ mode: 'pinned', fingerprint256: good.fingerprint256 }).call('pool.get_all')).toEqual(['OpaqueRef:p']);
    const lower = good.fingerprint256.toLowerCase();
    expect(await mk({ mode: 'pinned', fingerprint256: lower }).call('pool.get_all')).toEqual(['OpaqueRef:p']);
  });

  test('pinned: one fingerprint per pool member; any of them is accepted, none other', async () => {
    const both = { mode: 'pinned' as const, fingerprint256: [other.fingerprint256, good.fingerprint256] };
    expect(await mk(both).call('pool.get_all')).toEqual(['OpaqueRef:p']);
    const err = await mk({ mode: 'pinned', fingerprint256: [other.fingerprint256] }).login().catch((e) => e);
    expect(err).toBeInstanceOf(XenApiTlsError);
    await expect(mk({ mode: 'pinned', fingerprint256: [] }).login()).rejects.toThrow(/SHA-256 fingerprints/);
  });

  test('pinned: another fingerprint is refused before any request is written (the password never leaves)', async () => {
    const err = await mk({ mode: 'pinned', fingerprint256: other.fingerprint256 }).login().catch((e) => e);
    expect(err).toBeInstanceOf(XenApiTlsError);
    expect(err.message).toMatch(/does not match the pinned SHA-256 fingerprint/);
    expect(err.message).not.toContain(pool.password);
    expect(pool.requests).toHaveLength(0);
  });

  test('the database dump uses the same TLS rules', async () => {
    const ok = mk({ mode: 'pinned', fingerprint256: good.fingerprint256 });
    const res = await ok.dumpDatabase(join(dir, 'ok.xml'));
    expect(res.sha256).toBe(createHash('sha256').update(pool.dbDump).digest('hex'));
    const bad = mk({ mode: 'pinned', fingerprint256: other.fingerprint256 });
    (bad as unknown as { session: string }).session = 'OpaqueRef:whatever';
    await expect(bad.dumpDatabase(join(dir, 'bad.xml'))).rejects.toBeInstanceOf(XenApiTlsError);
    expect(existsSync(join(dir, 'bad.xml'))).toBe(false);
  });
});

describe('database dump', () => {
  let pool: FakePool;
  let client: XenApiClient;
  beforeEach(async () => {
    pool = await startFakePool({ hosts: 1 });
    pool.dbDump = `<?xml version="1.0"?><database>${'<table name="VM"/>'.repeat(5000)}</database>`;
    client = new XenApiClient({ url: pool.masterUrl, username: 'root', password: pool.password, tls: { mode: 'insecure-http' } });
  });
  afterEach(async () => {
    client.close();
    await pool.stop();
  });

  test('streams GET /pool/xmldbdump?session_id= to a file and returns its size and SHA-256', async () => {
    const file = join(dir, 'dump.xml');
    const res = await client.dumpDatabase(file);
    expect(res).toEqual({ path: file, bytes: Buffer.byteLength(pool.dbDump), sha256: createHash('sha256').update(pool.dbDump).digest('hex') });
    expect(readFileSync(file, 'utf8')).toBe(pool.dbDump);
    expect(existsSync(`${file}.partial`)).toBe(false);
  });

  test('an expired session is renewed once; a dump refused again is an error and leaves no file', async () => {
    await client.login();
    pool.invalidateSessions();
    const file = join(dir, 'relogin.xml');
    expect((await client.dumpDatabase(file)).bytes).toBe(Buffer.byteLength(pool.dbDump));
    expect(pool.calls('session.login_with_password')).toBe(2);
    pool.invalidateSessions();
    pool.on('session.login_with_password', () => 'OpaqueRef:not-a-session');
    const refused = join(dir, 'refused.xml');
    await expect(client.dumpDatabase(refused)).rejects.toThrow(/HTTP 403/);
    expect(existsSync(refused)).toBe(false);
    expect(existsSync(`${refused}.partial`)).toBe(false);
  });

  test('master down: a connection error', async () => {
    await client.login();
    await pool.powerOff('host1');
    await expect(client.dumpDatabase(join(dir, 'down.xml'))).rejects.toBeInstanceOf(XenApiConnectionError);
  });
});
