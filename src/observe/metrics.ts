/**
 * The bot's Prometheus metrics (issue 14), in one registry of this process (not prom-client's global one, so that
 * an embedding process keeps its own). Recording is a function call at the boundary where the fact is observed:
 * the XenAPI client (calls), the outbox (Slack errors, refusals), the notifier decorator (steps); gauges that
 * describe current state (runs, gates, outbox depth) are computed at scrape time by collectors registered with
 * `addCollector`, so a scrape always reports what the store and the outbox hold now.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
registry.setDefaultLabels({ app: 'xsupgrade' });

export const xenapiCalls = new Counter({
  name: 'xsupgrade_xenapi_calls_total',
  help: 'XenAPI calls sent, by method and outcome (ok, xenapi error code class, connection)',
  labelNames: ['method', 'outcome'] as const,
  registers: [registry],
});

export const xenapiLatency = new Histogram({
  name: 'xsupgrade_xenapi_call_seconds',
  help: 'XenAPI round-trip time by method (real seconds; event.from includes its server-side wait)',
  labelNames: ['method'] as const,
  buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60],
  registers: [registry],
});

export const threadDecodes = new Counter({
  name: 'xsupgrade_xenapi_thread_decodes_total',
  help: 'get_all_records replies decoded on a decode thread, by outcome (ok; unreadable: the reply was refused; thread-failed: the thread died or failed, the read is lost; abandoned: timeout, size limit or connection lost)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const masterUnreachableSeconds = new Counter({
  name: 'xsupgrade_master_unreachable_seconds_total',
  help: 'Time a pool master did not answer, counted when it answers again (R3.8)',
  labelNames: ['pool'] as const,
  registers: [registry],
});

export const masterUnreachable = new Gauge({
  name: 'xsupgrade_master_unreachable',
  help: '1 while the pool master does not answer',
  labelNames: ['pool'] as const,
  registers: [registry],
});

export const stepsFinished = new Counter({
  name: 'xsupgrade_steps_total',
  help: 'Run steps that ended, by kind and outcome (done, failed, skipped)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const stepDuration = new Histogram({
  name: 'xsupgrade_step_seconds',
  help: 'Duration of ended run steps by kind and outcome (clock seconds: simulated time in rehearsals)',
  labelNames: ['kind', 'outcome'] as const,
  buckets: [1, 10, 30, 60, 300, 900, 1800, 3600, 7200],
  registers: [registry],
});

export const slackErrors = new Counter({
  name: 'xsupgrade_slack_errors_total',
  help: 'Failed Slack Web API calls by error code (rate limits included)',
  labelNames: ['code'] as const,
  registers: [registry],
});

export const slackRefusals = new Counter({
  name: 'xsupgrade_slack_permanent_refusals_total',
  help: 'Messages Slack refused for good (not retried), by error code; each is escalated once per channel and code',
  labelNames: ['code'] as const,
  registers: [registry],
});

export const runsByState = new Gauge({ name: 'xsupgrade_runs', help: 'Runs in the state store by state', labelNames: ['state'] as const, registers: [registry] });
export const gatesWaiting = new Gauge({ name: 'xsupgrade_gates_waiting', help: 'Approval gates waiting for a human', registers: [registry] });
export const oldestGateAge = new Gauge({ name: 'xsupgrade_gate_oldest_age_seconds', help: 'Age of the oldest waiting approval gate (0 when none)', registers: [registry] });
export const outboxDepth = new Gauge({ name: 'xsupgrade_outbox_depth', help: 'Slack messages waiting in the outbox', registers: [registry] });
export const outboxOldestAge = new Gauge({ name: 'xsupgrade_outbox_oldest_age_seconds', help: 'Age of the oldest waiting Slack message (0 when none)', registers: [registry] });

/** A function run before each scrape to set the state gauges; errors are reported, not thrown. */
export type Collector = () => Promise<void> | void;
const collectors = new Set<Collector>();

/** Registers a scrape-time collector; returns its removal (call it when the source stops). */
export function addCollector(c: Collector): () => void {
  collectors.add(c);
  return () => collectors.delete(c);
}

/** The exposition text (Prometheus text format 0.0.4). A failed collector leaves its gauges as they were and is counted. */
export async function metricsText(): Promise<string> {
  for (const c of collectors) {
    try {
      await c();
    } catch {
      collectorErrors.inc();
    }
  }
  return registry.metrics();
}

/** Which replica holds which pool's run lease (issue 16): 1 while the lease is live, 0 once it expired unrenewed. */
export const poolLease = new Gauge({ name: 'xsupgrade_pool_lease', help: "Pool leases by holder replica: 1 live, 0 expired (another replica takes over)", labelNames: ['pool', 'replica'] as const, registers: [registry] });

/** A collector that sets xsupgrade_pool_lease from the store's lease list (every replica reports the same shared rows). */
export function leaseCollector(list: () => Promise<Array<{ pool: string; replica: string; live: boolean }>>): Collector {
  return async () => {
    const holders = await list();
    poolLease.reset();
    for (const h of holders) poolLease.set({ pool: h.pool, replica: h.replica }, h.live ? 1 : 0);
  };
}

export const collectorErrors = new Counter({ name: 'xsupgrade_metrics_collector_errors_total', help: 'Scrape-time collectors that failed', registers: [registry] });

/** The outcome label of a XenAPI call: ok, the error code (bounded: codes are a fixed set), or the transport failure. */
export function xenapiOutcome(err: unknown): string {
  if (err === undefined) return 'ok';
  const e = err as { code?: unknown; name?: unknown };
  if (e?.name === 'XenApiConnectionError') return 'connection';
  if (e?.name === 'XenApiTlsError') return 'tls';
  if (e?.name === 'XenApiError' && typeof e.code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(e.code)) return e.code;
  return 'other';
}

export const CONTENT_TYPE = registry.contentType;
