/**
 * `npm start` with no configuration, without a browser: the sandbox stack (demo pools on the simulator, fake Slack
 * Web API, the real bot and the page's server) answers `/xsupgrade plan pool-a` with the plan, through the same
 * signed HTTP endpoint Slack would use. The browser walk-through is in test/e2e/.
 */
import { startSandboxStack, type StartedStack } from '../../src/cli/start';
import { silentLogger } from '../../src/log';

describe('npm start with no configuration', () => {
  let stack: StartedStack;
  const lines: string[] = [];

  beforeAll(async () => {
    const env = { XSUPGRADE_SANDBOX_PORT: '0', XSUPGRADE_DEMO_SCALE: '600' };
    stack = await startSandboxStack(env, silentLogger, (l) => lines.push(l));
  });
  afterAll(() => stack?.stop());

  it('says what runs where and how to switch to a real workspace', () => {
    const text = lines.join('\n');
    expect(text).toContain(stack.sandboxUrl);
    expect(text).toMatch(/pool-a\s+master https:\/\/127\./); // HTTPS, each host with its own certificate (pinned in the generated pools file)
    expect(text).toMatch(/SLACK_BOT_TOKEN=xoxb-/);
    expect(text).toMatch(/XSUPGRADE_POOLS=/);
    expect(text).not.toMatch(/xenroot-demo/); // the simulated pools' password is never printed
  });

  it('answers /xsupgrade plan pool-a with the plan in the channel', async () => {
    const res = await fetch(new URL('/api/command', stack.sandboxUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'U0KENJI', text: '/xsupgrade plan pool-a' }),
    });
    expect(res.status).toBe(200);
    let html = '';
    for (let i = 0; i < 200 && !/Start upgrade/.test(html); i++) {
      const state = (await (await fetch(new URL('/api/state?user=U0KENJI', stack.sandboxUrl))).json()) as { messages: unknown[] };
      html = JSON.stringify(state.messages);
      if (!/Start upgrade/.test(html)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(html).toMatch(/pool-a/);
    expect(html).toMatch(/R2\.3/); // the ISO in a CD drive must be ejected (demo pool-a has one)
    expect(html).toMatch(/Start upgrade/);
  });
});
