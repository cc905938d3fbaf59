import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli/main';
import { parseCommandArgs, UsageError } from '../../src/cli/args';
import { SPECS } from '../../src/cli/specs';

const ROOT = resolve(__dirname, '../..');
const ENTRY = join(ROOT, 'dist/src/cli.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** main() with console output captured and the environment replaced for the call. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const saved = process.env;
  process.env = { PATH: saved.PATH, ...env };
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.env = saved;
    log.mockRestore();
    error.mockRestore();
  }
}

describe('xsupgrade command line (node:util parseArgs, issue 14)', () => {
  it.each(Object.keys(SPECS))('%s --help and -h print its usage and every option, exit 0, and run nothing', async (name) => {
    const spec = SPECS[name as keyof typeof SPECS];
    for (const flag of ['--help', '-h']) {
      const r = await cli([name, flag]);
      expect(r.code).toBe(0);
      expect(r.err).toBe('');
      expect(r.out.split('\n')[0]).toBe(`usage: xsupgrade ${name}${spec.usage ? ` ${spec.usage}` : ''}`);
      for (const option of Object.keys((spec as { options?: object }).options ?? {})) expect(r.out).toContain(`--${option}`);
    }
  });

  it('--version prints the package version; help <command> is the command\'s help', async () => {
    expect(await cli(['--version'])).toEqual({ code: 0, out: `xsupgrade ${VERSION}`, err: '' });
    const help = await cli(['help', 'rehearse']);
    expect(help.out).toContain('usage: xsupgrade rehearse');
    expect((await cli([])).code).toBe(1);
  });

  it.each([
    [['run', '--bogus', 'pool-a'], 'xsupgrade run: unknown option --bogus'],
    [['run'], 'xsupgrade run: which pool? (xsupgrade run <pool>)'],
    [['abort', 'a', 'b'], 'xsupgrade abort: unexpected "b"'],
    [['status', '--json'], 'xsupgrade status: unknown option --json'],
    [['plan', 'pool-a', '--mode=fast'], 'xsupgrade plan: --mode must be automatic, manual or update, not "fast"'],
    [['rehearse', 'pool-a', '--scale'], "xsupgrade rehearse: Option '--scale <value>' argument missing"],
    [['resume', 'r1', '--action', 'reboot'], 'xsupgrade resume: --action must be retry, forget-rejoin, rollback-master, skip-host, skip-update or abort, not "reboot"'],
    [['sim', '--time-scale', '2'], 'xsupgrade sim: --scenario is required'],
    [['serve', 'now'], 'xsupgrade serve: unexpected "now" (serve takes no arguments)'],
  ])('bad arguments %j: one line naming the problem, the usage line, exit 1', async (argv, message) => {
    const r = await cli(argv as string[], { XSUPGRADE_STATE: ':memory:' });
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    const [first, second] = r.err.split('\n');
    expect(first).toBe(message);
    expect(second).toBe(`usage: xsupgrade ${argv[0]} ${SPECS[argv[0] as keyof typeof SPECS].usage}`.trimEnd());
  });

  it('accepts --flag=value and short flags', () => {
    expect(parseCommandArgs(SPECS.plan, ['--target=7.6', 'pool-a', '--json'])).toEqual({ positional: ['pool-a'], opts: { target: '7.6', json: true }, help: false });
    expect(parseCommandArgs(SPECS.run, ['-y', 'pool-a']).opts).toEqual({ yes: true });
    expect(() => parseCommandArgs(SPECS.plan, ['--target='])).toThrow(UsageError);
  });

  it('an invalid variable stops every command before it does anything, naming the variable', async () => {
    const r = await cli(['status'], { XSUPGRADE_POLL_MS: '-5', XSUPGRADE_STATE: ':memory:' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('XSUPGRADE_POLL_MS must be a whole number of milliseconds');
  });
});

describe('.env loading (the compiled CLI)', () => {
  const run = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [ENTRY, ...args], { cwd, env: { PATH: process.env.PATH, HOME: cwd, ...env }, encoding: 'utf8', timeout: 60_000 });

  it('reads ./.env when present: its settings are used, and a variable set in the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-dotenv-'));
    writeFileSync(join(dir, '.env'), '# comment\nXSUPGRADE_STATE=./from-dotenv.sqlite\nXSUPGRADE_LOG_LEVEL="warn"\n', { mode: 0o600 });
    const r = run(dir, ['status']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('no runs yet');
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'from-dotenv.sqlite'))).toBe(true);

    const other = run(dir, ['status'], { XSUPGRADE_STATE: join(dir, 'from-env.sqlite') });
    expect(other.status).toBe(0);
    expect(existsSync(join(dir, 'from-env.sqlite'))).toBe(true);
  });

  it('a bad value in .env is refused with the variable named; a world-readable .env is pointed out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-dotenv-'));
    writeFileSync(join(dir, '.env'), 'XSUPGRADE_POLL_MS=-5\n');
    chmodSync(join(dir, '.env'), 0o644);
    const r = run(dir, ['status']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('can be read by other users (mode 644)');
    expect(r.stderr).toContain('XSUPGRADE_POLL_MS must be a whole number of milliseconds');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('XSUPGRADE_ENV_FILE names another file; a missing one is an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-dotenv-'));
    writeFileSync(join(dir, 'bot.env'), `XSUPGRADE_STATE=${join(dir, 'named.sqlite')}\n`, { mode: 0o600 });
    expect(run(dir, ['status'], { XSUPGRADE_ENV_FILE: 'bot.env' }).status).toBe(0);
    expect(existsSync(join(dir, 'named.sqlite'))).toBe(true);
    const missing = run(dir, ['status'], { XSUPGRADE_ENV_FILE: 'nope.env' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('nope.env, which does not exist');
  });
});
