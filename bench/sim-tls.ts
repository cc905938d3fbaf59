/**
 * The simulator's HTTPS (issue 12.4): what a certificate per host costs. Generating one certificate (ECDSA P-256,
 * @peculiar/x509 on WebCrypto); starting a simulator of 3 and 64 hosts over HTTPS versus plain HTTP; and a fresh
 * client's login plus a read of every host (a new connection, so the TLS handshake is included). Loopback only.
 */
import { XenApiClient } from '../src/xenapi';
import { generateScenario, hostCertificate, startSimulator } from '../src/sim';
import { markdownTable, ms, summarise } from './harness';

export interface SimTlsRow {
  hosts: number;
  scheme: 'https' | 'http';
  startMs: number;
  /** login + host.get_all_records + logout on a new client, median of `reads` */
  firstReadMs: number;
}

export interface SimTlsBench {
  certificate: ReturnType<typeof summarise>;
  rows: SimTlsRow[];
}

export async function benchSimTls(opts: { hosts?: number[]; certificates?: number; reads?: number } = {}): Promise<SimTlsBench> {
  const certMs: number[] = [];
  for (let i = 0; i < (opts.certificates ?? 32); i++) {
    const t0 = performance.now();
    await hostCertificate(`host-${i}`, `127.0.0.${(i % 250) + 1}`);
    certMs.push(performance.now() - t0);
  }
  const rows: SimTlsRow[] = [];
  for (const hosts of opts.hosts ?? [3, 64]) {
    for (const scheme of ['https', 'http'] as const) {
      const scenario = generateScenario({ hosts, vmsPerHost: 2, seed: 1 });
      const t0 = performance.now();
      const sim = await startSimulator(scenario, { http: scheme === 'http' });
      const startMs = performance.now() - t0;
      try {
        const reads: number[] = [];
        for (let i = 0; i < (opts.reads ?? 5); i++) {
          const t1 = performance.now();
          const c = new XenApiClient({ url: sim.masterUrl, username: sim.username, password: sim.password, tls: sim.tls });
          await c.login();
          await c.getAllRecords('host');
          await c.logout();
          reads.push(performance.now() - t1);
        }
        rows.push({ hosts, scheme, startMs, firstReadMs: summarise(reads).p50Ms });
      } finally {
        await sim.stop();
      }
    }
  }
  return { certificate: summarise(certMs), rows };
}

export function formatSimTlsBench(b: SimTlsBench): string {
  return [
    `one host certificate (ECDSA P-256): p50 ${ms(b.certificate.p50Ms)}, p99 ${ms(b.certificate.p99Ms)} over ${b.certificate.count}`,
    '',
    markdownTable(
      ['hosts', 'scheme', 'simulator start', 'new client: login + read hosts (p50)'],
      b.rows.map((r) => [r.hosts, r.scheme, ms(r.startMs), ms(r.firstReadMs)]),
    ),
  ].join('\n');
}

if (require.main === module) {
  benchSimTls().then(
    (b) => console.log(formatSimTlsBench(b)),
    (e: unknown) => {
      console.error(`bench: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
