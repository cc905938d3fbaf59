import { request } from 'node:http';
import { rehearse } from '../../src/core/rehearsal';
import { Readiness, startObserveServer } from '../../src/observe/health';
import { metricsText } from '../../src/observe/metrics';
import { loadScenario } from '../../src/sim';
import { parsePrometheusText, total } from './prom-text';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics', () => {
  it('parses as Prometheus text, and its counters move during a rehearsal (XenAPI calls, steps, durations)', async () => {
    const before = parsePrometheusText(await metricsText()).samples;
    const summary = await rehearse({ scenario: loadScenario('manifests/demo/pool-a.yaml'), mode: 'automatic', scale: 4000 });
    expect(summary.run.state).toBe('done');
    const after = parsePrometheusText(await metricsText());
    expect(after.types).toMatchObject({
      xsupgrade_xenapi_calls_total: 'counter',
      xsupgrade_xenapi_call_seconds: 'histogram',
      xsupgrade_steps_total: 'counter',
      xsupgrade_step_seconds: 'histogram',
      xsupgrade_slack_errors_total: 'counter',
      xsupgrade_runs: 'gauge',
      xsupgrade_gates_waiting: 'gauge',
      xsupgrade_outbox_depth: 'gauge',
      xsupgrade_master_unreachable_seconds_total: 'counter',
    });
    const s = after.samples;
    expect(total(s, 'xsupgrade_xenapi_calls_total', { method: 'host.disable', outcome: 'ok' }) - total(before, 'xsupgrade_xenapi_calls_total', { method: 'host.disable', outcome: 'ok' })).toBe(3);
    expect(total(s, 'xsupgrade_xenapi_call_seconds_count', { method: 'host.disable' })).toBeGreaterThanOrEqual(3);
    // every step of the run ended done and was counted once, with its duration
    const stepsDone = summary.run.steps.filter((x) => x.state === 'done').length;
    expect(total(s, 'xsupgrade_steps_total', { outcome: 'done' }) - total(before, 'xsupgrade_steps_total', { outcome: 'done' })).toBe(stepsDone);
    expect(total(s, 'xsupgrade_step_seconds_count', { kind: 'upgrade', outcome: 'done' }) - total(before, 'xsupgrade_step_seconds_count', { kind: 'upgrade', outcome: 'done' })).toBe(3);
    // the master's reboot left it unanswering for a while (R3.8)
    expect(total(s, 'xsupgrade_master_unreachable_seconds_total', { pool: 'pool-a' })).toBeGreaterThan(total(before, 'xsupgrade_master_unreachable_seconds_total', { pool: 'pool-a' }));
  }, 120_000);

  it('the reader refuses text that is not Prometheus exposition format', () => {
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="1"} one\n')).toThrow(/not Prometheus text/);
    expect(() => parsePrometheusText('y 1\n')).toThrow(/before its TYPE/);
  });
});

describe('/healthz and /readyz (Socket Mode listener)', () => {
  it('healthz answers while a dependency is down; readyz names the failing check and why; metrics is text', async () => {
    let slackUp = false;
    const readiness = new Readiness(
      [
        { name: 'store', check: async () => ({ ok: true, detail: 'open' }) },
        { name: 'slack', check: async () => (slackUp ? { ok: true } : { ok: false, detail: 'Slack: invalid_auth' }) },
        { name: 'slow', check: () => new Promise(() => undefined) },
      ],
      200,
    );
    const server = await startObserveServer({ host: '127.0.0.1', port: 0, readiness });
    try {
      expect(await get(server.port, '/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
      const notReady = await get(server.port, '/readyz');
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body)).toEqual({
        status: 'not ready',
        checks: [
          { name: 'store', ok: true, detail: 'open' },
          { name: 'slack', ok: false, detail: 'Slack: invalid_auth' },
          { name: 'slow', ok: false, detail: 'no answer within 200 ms' },
        ],
      });
      slackUp = true;
      readiness['checks'].pop();
      expect((await get(server.port, '/readyz')).status).toBe(200);
      const metrics = await get(server.port, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.type).toContain('text/plain');
      expect(() => parsePrometheusText(metrics.body)).not.toThrow();
      expect((await get(server.port, '/slack/events')).status).toBe(404);
      expect((await get(server.port, '/healthz', 'POST')).status).toBe(405);
    } finally {
      await server.stop();
    }
  });

  it('a check name is registered once (the store backend and the app add theirs)', () => {
    const r = new Readiness([{ name: 'store', check: async () => ({ ok: true }) }]);
    expect(() => r.add({ name: 'store', check: async () => ({ ok: true }) })).toThrow(/already registered/);
    expect(r.names()).toEqual(['store']);
  });
});

describe('xsupgrade_pool_lease (issue 16: which replica holds which pool)', () => {
  it('reports each lease holder: 1 while its lease is live, 0 once it expired; a released lease disappears', async () => {
    const { addCollector, leaseCollector } = await import('../../src/observe/metrics');
    let holders = [
      { pool: 'pool-a', replica: 'replica-1', live: true },
      { pool: 'pool-b', replica: 'replica-2', live: false },
    ];
    const remove = addCollector(leaseCollector(async () => holders));
    try {
      const lease = (text: string) => parsePrometheusText(text).samples.filter((s) => s.name === 'xsupgrade_pool_lease');
      expect(lease(await metricsText())).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ labels: expect.objectContaining({ pool: 'pool-a', replica: 'replica-1' }), value: 1 }),
          expect.objectContaining({ labels: expect.objectContaining({ pool: 'pool-b', replica: 'replica-2' }), value: 0 }),
        ]),
      );
      holders = [{ pool: 'pool-a', replica: 'replica-2', live: true }];
      const after = lease(await metricsText());
      expect(after).toHaveLength(1);
      expect(after[0]).toMatchObject({ labels: { pool: 'pool-a', replica: 'replica-2' }, value: 1 }); // toMatchObject: a subset of the labels
    } finally {
      remove();
    }
  });
});
