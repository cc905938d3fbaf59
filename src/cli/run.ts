/**
 * `xsupgrade run <pool> [--yes]`: plan, confirm, and drive a rolling upgrade from the terminal. A multi-hop
 * upgrade (R1.4) goes on hop by hop: each next hop is planned from the live pool by the core, shown, and started
 * only once confirmed (or with --yes), as the Start button is the gate between hops in Slack. The exit status is 0
 * only when the pool reached the final target.
 */
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Plan, Run } from '../domain/types';
import { isFinalHop } from '../planner/hops';
import { renderPlanText } from '../planner/render/text';
import type { Store } from '../store';
import { cliActor, openConsoleCore, type OpenedCore } from '../core/console';
import { parseCommandArgs } from './args';
import { SPECS } from './specs';

/** How long the terminal waits for the core to plan the next hop from the live pool (it reads the whole pool). */
const NEXT_HOP_WAIT_MS = 10 * 60_000;

export async function run(args: string[]): Promise<number> {
  const { positional, opts } = parseCommandArgs(SPECS.run, args);
  const pool = positional[0]!;
  const yes = !!opts.yes;
  const interactive = !!process.stdin.isTTY;
  const c = await openConsoleCore(process.env, { yes, interactive, write: (l) => console.log(l) });
  try {
    const plan = await c.core.plan(pool, {}, cliActor());
    if (!plan.ok) {
      console.error(`xsupgrade: ${plan.error}`);
      return 1;
    }
    console.log(renderPlanText(plan.value));
    if (!plan.value.executable) return 2;
    if (!yes && !interactive) {
      console.error('xsupgrade: not a terminal: add --yes to start and approve every gate');
      return 1;
    }
    if (!(await confirm(`Start this upgrade of ${pool}?`, yes))) return 1;
    const started = await c.core.start(pool, { planHash: plan.value.id }, cliActor());
    if (!started.ok) {
      console.error(`xsupgrade: ${started.error}`);
      return 1;
    }
    return await throughTheHops(c, await c.notifier.until(started.value.id), yes);
  } finally {
    await c.close();
  }
}

/** Asks on the terminal (yes: already answered; not a terminal: no). */
async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
  rl.close();
  return answer === 'y' || answer === 'yes';
}

/**
 * The exit status once `end` has ended, for `run` and `resume`: 0 only when it is done and the last hop (R1.4).
 * A done hop that is not the last goes on: the next hop's plan, made by the core from the live pool, is started
 * once confirmed (or with `yes`), and so on to the final target.
 */
export async function throughTheHops(c: OpenedCore, end: Run, yes: boolean): Promise<number> {
  for (;;) {
    if (end.state !== 'done') return 1;
    if (isFinalHop(end.plan)) return 0;
    console.log(`${hopLabel(end.plan)} is done: the pool is not on ${end.plan.finalTarget} yet; the next hop is planned from the live pool (R1.4)`);
    const next = await nextHopPlan(c.store, end.id);
    if ('error' in next) {
      console.error(`xsupgrade: ${next.error}`);
      return 1;
    }
    console.log(renderPlanText(next.plan));
    const label = hopLabel(next.plan);
    if (!next.plan.executable) {
      console.error(`xsupgrade: ${label} cannot start: its plan has blockers (above); the pool stays on ${end.plan.target.label}`);
      return 2;
    }
    if (!(await confirm(`Start ${label} of ${end.pool} (to ${next.plan.target.label})?`, yes))) {
      console.error(`xsupgrade: ${label} not started${yes || process.stdin.isTTY ? '' : ' (not a terminal: --yes starts it)'}; the pool stays on ${end.plan.target.label}. \`xsupgrade run ${end.pool}\` plans it again from the live pool`);
      return 1;
    }
    const started = await c.core.start(end.pool, { planHash: next.plan.id, planMadeAt: next.plan.createdAt }, cliActor());
    if (!started.ok) {
      console.error(`xsupgrade: ${started.error}`);
      return 1;
    }
    console.log(`${label} started${yes ? ' (--yes)' : ''}: run ${started.value.id}`);
    end = await c.notifier.until(started.value.id);
  }
}

/** "hop 2 of 3": the hop a plan of a multi-hop upgrade makes */
function hopLabel(plan: Plan): string {
  const hop = plan.hops?.find((h) => h.status === 'this');
  return `hop ${hop?.index ?? '?'} of ${plan.hops?.length ?? '?'}`;
}

/**
 * The next hop's plan once the core made it after run `runId` (its `nextHop` record, core/next-hop.ts), or why
 * there is none to start here: the pool could not be read, someone started the next hop elsewhere, or a newer
 * plan of the pool replaced it.
 */
export async function nextHopPlan(store: Store, runId: string): Promise<{ plan: Plan } | { error: string }> {
  const deadline = Date.now() + NEXT_HOP_WAIT_MS;
  for (;;) {
    const run = await store.getRun(runId);
    const next = run?.nextHop;
    if (!run || !next) return { error: `run ${runId} has no next hop on record; \`xsupgrade status ${runId}\` shows it` };
    switch (next.state) {
      case 'planned': {
        const plan = await store.getLatestPlan(run.pool);
        if (plan && plan.id === next.planId && plan.createdAt === next.planMadeAt) return { plan };
        return { error: `the next hop's plan was replaced by a newer plan of ${run.pool}; \`xsupgrade run ${run.pool}\` plans it again from the live pool` };
      }
      case 'started':
        return { error: `the next hop was started elsewhere as run ${next.runId ?? '?'}; \`xsupgrade status ${next.runId ?? ''}\` follows it` };
      case 'failed':
        return { error: `the next hop was not planned: ${next.error ?? 'no reason recorded'}; \`xsupgrade run ${run.pool}\` plans it again once the pool answers` };
      case 'replanning':
        if (Date.now() > deadline) return { error: `the next hop was not planned within ${NEXT_HOP_WAIT_MS / 60_000} minutes; \`xsupgrade status ${runId}\` shows where it stands` };
        await sleep(200);
    }
  }
}
