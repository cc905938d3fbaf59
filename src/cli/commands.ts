/** The table of CLI subcommands. Each module exports `run(args): Promise<exitCode>`. */
import { registerCommand } from './main';

// Subcommands are added here as their modules land, e.g.:
// registerCommand('sim', 'run a simulated pool from a scenario file', async () => (await import('./sim')).run);
registerCommand('start', 'npm start: the local sandbox on simulated pools (or the real bot when Slack and pools are configured)', async () => (await import('./start')).run);
registerCommand('sim', 'run a simulated XenServer pool from a scenario file (--scenario <file> [--time-scale N])', async () => (await import('./sim')).run);
registerCommand('plan', 'plan a rolling upgrade of a pool: prechecks, order, VM placement (exit 0 ready, 2 blocked)', async () => (await import('./plan')).run);
export {};
