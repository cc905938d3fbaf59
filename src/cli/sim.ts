/**
 * `xsupgrade sim --scenario <file> [--time-scale N] [--admin-port P] [--http]`: run a simulated pool standalone.
 * Hosts serve HTTPS with a self-signed certificate each (fingerprints printed); --http serves plain HTTP.
 */
import { ScaledClock } from '../clock';
import { createLogger } from '../log';
import { startSimulator } from '../sim';
import { startAdminServer } from '../sim/admin-server';

const USAGE = 'usage: xsupgrade sim --scenario <file.yaml> [--time-scale N] [--admin-port P] [--http]';

function parseArgs(args: string[]): { scenario: string; scale: number; adminPort: number; http: boolean } | string {
  let http = false;
  let scenario = '';
  let scale = 1;
  let adminPort = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    if (a === '--scenario' && v) (scenario = v), i++;
    else if (a === '--time-scale' && v) {
      scale = Number(v);
      if (!(scale > 0)) return `--time-scale: expected a positive number, got "${v}"`;
      i++;
    } else if (a === '--admin-port' && v) {
      adminPort = Number(v);
      if (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535) return `--admin-port: expected a port number, got "${v}"`;
      i++;
    } else if (a === '--http') http = true;
    else if (a === '--help' || a === '-h') return USAGE;
    else return `unknown argument "${a}"\n${USAGE}`;
  }
  if (!scenario) return `--scenario is required\n${USAGE}`;
  return { scenario, scale, adminPort, http };
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    console.error(parsed);
    return 2;
  }
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
