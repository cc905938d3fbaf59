/**
 * `xsupgrade rehearse` in every mode on every demo pool, its bad arguments, and one mode inference shared with
 * `xsupgrade plan --scenario` (issue 11 points 13 and 14). In-process, on the simulator.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { run as plan } from '../../src/cli/plan';
import { run as rehearse } from '../../src/cli/rehearse';

async function captured<T>(fn: () => Promise<T>): Promise<{ result: T | Error; text: string }> {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    const result = await fn().catch((e: unknown) => e as Error);
    return { result, text: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

async function planText(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  const err: string[] = [];
  const code = await plan(args, { out: (s) => (out += s), err: (s) => err.push(s), env: {} });
  return { code, out, err: err.join('\n') };
}

const demo = (p: string) => `manifests/demo/${p}.yaml`;

describe('rehearse in all three modes on every demo pool', () => {
  // a run completes where the mode fits the pool's versions (R1.1, R1.3); elsewhere the plan's blocker is the error
  it.each([
    ['pool-a', 'automatic', 'done'],
    ['pool-a', 'manual', 'done'], // the simulated operator boots every host from the media, slaves included
    ['pool-a', 'update', /R1\.1 .*need the base install ISO/],
    ['pool-b', 'update', 'done'],
    ['pool-b', 'manual', /R1\.3 .*need the update ISO/],
    ['pool-b', 'automatic', /--mode automatic needs an install repository, and the scenario lists none/],
    ['standalone', 'automatic', 'done'],
    ['standalone', 'manual', 'done'],
    ['standalone', 'update', /R1\.1 .*need the base install ISO/],
  ] as const)('%s --mode %s', async (pool, mode, expected) => {
    const { result, text } = await captured(() => rehearse([demo(pool), '--mode', mode, '--scale', '4000']));
    if (expected === 'done') {
      expect(result).toBe(0);
      expect(text).toMatch(new RegExp(`rehearsal ${pool}-\\d{8}-1: done`));
      expect(text).toMatch(/failures: {4}none/);
      expect(text).toMatch(/at most 1 host down at once/);
    } else {
      expect(result).toBeInstanceOf(Error);
      expect((result as Error).message).toMatch(expected);
    }
  }, 60_000);
});

describe('rehearse: bad arguments stop at once with the error (nothing started, never a hang)', () => {
  it.each([
    [['--fail', 'xs-nope'], /--fail: no host "xs-nope" in manifests\/demo\/pool-a\.yaml \(hosts: xs-a1, xs-a2, xs-a3\)/],
    [['--mode', 'fast'], /--mode must be automatic, manual or update, not "fast"/],
    [['--scale', 'zero'], /--scale must be a positive number/],
    [['--bogus'], /unknown option --bogus/],
  ])('%j', async (extra, message) => {
    const started = Date.now();
    const { result } = await captured(() => rehearse([demo('pool-a'), ...extra]));
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(message);
    expect(Date.now() - started).toBeLessThan(5_000); // no simulator was started, so nothing to wait for
  });
});

describe('plan --scenario and rehearse share one mode inference', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'xsupgrade-modes-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an unreachable repository is a blocker in both (R3.9), never a silent switch to manual mode', async () => {
    const sc = YAML.parse(readFileSync(demo('pool-a'), 'utf8')) as { repositories: Array<{ reachable?: boolean }> };
    sc.repositories = sc.repositories.filter((r) => r.reachable === false);
    const file = join(dir, 'unreachable.yaml');
    writeFileSync(file, YAML.stringify(sc));

    const p = await planText(['--scenario', file]);
    expect(p.code).toBe(2);
    expect(p.out).toMatch(/automatic mode/);
    expect(p.out).not.toMatch(/manual mode/);
    expect(p.out).toMatch(/R3\.9.*repository http:\/\/repo\.example\.com\/xenserver\/broken\/ failed testUrl/);

    const { result } = await captured(() => rehearse([file, '--scale', '4000']));
    expect((result as Error).message).toMatch(/the plan has blockers: R3\.9 repository http:\/\/repo\.example\.com\/xenserver\/broken\/ failed testUrl/);
  });

  it('plan --mode automatic on a scenario without a repository is a blocked plan naming it (exit 2), not an error', async () => {
    const p = await planText(['--scenario', demo('pool-b'), '--mode', 'automatic']);
    expect(p.code).toBe(2);
    expect(p.out).toMatch(/automatic mode needs an install repository URL/);
  });

  it('a 7.4/7.5 pool with an update ISO is planned and rehearsed in update mode (R1.3) by both', async () => {
    const p = await planText(['--scenario', demo('pool-b')]);
    expect(p.err).toBe('');
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/update mode/);
    const { result, text } = await captured(() => rehearse([demo('pool-b'), '--scale', '4000']));
    expect(result).toBe(0);
    expect(text).toMatch(/rehearsal pool-b-\d{8}-1: done/);
  }, 60_000);
});
