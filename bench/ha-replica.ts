/**
 * One bot replica for the failover benchmark (bench/ha.ts): the real core and runner on the shared PostgreSQL
 * store, following other replicas (take-over of expired leases, change feed), approving gates itself.
 * Started as a child process by the benchmark, which SIGKILLs it.
 *
 * Gates: the replica that reaches one approves it (its approvalNeeded), and every replica also approves any gate it
 * finds open in the store — what an approver clicking the message in Slack does, whichever replica the click lands
 * on. Without that a holder killed between posting a gate and approving it would leave the run waiting forever.
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
  const approveOpenGates = async (): Promise<void> => {
    for (const run of await store.listRuns({ pool: pool.name, states: ['awaiting-approval'] })) {
      const gate = run.steps.find((st) => st.state === 'awaiting-approval');
      // two replicas approving at once: one takes effect, the other is refused (a compare-and-set in the store)
      if (gate) await core!.approve(run.id, gate.id, approver);
    }
  };
  const timer = setInterval(() => void approveOpenGates().catch(() => undefined), 250);
  timer.unref();
  process.stdout.write('READY\n');
}

main().catch((e: unknown) => {
  process.stdout.write(`ERROR ${(e as Error).message}\n`);
  process.exit(1);
});
