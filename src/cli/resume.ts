/**
 * `xsupgrade resume <run> [--yes] [--action <retry|forget-rejoin|rollback-master|skip-host> --step <id> [--address <a>]]`
 * Un-pause a held run, take over a run whose runner died, or apply a recovery action to a failed step; then keep
 * driving it from this terminal.
 */
import type { RecoveryAction } from '../domain/types';
import { cliActor, openConsoleCore } from '../core/console';
import { parseCommandArgs } from './args';
import { SPECS } from './specs';

const ACTIONS: RecoveryAction[] = ['retry', 'forget-rejoin', 'rollback-master', 'skip-host', 'abort'];

export async function run(args: string[]): Promise<number> {
  const { positional, opts } = parseCommandArgs(SPECS.resume, args);
  const id = positional[0];
  const c = await openConsoleCore(process.env, { yes: !!opts.yes, interactive: !!process.stdin.isTTY, write: (l) => console.log(l) });
  try {
    const current = await c.core.getRun(id);
    if (!current) {
      console.error(`xsupgrade: no run ${id}`);
      return 1;
    }
    const ending = c.notifier.until(id);
    let res;
    if (opts.action) {
      const action = String(opts.action) as RecoveryAction;
      if (!ACTIONS.includes(action)) {
        console.error(`xsupgrade: --action must be one of ${ACTIONS.join(', ')}`);
        return 1;
      }
      const stepId = typeof opts.step === 'string' ? opts.step : current.steps.find((s) => s.state === 'failed')?.id;
      if (!stepId) {
        console.error(`xsupgrade: run ${id} has no failed step`);
        return 1;
      }
      res = await c.core.recover(id, { action, stepId, ...(typeof opts.address === 'string' ? { address: opts.address } : {}) }, cliActor());
    } else {
      res = await c.core.resume(id, cliActor());
    }
    if (!res.ok) {
      console.error(`xsupgrade: ${res.error}`);
      return 1;
    }
    if (res.value.state === 'aborted') return 1;
    const end = await ending;
    return end.state === 'done' ? 0 : 1;
  } finally {
    await c.close();
  }
}
