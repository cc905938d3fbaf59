/** `xsupgrade status [<run>]`: the runs in the state store (no pool connection needed). */
import { loadGeneralSettings } from '../config/env';
import { formatRunDetail, formatRunLine } from '../core/console';
import { parseCommandArgs } from './args';
import { SPECS } from './specs';
import { openStore } from '../store';

export async function run(args: string[]): Promise<number> {
  const { positional } = parseCommandArgs(SPECS.status, args);
  const settings = loadGeneralSettings(process.env);
  const store = await openStore({ path: settings.statePath });
  try {
    const id = positional[0];
    if (id) {
      const r = await store.getRun(id);
      if (!r) {
        console.error(`xsupgrade: no run ${id}`);
        return 1;
      }
      console.log(formatRunDetail(r));
      const audit = await store.listAudit(id);
      for (const e of audit.slice(-15)) console.log(`  ${new Date(e.at).toISOString()} ${e.kind.padEnd(8)} ${e.actor}: ${e.message}`);
      return 0;
    }
    const runs = await store.listRuns();
    if (runs.length === 0) console.log('no runs yet');
    for (const r of runs.slice(0, 20)) console.log(formatRunLine(r));
    return 0;
  } finally {
    await store.close();
  }
}
