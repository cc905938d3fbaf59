import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServeConfig, startBot } from '../../src/cli/serve';
import { startFakeSlackApi } from '../../src/sandbox/fake-web-api';
import { InstantClock } from '../slack/helpers/clock';
import { BOT_TOKEN, SIGNING_SECRET } from '../slack/helpers/harness';
import { captureLogs } from '../slack/helpers/logs';
import { parsePrometheusText } from './prom-text';

const POOLS = `
pools:
  - name: pool-a
    masterUrl: http://127.0.0.2:34567
    username: root
    passwordEnv: XS_HEALTH_TEST_PASSWORD
    tls: { mode: insecure-http }
    target: "7.6"
    upgrade: { mode: manual }
    slack:
      channel: C0XSUPGRADE
      approvers: { users: [U0MIKA] }
`;

describe('xsupgrade serve in HTTP mode: /healthz, /readyz, /metrics beside /slack/events', () => {
  it('answers on the bot\'s loopback port; readyz checks the store, the pools file and Slack, and turns 503 when the pools file breaks', async () => {
    const api = await startFakeSlackApi({ token: BOT_TOKEN });
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-health-'));
    const poolsFile = join(dir, 'pools.yaml');
    writeFileSync(poolsFile, POOLS);
    const env = {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      XSUPGRADE_PORT: '0',
      SLACK_API_URL: api.url,
      XSUPGRADE_POOLS: poolsFile,
      XSUPGRADE_STATE: ':memory:',
      XS_HEALTH_TEST_PASSWORD: 'health-test-password',
    };
    const loaded = loadServeConfig(env);
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const logs = captureLogs('info');
    const bot = await startBot(loaded.config, { logger: logs.logger, clock: new InstantClock(), env });
    const url = (p: string) => `http://127.0.0.1:${bot.port}${p}`;
    try {
      expect(await (await fetch(url('/healthz'))).json()).toEqual({ status: 'ok' });
      const ready = await fetch(url('/readyz'));
      const body = (await ready.json()) as { status: string; checks: Array<{ name: string; ok: boolean; detail?: string }> };
      expect(ready.status).toBe(200);
      expect(body.checks.map((c) => [c.name, c.ok])).toEqual([
        ['store', true],
        ['pools-file', true],
        ['slack', true],
      ]);
      const metrics = await fetch(url('/metrics'));
      const parsed = parsePrometheusText(await metrics.text());
      expect(parsed.types.xsupgrade_outbox_depth).toBe('gauge');
      expect(parsed.samples.find((s) => s.name === 'xsupgrade_runs' && s.labels.state === 'running')?.value).toBe(0);
      // the pools file is broken on disk: not ready, and the answer says which field, not a secret
      writeFileSync(poolsFile, POOLS.replace('channel: C0XSUPGRADE', 'channel: ""'));
      const broken = await fetch(url('/readyz'));
      expect(broken.status).toBe(503);
      const text = await broken.text();
      expect(text).toContain('slack.channel');
      expect(text).not.toContain('health-test-password');
      expect((await fetch(url('/readyz'), { method: 'POST' })).status).not.toBe(200);
    } finally {
      await bot.stop();
      await api.stop();
    }
  });
});
