/** `xsupgrade abort <run>`: stop the run where it is and print the report of every host and VM. */
import { cliActor, openConsoleCore } from '../core/console';
import { parseCommandArgs } from './args';
import { SPECS } from './specs';

export async function run(args: string[]): Promise<number> {
  const id = parseCommandArgs(SPECS.abort, args).positional[0];
  const c = await openConsoleCore(process.env, { yes: false, interactive: false, write: (l) => console.log(l) });
  try {
    const res = await c.core.abort(id, cliActor());
    if (!res.ok) {
      console.error(`xsupgrade: ${res.error}`);
      return 1;
    }
    console.log(`run ${id} aborted.\n${res.value.outcome ?? ''}`);
    return 0;
  } finally {
    await c.close();
  }
}
