/** `xsupgrade run <pool> [--yes]`: plan, confirm, and drive a rolling upgrade from the terminal. */
import { createInterface } from 'node:readline/promises';
import { renderPlanText } from '../planner/render/text';
import { cliActor, openConsoleCore } from '../core/console';
import { parseCommandArgs } from './args';
import { SPECS } from './specs';

export async function run(args: string[]): Promise<number> {
  const { positional, opts } = parseCommandArgs(SPECS.run, args);
  const pool = positional[0];
  const interactive = !!process.stdin.isTTY;
  const c = await openConsoleCore(process.env, { yes: !!opts.yes, interactive, write: (l) => console.log(l) });
  try {
    const plan = await c.core.plan(pool, {}, cliActor());
    if (!plan.ok) {
      console.error(`xsupgrade: ${plan.error}`);
      return 1;
    }
    console.log(renderPlanText(plan.value));
    if (!plan.value.executable) return 2;
    if (!opts.yes) {
      if (!interactive) {
        console.error('xsupgrade: not a terminal: add --yes to start and approve every gate');
        return 1;
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = (await rl.question(`Start this upgrade of ${pool}? [y/N] `)).trim().toLowerCase();
      rl.close();
      if (answer !== 'y' && answer !== 'yes') return 1;
    }
    const started = await c.core.start(pool, { planHash: plan.value.id }, cliActor());
    if (!started.ok) {
      console.error(`xsupgrade: ${started.error}`);
      return 1;
    }
    const end = await c.notifier.until(started.value.id);
    return end.state === 'done' ? 0 : 1;
  } finally {
    await c.close();
  }
}
