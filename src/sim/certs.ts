/**
 * Certificates of the simulated hosts. A real XenServer host serves XenAPI over HTTPS with a self-signed certificate
 * that it generates at its first start (`xapi-ssl.pem`, reference xapi-real-behaviour.md §4): every host has its own,
 * and a fresh install makes a new one. ECDSA P-256 through WebCrypto (a few ms each), so a simulator with 64 hosts
 * starts quickly. For `tls: verify` tests, hosts can instead carry certificates issued by a test CA (createTestCa).
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its services through tsyringe, which needs the Reflect polyfill
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const TEN_YEARS_MS = 3650 * 24 * 3600 * 1000;

export interface HostCertificate {
  /** PEM certificate (with the issuing CA's after it when issued by a test CA) */
  cert: string;
  /** PEM PKCS#8 private key */
  key: string;
  /** SHA-256 fingerprint as Node and openssl print it (AB:CD:…) */
  fingerprint256: string;
  /** when the certificate was made (a fresh install has a recent one) */
  notBefore: Date;
}

export interface TestCa {
  cert: string;
  keys: CryptoKeyPair;
  name: string;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive INTEGER
  return b.toString('hex');
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

/** A CA for tests of `tls: {mode: verify, ca}`: pass its `cert` as the pool's CA. */
export async function createTestCa(name = 'xsupgrade simulator test CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { cert: cert.toString('pem'), keys, name };
}

/**
 * A host's certificate: CN = its host name (as xapi's init script does), subject alternative names = its address and
 * name. Self-signed unless a test CA is given.
 */
export async function hostCertificate(hostName: string, address: string, opts: { ca?: TestCa; now?: Date } = {}): Promise<HostCertificate> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date((opts.now ?? new Date()).getTime() - 60_000);
  const base = {
    serialNumber: serial(),
    notBefore,
    notAfter: new Date(notBefore.getTime() + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: address }, { type: 'dns', value: hostName }])],
  };
  const subject = `CN=${hostName}`;
  const cert = opts.ca
    ? await x509.X509CertificateGenerator.create({ ...base, subject, issuer: new x509.X509Certificate(opts.ca.cert).subject, publicKey: keys.publicKey, signingKey: opts.ca.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...base, name: subject, keys });
  const pem = cert.toString('pem');
  return {
    cert: opts.ca ? `${pem}\n${opts.ca.cert}` : pem,
    key: await pkcs8Pem(keys.privateKey),
    fingerprint256: new X509Certificate(pem).fingerprint256,
    notBefore,
  };
}
