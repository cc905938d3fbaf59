/**
 * The simulator serves HTTPS as real hosts do (issue 12.4): a self-signed certificate per host, a new one at every
 * fresh install, HOST_IS_SLAVE redirects across hosts with different certificates in `pinned` and `verify` modes,
 * and plain HTTP only when asked for.
 */
import tls from 'node:tls';
import { createTestCa, startSimulator, type SimPool, type TestCa } from '../../src/sim';
import { XenApiClient } from '../../src/xenapi';
import { PIN_MISMATCH } from '../../src/xenapi/tls';
import { fastClock } from './helpers';

/** The certificate a host presents, read with a bare TLS handshake (nothing written). */
function peerCertificate(url: string): Promise<tls.PeerCertificate> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate();
      s.destroy();
      resolve(c);
    });
    s.on('error', reject);
  });
}

const clientFor = (sim: SimPool, url: string, t: ConstructorParameters<typeof XenApiClient>[0]['tls']) =>
  new XenApiClient({ url, username: sim.username, password: sim.password, tls: t, requestTimeoutMs: 5000 });

describe('simulator TLS', () => {
  let sim: SimPool;
  beforeAll(async () => {
    sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
  });
  afterAll(() => sim.stop());

  test('every host serves HTTPS with its own self-signed certificate (CN = host name), pinned by SimPool.tls', async () => {
    expect(sim.scheme).toBe('https:');
    expect(sim.masterUrl).toMatch(/^https:\/\/127\./);
    const hosts = sim.hosts();
    const fps = new Set<string>();
    for (const h of hosts) {
      const cert = await peerCertificate(h.url);
      expect(cert.fingerprint256).toBe(h.fingerprint256);
      expect(cert.subject.CN).toBe(h.name);
      expect(cert.issuer.CN).toBe(h.name); // self-signed
      expect(cert.subjectaltname).toContain(`IP Address:${h.address}`);
      fps.add(cert.fingerprint256);
    }
    expect(fps.size).toBe(hosts.length);
    expect(sim.tls).toEqual({ mode: 'pinned', fingerprint256: hosts.map((h) => h.fingerprint256) });
  });

  test('pinned: HOST_IS_SLAVE from a slave is followed to the master, whose different certificate is pinned too', async () => {
    const slave = sim.hosts().find((h) => h.name === 'xs-a2')!;
    const master = sim.hosts().find((h) => h.role === 'master')!;
    const c = clientFor(sim, slave.url, sim.tls);
    try {
      await c.login();
      expect(c.masterAddress).toBe(master.address);
      expect(Object.keys(await c.getAllRecords('host'))).toHaveLength(3);
    } finally {
      await c.logout();
    }
  });

  test("pinned to the slave's certificate only: the redirect to the master is refused at the handshake", async () => {
    const slave = sim.hosts().find((h) => h.name === 'xs-a2')!;
    const c = clientFor(sim, slave.url, { mode: 'pinned', fingerprint256: slave.fingerprint256! });
    await expect(c.login()).rejects.toMatchObject({ code: PIN_MISMATCH });
    c.close();
  });

  test('trustFingerprint: a pinned client accepts one more member certificate from then on (a rejoined host, R4.2)', async () => {
    const slave = sim.hosts().find((h) => h.name === 'xs-a2')!;
    const master = sim.hosts().find((h) => h.role === 'master')!;
    const viaSlave = clientFor(sim, slave.url, { mode: 'pinned', fingerprint256: master.fingerprint256! });
    await expect(viaSlave.login()).rejects.toMatchObject({ code: PIN_MISMATCH });
    viaSlave.trustFingerprint(slave.fingerprint256!);
    viaSlave.trustFingerprint(slave.fingerprint256!.toLowerCase()); // the same one again: no change
    await viaSlave.login();
    expect(viaSlave.masterAddress).toBe(master.address);
    await viaSlave.logout();
  });

  test('verify without the CA that issued the certificate is refused (self-signed)', async () => {
    const c = clientFor(sim, sim.masterUrl, { mode: 'verify' });
    await expect(c.login()).rejects.toThrow(/certificate/i);
    c.close();
  });

  test('a fresh install (reinstallFresh) serves a NEW certificate: the pins configured at start no longer match it', async () => {
    const other = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock() });
    try {
      const before = other.hosts().find((h) => h.name === 'xs-a3')!;
      other.control.powerOff('xs-a3');
      await new Promise((r) => setTimeout(r, 50));
      const fresh = other.control.reinstallFresh('xs-a3');
      const { fingerprint256 } = await fresh.ready;
      expect(fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(fingerprint256).not.toBe(before.fingerprint256);
      expect((await peerCertificate(fresh.url)).fingerprint256).toBe(fingerprint256);
      expect(other.hosts().find((h) => h.name === 'xs-a3')!.fingerprint256).toBe(fingerprint256);
      const stale = clientFor(other, fresh.url, other.tls);
      await expect(stale.login()).rejects.toMatchObject({ code: PIN_MISMATCH });
      stale.close();
      const pinnedNew = clientFor(other, fresh.url, { mode: 'pinned', fingerprint256: fingerprint256! });
      await pinnedNew.login(); // a fresh stand-alone host is its own master
      expect(Object.keys(await pinnedNew.getAllRecords('host'))).toHaveLength(1);
      await pinnedNew.logout();
    } finally {
      await other.stop();
    }
  });
});

describe('simulator TLS with a test CA (verify mode)', () => {
  let ca: TestCa;
  let sim: SimPool;
  beforeAll(async () => {
    ca = await createTestCa();
    sim = await startSimulator('manifests/demo/pool-a.yaml', { clock: fastClock(), ca });
  });
  afterAll(() => sim.stop());

  test('certificates issued by the CA verify by address; HOST_IS_SLAVE redirects verify too', async () => {
    expect(sim.tls).toEqual({ mode: 'verify', ca: ca.cert });
    const slave = sim.hosts().find((h) => h.name === 'xs-a3')!;
    const c = clientFor(sim, slave.url, sim.tls);
    try {
      await c.login();
      expect(c.masterAddress).toBe(sim.hosts().find((h) => h.role === 'master')!.address);
    } finally {
      await c.logout();
    }
  });

  test('another CA is refused', async () => {
    const stranger = await createTestCa('some other CA');
    const c = clientFor(sim, sim.masterUrl, { mode: 'verify', ca: stranger.cert });
    await expect(c.login()).rejects.toThrow(/certificate/i);
    c.close();
  });
});

test('plain HTTP only when asked for: start option http or scenario pool.tls: false', async () => {
  const sim = await startSimulator('manifests/demo/standalone.yaml', { clock: fastClock(), http: true });
  try {
    expect(sim.scheme).toBe('http:');
    expect(sim.masterUrl).toMatch(/^http:\/\//);
    expect(sim.tls).toEqual({ mode: 'insecure-http' });
    expect(sim.hosts()[0].fingerprint256).toBeUndefined();
    const c = clientFor(sim, sim.masterUrl, sim.tls);
    await c.login();
    await c.logout();
  } finally {
    await sim.stop();
  }
});
