/** `xsupgrade state migrate <sqlite-path> <postgres-url>`: a single instance's state into PostgreSQL (docs/ha.md). */
import { redactUrl } from '../store/url';

const USAGE = 'usage: xsupgrade state migrate <sqlite-path> <postgres-url>   (stop the bot first; the database must be empty)';

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const [verb, from, to, ...extra] = args;
  if (verb !== 'migrate' || !from || !to || extra.length > 0) {
    console.error(verb && verb !== 'migrate' ? `xsupgrade state: unknown action "${verb}"\n${USAGE}` : USAGE);
    return 2;
  }
  const { migrateState, MigrateError } = await import('../store/migrate');
  try {
    const s = await migrateState(from, to);
    console.log(
      `xsupgrade state migrate: copied ${s.keys} keys from ${s.from} to ${s.to}: ${s.runs} runs, ${s.auditEvents} audit events, ` +
        `${s.plans} plans, ${s.schedules} schedules, ${s.outbox} pending Slack messages, ${s.leases} pool leases. ` +
        `Set XSUPGRADE_STATE to the URL on every replica.`,
    );
    return 0;
  } catch (e) {
    const err = e as Error;
    const known = err instanceof MigrateError || err.name === 'StoreCorruptError' || err.name === 'StoreSchemaError';
    // a driver error may quote the URL: never print its password
    const message = err.message.split(to).join(redactUrl(to));
    console.error(`xsupgrade state migrate: ${known ? '' : 'failed: '}${message}`);
    return 1;
  }
}
