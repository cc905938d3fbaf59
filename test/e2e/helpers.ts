/**
 * What the browser tests share: start `node dist/src/cli.js start` as a new user does (no Slack tokens, no pools
 * file), drive Debian's chromium, press message buttons (confirm dialogs included), stop the sandbox.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BrowserContext, chromium, Locator, Page } from 'playwright-core';

const ROOT = resolve(__dirname, '../..');
export const SHOTS = join(ROOT, 'docs/screenshots');

/** A host gate's Approve button: "Approve shutdown" (manual mode) or "Approve reboot" (automatic, update) */
export const APPROVE_GATE = /^Approve (shutdown|reboot)$/;
const CHROMIUM = '/usr/bin/chromium';
/** package.json's bin, built by the jest global setup (test/helpers/global-setup.js) */
const CLI = join(ROOT, 'dist/src/cli.js');

export function checkPrerequisites(): void {
  if (!existsSync(CLI)) throw new Error('dist/src/cli.js missing: run `npm run build` first');
  if (!existsSync(CHROMIUM)) throw new Error('Debian chromium missing: apt-get install -y chromium');
  mkdirSync(SHOTS, { recursive: true });
}

/** Start the sandbox and wait for the page URL in its start-up summary. */
export function startSandbox(stateDir: string): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, XSUPGRADE_SANDBOX_PORT: '0', XSUPGRADE_STATE: join(stateDir, 'state.sqlite'), XSUPGRADE_DEMO_SCALE: '240' };
  for (const k of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN', 'XSUPGRADE_POOLS']) delete env[k];
  const proc = spawn(process.execPath, [CLI, 'start'], { cwd: stateDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no sandbox URL within 60 s; output:\n${out}`)), 60_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`npm start exited with ${code}:\n${out}`));
    });
    proc.stdout!.on('data', () => {
      const m = /Sandbox page \(open this\):\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m && out.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        ok({ proc, url: m[1], output: () => out });
      }
    });
  });
}


/** Click a message button; accept its confirm dialog if it has one (the page shows it before sending). */
export async function press(page: Page, button: Locator): Promise<void> {
  const hasConfirm = (await button.getAttribute('data-confirm')) !== null;
  await button.click();
  if (hasConfirm) {
    await page.locator('#confirm-ok').click();
    await page.locator('#confirm').waitFor({ state: 'hidden' });
  }
}

/**
 * Scrolls a message into view for a screenshot. The page re-renders a message list whole when any message in it
 * changes (app.js renderMessages), so the element found may be replaced before the scroll: it is looked up again.
 */
export async function scrollIntoView(message: Locator): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await message.scrollIntoViewIfNeeded({ timeout: 10_000 });
      return;
    } catch (e) {
      if (attempt === 5 || !/not attached to the DOM/.test((e as Error).message)) throw e;
    }
  }
}

/** SIGTERM, then SIGKILL after 10 s. */
export async function stopSandbox(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((ok) => proc.once('exit', ok));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((ok) => setTimeout(ok, 10_000))]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

/** Headless Debian chromium on a fresh profile directory. */
export function launchChromium(userData: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
