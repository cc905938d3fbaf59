/**
 * Recovery without a dead end, in the sandbox page (issue 11 point 10): while xs-a2 waits for its approval it loses
 * power and is switched on again (side panel), so xapi enables it again at boot. The upgrade then refuses to take an
 * enabled host down; the alert's first suggestion is Retry, and Retry re-disables and re-evacuates xs-a2 and the run
 * finishes. Same start-up as sandbox.test.ts (`node dist/src/cli.js start`, Debian's chromium); screenshots go to
 * docs/screenshots/retry-*.png.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { APPROVE_GATE, checkPrerequisites, launchChromium, press, scrollIntoView, SHOTS, startSandbox, stopSandbox } from './helpers';

const REQUESTER = 'U0KENJI';
const APPROVER = 'U0MIKA';
const HOST = 'xs-a2';

jest.setTimeout(300_000);

describe('sandbox: a powered-off host retried to success', () => {
  let proc: ChildProcess | undefined;
  let browser: BrowserContext | undefined;
  let stateDir: string;
  let userData: string;

  beforeAll(() => {
    checkPrerequisites();
    stateDir = mkdtempSync(join(tmpdir(), 'xsupgrade-e2e-retry-'));
    userData = mkdtempSync(join(tmpdir(), 'xsupgrade-chromium-'));
  });

  afterAll(async () => {
    await browser?.close();
    await stopSandbox(proc);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(userData, { recursive: true, force: true });
  });

  it('power off and on at the gate → the upgrade refuses the re-enabled host → Retry (offered first) re-disables it and the run finishes', async () => {
    const started = await startSandbox(stateDir);
    proc = started.proc;
    browser = await launchChromium(userData);
    const page = browser.pages()[0] ?? (await browser.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${started.url}?user=${REQUESTER}`);
    const channel = page.locator('#messages');
    const thread = page.locator('#thread-messages');
    const panelHost = page.locator(`.pool[data-pool="pool-a"] .host[data-host="${HOST}"]`);

    await page.locator('#composer-input').fill('/xsupgrade plan pool-a');
    await page.locator('#composer-input').press('Enter');
    const startButton = channel.getByRole('button', { name: 'Start upgrade' });
    await startButton.waitFor({ timeout: 60_000 });
    await press(page, startButton);
    const runHeader = channel.locator('[data-testid=message]', { hasText: 'pool-a-' }).last();
    await runHeader.waitFor({ timeout: 60_000 });
    await page.locator(`[data-user="${APPROVER}"]`).click();
    await page.locator(`body[data-user="${APPROVER}"]`).waitFor();

    let cycled = false;
    let retried = false;
    const deadline = Date.now() + 240_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`run did not finish; cycled=${cycled} retried=${retried}\n${started.output().slice(-3000)}`);
      // the power cut also halted the VM that was still on HOST (local storage: it is stopped only after the gate,
      // issue 10.7), so the truthful end may be "done with exceptions" (issue 11): either ends the loop
      const ended = /done (with exceptions )?in/;
      if ((await channel.locator('[data-testid=message]', { hasText: ended }).count()) + (await thread.locator('[data-testid=message]', { hasText: ended }).count()) > 0) break;
      const openThread = runHeader.locator('[data-open-thread]');
      if ((await page.locator('#thread').isHidden()) && (await openThread.count()) > 0) await openThread.click();

      const alerts = thread.locator('[data-testid=message]').filter({ hasText: HOST }).filter({ has: page.getByRole('button', { name: 'Retry', exact: true }) });
      if (cycled && !retried && (await alerts.count()) > 0) {
        const alert = alerts.last();
        const text = (await alert.textContent()) ?? '';
        expect(text).toMatch(/still enabled/);
        // the least destructive way first: Retry before reinstall + Forget & rejoin
        expect(text.indexOf('Retry (R4.3)')).toBeGreaterThan(-1);
        expect(text.indexOf('Retry (R4.3)')).toBeLessThan(text.indexOf('reinstall XenServer'));
        await scrollIntoView(alert);
        await page.screenshot({ path: join(SHOTS, 'retry-alert.png') });
        await press(page, alert.getByRole('button', { name: 'Retry', exact: true }));
        retried = true;
        continue;
      }
      const requests = thread.locator('[data-testid=message]').filter({ has: page.getByRole('button', { name: APPROVE_GATE }) });
      if ((await requests.count()) > 0) {
        const request = requests.first();
        if (!cycled && new RegExp(`(shut down|reboot) ${HOST} `).test((await request.textContent()) ?? '')) {
          // the machine loses power while it waits for its gate, and is switched on again: it boots enabled
          await panelHost.locator('[data-sim-action="power-off"]').click();
          await panelHost.locator('.power-off').waitFor({ timeout: 30_000 });
          await panelHost.locator('[data-sim-action="power-on"]').click();
          await panelHost.locator('.power-on').waitFor({ timeout: 30_000 });
          await panelHost.locator('.tag', { hasText: 'disabled' }).waitFor({ state: 'detached', timeout: 30_000 });
          cycled = true;
        }
        await press(page, request.getByRole('button', { name: APPROVE_GATE }));
        await thread.getByRole('button', { name: APPROVE_GATE }).first().waitFor({ state: 'detached', timeout: 30_000 });
        continue;
      }
      await page.waitForTimeout(500);
    }
    expect(cycled).toBe(true);
    expect(retried).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'retry-done.png') });
    const pools = (await (await fetch(new URL('/sim/pools', started.url))).json()) as Array<{ name: string; hosts: Array<{ productVersion: string }> }>;
    const poolA = (Array.isArray(pools) ? pools : (pools as { pools: typeof pools }).pools).find((p) => p.name === 'pool-a')!;
    expect(poolA.hosts.map((h) => h.productVersion.split('.').slice(0, 2).join('.'))).toEqual(['7.6', '7.6', '7.6']);
    expect(pageErrors).toEqual([]);
  });
});
