/**
 * `xsupgrade sim --scenario <file> [--time-scale N] [--admin-port P] [--http]`: run a simulated pool standalone.
 * Hosts serve HTTPS with a self-signed certificate each (fingerprints printed); --http serves plain HTTP.
 */
import { ScaledClock } from '../clock';
import { createLogger } from '../log';
import { startSimulator } from '../sim';
import { startAdminServer } from '../sim/admin-server';
import { parseCommandArgs, UsageError } from './args';
import { SPECS } from './specs';

function parseSimArgs(args: string[]): { scenario: string; scale: number; adminPort: number; http: boolean } {
  const { opts } = parseCommandArgs(SPECS.sim, args);
  if (typeof opts.scenario !== 'string') throw new UsageError('--scenario is required');
  const scale = opts['time-scale'] === undefined ? 1 : Number(opts['time-scale']);
  if (!(scale > 0)) throw new UsageError(`--time-scale: expected a positive number, got "${String(opts['time-scale'])}"`);
  const adminPort = opts['admin-port'] === undefined ? 0 : Number(opts['admin-port']);
  if (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535) throw new UsageError(`--admin-port: expected a port number, got "${String(opts['admin-port'])}"`);
  return { scenario: opts.scenario, scale, adminPort, http: opts.http === true };
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseSimArgs(args);
  const logger = createLogger({ name: 'xsupgrade-sim', level: process.env.XSUPGRADE_LOG_LEVEL ?? 'warn' });
  let pool;
  try {
    pool = await startSimulator(parsed.scenario, { clock: new ScaledClock(parsed.scale), logger, http: parsed.http });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const admin = await startAdminServer([pool], { port: parsed.adminPort });
  console.log(`pool ${pool.name} (time scale ${parsed.scale}), user ${pool.username}`);
  for (const h of pool.hosts()) console.log(`  ${h.name.padEnd(12)} ${h.role.padEnd(6)} ${h.url}  ${h.productVersion} (platform ${h.platformVersion})${h.fingerprint256 ? `  sha256 ${h.fingerprint256}` : ''}`);
  console.log(`master: ${pool.masterUrl}`);
  console.log(`admin: ${admin.url}/pools/${pool.name}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await admin.stop();
  await pool.stop();
  return 0;
}
