/**
 * One bot replica for the failover benchmark (bench/ha.ts): the real core and runner on the shared PostgreSQL
 * store, following other replicas (take-over of expired leases, change feed), approving its gates itself.
 * Started as a child process by the benchmark, which SIGKILLs it.
 */
import { systemClock } from '../src/clock';
import type { PoolConfig } from '../src/config/pools';
import { createCore, type CoreHandle } from '../src/core';
import { silentLogger } from '../src/log';
import { openStore } from '../src/store';

async function main(): Promise<void> {
  const env = process.env;
  const pool = JSON.parse(env.POOL_JSON!) as PoolConfig;
  const store = await openStore({ path: env.STATE_URL! });
  const approver = { userId: 'U0APPROVER', source: 'cli' as const };
  let core: CoreHandle | undefined;
  const quiet = async () => undefined;
  core = await createCore({
    pools: [pool],
    store,
    clock: systemClock,
    logger: silentLogger,
    env: { XS_BENCH_PASSWORD: env.XS_BENCH_PASSWORD, XSUPGRADE_BACKUPS: env.BACKUPS },
    ownerId: env.OWNER,
    leaseTtlMs: Number(env.LEASE_TTL_MS),
    pollMs: 200,
    followReplicas: true,
    notifier: {
      runStarted: quiet,
      runUpdated: quiet,
      runEvent: quiet,
      approvalNeeded: async (run, step) => void (await core!.approve(run.id, step.id, approver)),
      approvalDecided: quiet,
      stepFailed: async (_run, step) => void process.stdout.write(`FAILED ${step.id} ${step.error?.message ?? ''}\n`),
      runFinished: async (run) => void process.stdout.write(`FINISHED ${run.state}\n`),
      poolNotice: quiet,
    },
  });
  if (env.MODE === 'start') {
    const requester = { userId: 'U0REQUESTER', source: 'cli' as const };
    const plan = await core.plan(pool.name, {}, requester);
    if (!plan.ok || !plan.value.executable) throw new Error(`plan: ${plan.ok ? 'not executable' : plan.error}`);
    const run = await core.start(pool.name, { planHash: plan.value.id }, requester);
    if (!run.ok) throw new Error(`start: ${run.error}`);
  } else {
    await core.recoverRuns();
  }
  process.stdout.write('READY\n');
}

main().catch((e: unknown) => {
  process.stdout.write(`ERROR ${(e as Error).message}\n`);
  process.exit(1);
});
