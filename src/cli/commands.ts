/** The table of CLI subcommands. Each module exports `run(args): Promise<exitCode>` and is loaded only when used. */
import { registerCommand } from './main';

registerCommand('start', 'npm start: the local sandbox on simulated pools (or the real bot when Slack and pools are configured)', async () => (await import('./start')).run);
registerCommand('serve', 'the Slack bot alone (HTTP or Socket Mode; settings from the environment, see docs/slack-install.md)', async () => (await import('./serve')).run);
registerCommand('plan', 'plan a rolling upgrade of a pool: prechecks, order, VM placement (exit 0 ready, 2 blocked)', async () => (await import('./plan')).run);
registerCommand('run', 'drive a rolling upgrade of a pool from the terminal (<pool> [--yes] approves every gate)', async () => (await import('./run')).run);
registerCommand('status', 'list runs, or show one run with its steps and audit tail (<run>)', async () => (await import('./status')).run);
registerCommand('resume', 'resume a paused or orphaned run, or apply a recovery action (<run> [--action a --step s])', async () => (await import('./resume')).run);
registerCommand('abort', 'abort a run and print every host and VM state (<run>)', async () => (await import('./abort')).run);
registerCommand('schedule', 'plan a pool and schedule a maintenance window for that plan (<pool> <when> [until <end>], as in Slack)', async () => (await import('./schedule')).run);
registerCommand('schedules', 'list the maintenance windows ([<pool>])', async () => (await import('./schedule')).runSchedules);
registerCommand('unschedule', 'delete a maintenance window (<id>)', async () => (await import('./schedule')).runUnschedule);
registerCommand('state', 'copy a SQLite state file into an empty PostgreSQL database for several replicas (migrate <sqlite-path> <postgres-url>)', async () => (await import('./state')).run);
registerCommand('rehearse', 'a complete run on a simulated copy (<pool-or-scenario.yaml> [--fail <host>] [--scale N])', async () => (await import('./rehearse')).run);
registerCommand('sim', 'run a simulated XenServer pool from a scenario file (--scenario <file> [--time-scale N])', async () => (await import('./sim')).run);
