/** The table of CLI subcommands. Each module exports `run(args): Promise<exitCode>`. */
import { registerCommand } from './main';

// Subcommands are added here as their modules land, e.g.:
// registerCommand('sim', 'run a simulated pool from a scenario file', async () => (await import('./sim')).run);
export {};
void registerCommand;
