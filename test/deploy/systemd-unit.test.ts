/**
 * The bot under the system call filter of the systemd unit it ships (deploy/xsupgrade.service), without systemd:
 * the unit's SystemCallFilter= lines are worked out as systemd does (unit-seccomp.ts, groups expanded by the
 * machine's systemd-analyze) and applied with libseccomp (seccomp-exec.py) to the compiled CLI.
 *
 * Found this way: the unit refused @resources, and a decode thread lowers its own priority (setpriority,
 * src/xenapi/decode-worker.ts), so the first reply large enough for a thread killed the bot with SIGSYS, and
 * Restart=on-failure started it into the same death at its next read of the pool.
 *
 * Needs systemd-analyze and Debian's python3-seccomp (.ci/run installs it). Without them the tests are skipped with
 * the reason printed, unless XSUPGRADE_SANDBOX_REQUIRED=1, where they fail.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { syntheticScenario } from '../../bench/plan';
import { startFakeSlackApi, type FakeSlackApi } from '../../src/sandbox/fake-web-api';
import { parseScenario, startSimulator, type SimPool } from '../../src/sim';
import { expandGroup, unitSeccompSpec, type SeccompSpec } from './unit-seccomp';

const ROOT = resolve(__dirname, '../..');
const UNIT = join(ROOT, 'deploy/xsupgrade.service');
const ENTRY = join(ROOT, 'dist/src/cli.js');
const EXEC = join(__dirname, 'seccomp-exec.py');
const PYTHON = '/usr/bin/python3';
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
/** the Node.js the bot runs on under the filter (.ci/run also gives Node 24's, the image's runtime) */
const NODE = process.env.XSUPGRADE_UNIT_NODE || process.execPath;
/** uid and gid of nobody and nogroup on Debian: the bot runs unprivileged, as under the unit */
const NOBODY = 65534;

function missingTool(): string | undefined {
  if (!existsSync(SYSTEMD_ANALYZE)) return `no ${SYSTEMD_ANALYZE} (Debian package systemd)`;
  if (spawnSync(PYTHON, ['-c', 'import seccomp'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) return `${PYTHON} cannot import seccomp (Debian package python3-seccomp)`;
  if (!existsSync(ENTRY)) return `no ${ENTRY} (npm run build)`;
  return undefined;
}

/** Why nobody cannot run the bot here (the checkout and the Node.js binary must be readable by others), if it cannot. */
function unreadableByNobody(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const check = `import os; os.setgid(${NOBODY}); os.setuid(${NOBODY}); open(${JSON.stringify(ENTRY)}).close(); assert os.access(${JSON.stringify(NODE)}, os.X_OK), "cannot run ${NODE}"`;
  const r = spawnSync(PYTHON, ['-c', check], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? undefined : `nobody (uid ${NOBODY}) cannot read the bot or run its Node.js: ${r.stderr.trim().split('\n').pop()}`;
}

const missing = missingTool();
if (missing) {
  if (process.env.XSUPGRADE_SANDBOX_REQUIRED === '1') throw new Error(`XSUPGRADE_SANDBOX_REQUIRED=1 but ${missing}`);
  console.log(`SKIPPED the systemd unit's system call filter tests: ${missing}`);
}
const describeWithTools = missing ? describe.skip : describe;

describeWithTools("the systemd unit's system call filter (deploy/xsupgrade.service)", () => {
  let dir: string;
  let spec: SeccompSpec;
  let sim: SimPool | undefined;
  let slack: FakeSlackApi | undefined;

  /** run as root, the bot runs as nobody (below) unless nobody cannot read it */
  let asRoot = false;

  beforeAll(() => {
    const found = unitSeccompSpec(UNIT, SYSTEMD_ANALYZE);
    if (!found) throw new Error(`${UNIT} has no SystemCallFilter=`);
    spec = found;
    const unreadable = unreadableByNobody();
    if (unreadable) {
      // Root is what the unit never runs the bot as, and SQLite chowns its journal only as root (@chown, refused by
      // the unit): allowed here, and only here.
      console.log(`the bot runs as root under the unit's filter with @chown allowed: ${unreadable}`);
      asRoot = true;
      spec = { ...spec, syscalls: [...spec.syscalls, ...expandGroup('@chown', SYSTEMD_ANALYZE)] };
    }
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xsupgrade-unit-'));
    // the unit runs the bot as a user of its own (DynamicUser=yes), never as root: so does this test, as nobody
    writeFileSync(join(dir, 'filter.json'), JSON.stringify({ ...spec, user: asRoot ? null : [NOBODY, NOBODY] }));
    if (process.getuid?.() === 0 && !asRoot) chownSync(dir, NOBODY, NOBODY);
  });
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
    await slack?.stop();
    slack = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A command under the unit's filter, in the state directory, with only the environment it is given. Asynchronous:
   * the simulator it reads answers from this process.
   */
  const underUnit = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(
        PYTHON,
        [EXEC, join(dir, 'filter.json'), NODE, ...args],
        { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, NODE_ENV: 'production', ...env }, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
        (_e, stdout, stderr) => done({ status: child.exitCode, signal: child.signalCode, stdout, stderr }),
      );
    });

  /** The pools file: one 16-host × 50-VM simulated pool, whose large get_all_records replies go to decode threads. */
  const writePools = (pool: SimPool): void =>
    writeFileSync(
      join(dir, 'pools.yaml'),
      YAML.stringify({
        pools: [
          {
            name: 'pool-16',
            masterUrl: pool.masterUrl,
            username: pool.username,
            passwordEnv: 'XS_UNIT_PASSWORD',
            tls: { mode: 'insecure-http' },
            target: '7.6',
            upgrade: { mode: 'manual' },
            slack: { channel: 'C0XSUPGRADE', approvers: { users: ['U0MIKA'] } },
          },
        ],
      }),
    );
  const pool16 = () => startSimulator(parseScenario(syntheticScenario(16, 50), 'unit-16'), { http: true });

  it('refuses what the unit refuses: a call it leaves out kills node (SIGSYS), as systemd would', async () => {
    expect(spec.mode).toBe('allow');
    expect(spec.errno).toBeNull();
    // setgroups is in @privileged, which the unit takes out of @system-service
    expect(spec.syscalls).not.toContain('setgroups');
    const r = await underUnit(['-e', 'process.setgroups([process.getgid()]); console.log("still alive")']);
    expect(r.signal).toBe('SIGSYS');
    expect(r.stdout).not.toContain('still alive');
  });

  it('lets `xsupgrade plan` read a 16-host pool through its decode threads and plan it', async () => {
    sim = await pool16();
    writePools(sim);
    const r = await underUnit([ENTRY, 'plan', 'pool-16', '--json'], {
      XSUPGRADE_POOLS: join(dir, 'pools.yaml'),
      XSUPGRADE_STATE: join(dir, 'state.sqlite'),
      XSUPGRADE_BACKUPS: join(dir, 'backups'),
      XS_UNIT_PASSWORD: sim.password,
    });
    expect({ signal: r.signal, ready: r.status === 0 || r.status === 2, stderr: r.stderr }).toEqual({ signal: null, ready: true, stderr: r.stderr }); // a plan, ready or blocked
    const plan = JSON.parse(r.stdout) as { pool: string; hosts: unknown[] };
    expect(plan.pool).toBe('pool-16');
    expect(plan.hosts).toHaveLength(16);
    // it read the pool: its large replies went to decode threads, where the unit used to kill it (setpriority)
    expect(sim.stats().calls['VM.get_all_records']).toBeGreaterThan(0);
  });
  it('lets `xsupgrade serve` (the unit\'s ExecStart) answer a signed `/xsupgrade plan`, post the plan, and stop on SIGTERM', async () => {
    sim = await pool16();
    writePools(sim);
    const token = `xoxb-unit-${randomBytes(8).toString('hex')}`;
    const secret = randomBytes(16).toString('hex');
    slack = await startFakeSlackApi({ token });
    const child = spawn(PYTHON, [EXEC, join(dir, 'filter.json'), NODE, ENTRY, 'serve'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        NODE_ENV: 'production',
        SLACK_BOT_TOKEN: token,
        SLACK_SIGNING_SECRET: secret,
        SLACK_API_URL: slack.url,
        XSUPGRADE_HOST: '127.0.0.1',
        XSUPGRADE_PORT: '0',
        XSUPGRADE_POOLS: join(dir, 'pools.yaml'),
        XSUPGRADE_STATE: join(dir, 'state.sqlite'),
        XSUPGRADE_BACKUPS: join(dir, 'backups'),
        XS_UNIT_PASSWORD: sim.password,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const ended = (): string | undefined => (child.exitCode !== null || child.signalCode !== null ? `exit code ${child.exitCode}, signal ${child.signalCode}` : undefined);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    try {
      const port = await waitFor(() => /ready \(HTTP on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1], ended, () => out);
      const body = new URLSearchParams({ command: '/xsupgrade', text: 'plan pool-16', user_id: 'U0KENJI', channel_id: 'C0XSUPGRADE', team_id: 'T0SANDBOX', trigger_id: '1.2.3' }).toString();
      const ts = Math.floor(Date.now() / 1000);
      const signature = `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
      const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature },
        body,
      });
      expect(res.status).toBe(200);
      // the plan of the 16 hosts, read through the decode threads, reaches the channel
      await waitFor(
        () => slack!.messages('C0XSUPGRADE').find((m) => JSON.stringify(m.blocks ?? m.text).includes('xs-16')),
        ended,
        () => out,
      );
      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** Polls `found` until it gives a value; fails at once when `ended` says how the process under test ended, with its output. */
async function waitFor<T>(found: () => T | undefined, ended: () => string | undefined, output: () => string, ms = 90_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = found();
    if (v !== undefined) return v;
    const text = output();
    const end = ended();
    if (end) throw new Error(`the bot ended (${end}) before it was expected to:\n${text}`);
    if (Date.now() > until) throw new Error(`waited ${ms} ms in vain; the bot said:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
