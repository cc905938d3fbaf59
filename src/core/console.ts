/** What the run/status/resume/abort CLI commands share: opening the core from the environment, a console notifier. */
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { ScaledClock, systemClock, type Clock } from '../clock';
import { loadGeneralSettings } from '../config/env';
import { loadPoolsFile, type PoolConfig } from '../config/pools';
import { startDemoPools, type DemoPools } from '../sandbox/demo-pools';
import type { Notifier } from '../domain/ports';
import type { Actor, Plan, RecoveryAction, Run, StepRecord } from '../domain/types';
import { createLogger } from '../log';
import { openStore, type Store } from '../store';
import { createCore, defaultOwnerId, type CoreHandle } from '.';
import { plainMentions } from '../domain/mention';

export function cliActor(): Actor {
  let name = 'operator';
  try {
    name = userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return { userId: `cli:${name}`, source: 'cli' };
}

export interface ConsoleOptions {
  /** answer every gate with "approve" (the --yes flag) */
  yes: boolean;
  /** stdin is a terminal: ask at gates and failures */
  interactive: boolean;
  write: (line: string) => void;
  /** notes for stderr (default console.error) */
  warn?: (line: string) => void;
}

/** Progress lines on the console; at a gate: prompt, or approve with --yes. */
export class ConsoleNotifier implements Notifier {
  core?: CoreHandle;
  private finished = new Map<string, (run: Run) => void>();
  private readonly failures = new Map<string, { step: StepRecord; actions: RecoveryAction[] }>();

  constructor(private readonly o: ConsoleOptions) {}

  /** Resolves when the run ends (done/aborted/rolled-back) or, non-interactively, fails. */
  until(runId: string): Promise<Run> {
    return new Promise((res) => this.finished.set(runId, res));
  }

  lastFailure(runId: string) {
    return this.failures.get(runId);
  }

  private line(run: Run | string, text: string): void {
    const t = new Date().toISOString().slice(11, 19);
    this.o.write(`${t} ${typeof run === 'string' ? run : run.id}: ${plainMentions(text)}`);
  }

  async runStarted(run: Run) {
    this.line(run, `started (${run.steps.length} steps, plan ${run.planHash.slice(0, 12)})`);
  }
  async runUpdated(run: Run) {
    const s = run.steps.find((x) => x.state === 'running');
    if (s) this.line(run, `${s.id}: ${run.plan.steps.find((p) => p.id === s.id)?.description ?? s.kind}`);
  }
  async runEvent(run: Run, text: string) {
    this.line(run, text);
  }
  async approvalNeeded(run: Run, step: StepRecord) {
    const what = run.plan.steps.find((p) => p.id === step.id)?.description ?? step.id;
    if (this.o.yes || !this.o.interactive) {
      if (!this.o.yes) {
        this.line(run, `waiting for approval: ${what} — approve with --yes, or from Slack`);
        return;
      }
      this.line(run, `gate ${step.id} approved (--yes): ${what}`);
      const r = await this.core!.approve(run.id, step.id, cliActor());
      if (!r.ok) this.line(run, `approval refused: ${r.error}`);
      return;
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = (await rl.question(`${what}\n  [a]pprove, [h]old or a[b]ort? `)).trim().toLowerCase();
    rl.close();
    const actor = cliActor();
    const r = answer.startsWith('a') ? await this.core!.approve(run.id, step.id, actor) : answer.startsWith('b') ? await this.core!.abort(run.id, actor) : await this.core!.hold(run.id, step.id, actor);
    if (!r.ok) this.line(run, `refused: ${r.error}`);
    else if (r.value.state === 'paused') this.finished.get(run.id)?.(r.value);
  }
  async approvalDecided(run: Run, step: StepRecord, decision: string, by: string) {
    this.line(run, `${step.id} ${decision} by ${by}`);
  }
  async stepFailed(run: Run, step: StepRecord, actions: RecoveryAction[]) {
    this.failures.set(run.id, { step, actions });
    this.line(run, `FAILED ${step.id}: ${step.error?.message ?? ''}${step.error?.code ? ` [${step.error.code}]` : ''}`);
    for (const f of step.error?.observed ?? []) this.line(run, `  observed: ${f}`);
    this.line(run, `  recovery: ${actions.map((a) => `xsupgrade resume ${run.id} --action ${a} --step ${step.id}`).join('\n            ')}`);
    this.finished.get(run.id)?.(run);
  }
  async runFinished(run: Run) {
    this.line(run, `${run.state}: ${run.outcome ?? ''}`);
    this.finished.get(run.id)?.(run);
  }
  async poolNotice(pool: string, text: string) {
    this.line(pool, text);
  }
  /** R1.4: the next hop's plan is made (`xsupgrade run` and `resume` show it whole before asking to start it) */
  async hopPlanned(run: Run, plan: Plan) {
    this.line(run, `next hop planned from the live pool (R1.4): plan ${plan.id.slice(0, 12)} → ${plan.target.label}; it starts only when someone starts it`);
  }
}

export interface OpenedCore {
  core: CoreHandle;
  store: Store;
  notifier: ConsoleNotifier;
  clock: Clock;
  /** the replica name this terminal's runner holds leases under */
  ownerId: string;
  close(): Promise<void>;
}

export async function openConsoleCore(env: NodeJS.ProcessEnv, o: ConsoleOptions): Promise<OpenedCore> {
  const settings = loadGeneralSettings(env);
  const logger = createLogger({ level: settings.logLevel === 'info' && !env.XSUPGRADE_LOG_LEVEL ? 'warn' : settings.logLevel });
  let pools: PoolConfig[];
  let clock: Clock = systemClock;
  let statePath = settings.statePath;
  let demo: DemoPools | undefined;
  if (settings.poolsFile) pools = loadPoolsFile(settings.poolsFile).pools;
  else {
    // no pools file: the demo pools of `npm start` on the simulator in this process, on its faster clock, with the
    // state in memory unless XSUPGRADE_STATE is set (a later process has no simulator to resume a demo run on)
    clock = new ScaledClock(settings.demoScale);
    demo = await startDemoPools({ clock, env });
    pools = demo.pools;
    if (!env.XSUPGRADE_STATE) statePath = ':memory:';
    (o.warn ?? ((l: string) => console.error(l)))(
      `xsupgrade: XSUPGRADE_POOLS is not set: using the demo pools of \`npm start\` (${pools.map((p) => p.name).join(', ')}) on the simulator in this process, ${settings.demoScale}× faster than real time; state ${statePath === ':memory:' ? 'in memory' : statePath}`,
    );
  }
  try {
    const store = await openStore({ path: statePath, clock, logger });
    const notifier = new ConsoleNotifier(o);
    const ownerId = defaultOwnerId(env);
    const core = await createCore({ pools, store, notifier, clock, logger, env, ownerId });
    notifier.core = core;
    return {
      core,
      store,
      notifier,
      clock,
      ownerId,
      async close() {
        await core.shutdown();
        await store.close();
        await demo?.stop();
      },
    };
  } catch (e) {
    await demo?.stop();
    throw e;
  }
}

export function formatRunLine(run: Run): string {
  const current = run.steps.find((s) => s.state !== 'done' && s.state !== 'skipped');
  const done = run.steps.filter((s) => s.state === 'done').length;
  return `${run.id.padEnd(28)} ${run.state.padEnd(18)} ${String(done).padStart(3)}/${run.steps.length} ${current ? `${current.id} (${current.state})` : ''}`;
}

export function formatRunDetail(run: Run): string {
  const lines = [`run ${run.id} on ${run.pool}: ${run.state}`, `  plan ${run.planHash.slice(0, 12)} ${run.plan.mode} → ${run.plan.target.label}, requested by ${run.requestedBy}`];
  for (const s of run.steps) {
    const note = (s.data?.note as string | undefined) ?? s.error?.message ?? '';
    lines.push(`  ${s.state.padEnd(18)} ${s.id}${s.attempts > 1 ? ` (attempt ${s.attempts})` : ''}${note ? ` — ${note}` : ''}`);
  }
  for (const a of run.approvals) lines.push(`  ${a.decision} ${a.stepId} by ${a.by} at ${new Date(a.at).toISOString()}`);
  if (run.outcome) lines.push(`  outcome: ${run.outcome}`);
  return plainMentions(lines.join('\n'));
}
