/**
 * Outbox priority benchmark (issue 10 point 10): how long an approval request waits when it is queued while 100
 * `plan` replies are waiting in the same channel. The real outbox and notifier talk to the sandbox's fake Slack Web
 * API over loopback, with Slack's real per-channel spacing of 1 s per message; the clock runs `scale`× faster than
 * real time so the FIFO case does not take 100 real seconds. Delays are reported in clock (Slack) time.
 *
 * - priority: the outbox as shipped (approval requests, failure alerts and run headers first; outbox-order.ts).
 * - fifo: the same messages with their priority removed, i.e. the outbox before issue 10 point 10.
 */
import { ScaledClock } from '../src/clock';
import type { PoolConfig } from '../src/config/pools';
import type { Run, StepRecord } from '../src/domain/types';
import { silentLogger } from '../src/log';
import { DEFAULT_DIRECTORY } from '../src/sandbox/directory';
import { startFakeSlackApi, type FakeCall } from '../src/sandbox/fake-web-api';
import { SlackNotifier } from '../src/slack/notifier';
import { Outbox, type OutboxJob } from '../src/slack/outbox';
import { createWebClient } from '../src/slack/web-client';
import { markdownTable } from './harness';

export interface OutboxBenchRow {
  ordering: 'priority' | 'fifo';
  queuedBefore: number;
  /** clock ms from queueing the approval request until Slack received it */
  approvalDelayMs: number;
  /** messages Slack received before the approval request */
  sentBefore: number;
}

const TOKEN = 'xoxb-bench-outbox-0000';

function benchPool(channel: string): PoolConfig {
  return {
    name: 'pool-a',
    masterUrl: 'https://192.0.2.10',
    tls: { mode: 'verify' },
    username: 'root',
    passwordEnv: 'XS_BENCH_PASSWORD',
    target: '7.6',
    upgrade: { mode: 'manual' },
    slack: { channel, approvers: { users: ['U0MIKA'], groups: [] }, allowSelfApproval: false },
    returnPolicy: 'none',
  } as unknown as PoolConfig;
}

function gatedRun(): { run: Run; gate: StepRecord } {
  const gate: StepRecord = { id: 'xs-a2:approval', kind: 'approval', host: 'OpaqueRef:h2', hostName: 'xs-a2', state: 'awaiting-approval', attempts: 0 };
  const run = {
    id: 'pool-a-20261203-1',
    pool: 'pool-a',
    plan: { id: 'p'.repeat(64), pool: 'pool-a', target: { product: '7.6.0', platform: '2.6.0', label: 'XenServer 7.6' }, mode: 'manual', returnPolicy: 'none', createdAt: 0, prechecks: [], executable: true, hosts: [], steps: [{ id: gate.id, kind: 'approval', host: gate.host, hostName: 'xs-a2', description: 'approve the shutdown of xs-a2', expectedSeconds: 0 }], migrations: { planned: 0, lowerBound: 0 }, estimateSeconds: 0, toolsUpgrade: [] },
    planHash: 'p'.repeat(64),
    requestedBy: 'U0KENJI',
    state: 'awaiting-approval',
    steps: [gate],
    approvals: [],
    createdAt: 0,
    updatedAt: 0,
    revision: 1,
  } as unknown as Run;
  return { run, gate };
}

export async function benchOutbox(opts: { queued?: number; scale?: number; orderings?: Array<'priority' | 'fifo'> } = {}): Promise<OutboxBenchRow[]> {
  const queued = opts.queued ?? 100;
  const scale = opts.scale ?? 10;
  const rows: OutboxBenchRow[] = [];
  for (const ordering of opts.orderings ?? (['priority', 'fifo'] as const)) {
    const api = await startFakeSlackApi({ token: TOKEN, directory: DEFAULT_DIRECTORY });
    const channel = DEFAULT_DIRECTORY.channel.id;
    const clock = new ScaledClock(scale);
    const outbox = new Outbox({ client: createWebClient({ botToken: TOKEN, slackApiUrl: api.url }, silentLogger), clock, logger: silentLogger, minIntervalMs: 1000 });
    if (ordering === 'fifo') {
      const enqueue = outbox.enqueue.bind(outbox);
      outbox.enqueue = (job: OutboxJob) => enqueue({ ...job, priority: undefined, group: undefined });
    }
    const notifier = new SlackNotifier({ outbox, pools: [benchPool(channel)], clock, logger: silentLogger });
    try {
      for (let i = 0; i < queued; i++) {
        outbox.enqueue({ queue: channel, describe: `plan reply ${i}`, build: () => ({ method: 'chat.postMessage', args: { channel, text: `plan for pool-b (request ${i})` } }) });
      }
      const { run, gate } = gatedRun();
      let received: { at: number; index: number } | undefined;
      let count = 0;
      const onCall = (c: FakeCall) => {
        if (c.method !== 'chat.postMessage' || c.outcome !== 'ok') return;
        if (!received && c.args.thread_ts !== undefined) received = { at: clock.now(), index: count };
        count++;
      };
      api.on('call', onCall);
      const queuedAt = clock.now();
      await notifier.approvalNeeded(run, gate);
      await outbox.idle();
      api.off('call', onCall);
      if (!received) throw new Error('the approval request never reached Slack');
      rows.push({ ordering, queuedBefore: queued, approvalDelayMs: received.at - queuedAt, sentBefore: received.index });
    } finally {
      await outbox.stop();
      await api.stop();
    }
  }
  return rows;
}

export function formatOutboxBench(rows: OutboxBenchRow[]): string {
  return markdownTable(
    ['ordering', 'plan replies queued', 'approval request delay (Slack time)', 'messages sent before it'],
    rows.map((r) => [r.ordering, r.queuedBefore, `${(r.approvalDelayMs / 1000).toFixed(1)} s`, r.sentBefore]),
  );
}

if (require.main === module) {
  benchOutbox().then(
    (rows) => console.log(formatOutboxBench(rows)),
    (e: unknown) => {
      console.error(`bench outbox: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
