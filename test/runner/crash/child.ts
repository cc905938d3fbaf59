/**
 * A runner process for the crash tests: the real core + engine against a simulator running in the parent, sharing
 * the SQLite state file. It stops dead (for the parent's SIGKILL) at the first checkpoint the parent asks for:
 * the next step boundary not killed yet (before:<step>) or the first mid-step point of a step kind not killed yet.
 */
import { ScaledClock } from '../../../src/clock';
import type { PoolConfig } from '../../../src/config/pools';
import { createCore, type CoreHandle } from '../../../src/core';
import { silentLogger } from '../../../src/log';
import { openStore } from '../../../src/store';
import { midKey } from './child-keys';

const env = process.env;
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const killedSteps = new Set((env.KILLED_STEPS ?? '').split(',').filter(Boolean));
const killedKinds = new Set((env.KILLED_KINDS ?? '').split(',').filter(Boolean));
const killing = env.KILL !== 'none';

async function checkpoint(label: string): Promise<void> {
  if (!killing) return;
  let hit = false;
  if (label.startsWith('before:')) hit = !killedSteps.has(label.slice('before:'.length));
  else if (!label.startsWith('after:')) hit = !killedKinds.has(midKey(label));
  if (!hit) return;
  out(`CHECKPOINT ${label}`);
  await new Promise<never>(() => undefined); // frozen here until SIGKILL
}

async function main(): Promise<void> {
  const scale = Number(env.CLOCK_SCALE);
  const r0 = Number(env.CLOCK_R0);
  // the parent's clock: now = r0 + (Date.now() − r0) × scale
  const clock = new ScaledClock(scale, r0 + (Date.now() - r0) * scale);
  const store = await openStore({ path: env.STATE_PATH!, clock });
  const pool: PoolConfig = JSON.parse(env.POOL_JSON!);
  let core: CoreHandle | undefined;
  const actor = { userId: 'cli', source: 'cli' as const };
  core = await createCore({
    pools: [pool],
    store,
    clock,
    logger: silentLogger,
    env: { XS_SIM_PASSWORD: env.XS_SIM_PASSWORD, XSUPGRADE_BACKUPS: env.BACKUPS },
    ownerId: env.OWNER,
    leaseTtlMs: Number(env.LEASE_TTL_MS),
    pollMs: 2000,
    checkpoint,
    notifier: {
      runStarted: async (run) => out(`RUN ${run.id}`),
      runUpdated: async () => undefined,
      runEvent: async () => undefined,
      approvalNeeded: async (run, step) => {
        const r = await core!.approve(run.id, step.id, actor);
        if (!r.ok) out(`APPROVE-REFUSED ${step.id} ${r.error}`);
      },
      approvalDecided: async () => undefined,
      stepFailed: async (run, step) => {
        out(`FAILED ${step.id} ${step.error?.code ?? ''} ${step.error?.message ?? ''}`);
        process.exit(2);
      },
      runFinished: async (run) => {
        out(`FINISHED ${run.state}`);
        await store.close();
        process.exit(0);
      },
      poolNotice: async () => undefined,
    },
  });
  if (env.MODE === 'start') {
    const plan = await core.plan(pool.name, {}, actor);
    if (!plan.ok || !plan.value.executable) throw new Error(`plan: ${plan.ok ? 'not executable' : plan.error}`);
    const run = await core.start(pool.name, { planHash: plan.value.id }, actor);
    if (!run.ok) throw new Error(`start: ${run.error}`);
  } else {
    await core.recoverRuns();
  }
}

main().catch((err: unknown) => {
  out(`ERROR ${(err as Error).stack ?? String(err)}`);
  process.exit(3);
});
