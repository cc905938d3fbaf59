import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, parsePlanArgs } from '../../src/cli/plan';
import { loadPoolsFile } from '../../src/config/pools';

const ROOT = resolve(__dirname, '../..');
const POOL_A = join(ROOT, 'manifests/demo/pool-a.yaml');

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string[] }> {
  let out = '';
  const err: string[] = [];
  const code = await run(args, { out: (s) => (out += s), err: (s) => err.push(s), env });
  return { code, out, err };
}

function poolsFile(repositoryUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xsupgrade-plan-'));
  const file = join(dir, 'pools.yaml');
  writeFileSync(
    file,
    [
      'pools:',
      '  - name: pool-a',
      '    masterUrl: http://127.0.0.1:1',
      '    username: root',
      '    passwordEnv: XS_POOL_A_PASSWORD',
      '    tls: { mode: insecure-http }',
      '    target: "7.6"',
      `    upgrade: { mode: automatic, repositoryUrl: "${repositoryUrl}" }`,
      '    slack: { channel: C1, approvers: { users: [U012ALICE] } }',
    ].join('\n'),
  );
  return file;
}

describe('xsupgrade plan', () => {
  it('manifests/pools.example.yaml is a valid pools file with pool-a, pool-b and standalone', () => {
    const f = loadPoolsFile(join(ROOT, 'manifests/pools.example.yaml'));
    expect(f.pools.map((p) => p.name)).toEqual(['pool-a', 'pool-b', 'standalone']);
    expect(f.pools.map((p) => p.upgrade.mode)).toEqual(['automatic', 'update', 'manual']);
  });

  it('plans the demo scenario in-process: text, exit 0', async () => {
    const r = await cli(['--scenario', POOL_A]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Plan for pool-a → XenServer 7\.6 \(base ISO, automatic mode\)/);
    expect(r.out).toContain('Executable: yes');
    expect(r.out).toContain('R2.4');
  });

  it('--json prints the documented JSON', async () => {
    const r = await cli(['pool-a', '--scenario', POOL_A, '--json', '--mode', 'manual']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.schema).toBe('xsupgrade.plan/1');
    expect(j.mode).toBe('manual');
    expect(j.hosts[0].name).toBe('xs-a1');
  });

  it('exit 2 when a blocker exists (R1.2)', async () => {
    const r = await cli(['--scenario', join(__dirname, 'fixtures/pool-refused.yaml'), '--mode', 'manual']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('Executable: NO');
    expect(r.out).toContain('R1.2');
  });

  it('uses the pool config (repository) from XSUPGRADE_POOLS with --scenario: a broken repository blocks', async () => {
    const r = await cli(['pool-a', '--scenario', POOL_A], { XSUPGRADE_POOLS: poolsFile('http://repo.example.com/xenserver/broken/') });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/R3\.9 +repository http:\/\/repo\.example\.com\/xenserver\/broken\/ failed testUrl/);
  });

  it.each([
    [[], {}, /which pool\?/],
    [['pool-z'], {}, /no pool "pool-z": XSUPGRADE_POOLS is not set, so the demo pools are used \(pool-a, pool-b, pool-legacy, standalone\)/],
    [['pool-z'], { XSUPGRADE_POOLS: 'POOLS' }, /no pool "pool-z" \(configured: pool-a\)/],
    [['pool-a', '--mode', 'fast'], {}, /--mode must be automatic, manual or update, not "fast"/],
    [['pool-a', '--bogus'], {}, /unknown option --bogus/],
    [['pool-a'], { XSUPGRADE_POOLS: 'POOLS' }, /environment variable XS_POOL_A_PASSWORD is not set/],
    [['pool-a', '--scenario', '/nonexistent.yaml'], {}, /nonexistent\.yaml/],
  ] as Array<[string[], NodeJS.ProcessEnv, RegExp]>)('exit 1 with one clear line: %j', async (args, env, re) => {
    const e = { ...env };
    if (e.XSUPGRADE_POOLS === 'POOLS') e.XSUPGRADE_POOLS = poolsFile('http://repo/x/');
    const r = await cli(args, e);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/^xsupgrade plan: /);
    expect(r.err[0]).not.toContain('\n');
    expect(r.err[0]).toMatch(re);
  });

  it('an unreachable pool is an error (exit 1), the password never printed', async () => {
    const r = await cli(['pool-a'], { XSUPGRADE_POOLS: poolsFile('http://repo/x/'), XS_POOL_A_PASSWORD: 'hunter2-secret' });
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).not.toContain('hunter2-secret');
  });

  it('with no pools file, plans the demo pool of `npm start` on an in-process simulator and says so on stderr', async () => {
    const r = await cli(['pool-a', '--target=7.6'], {});
    expect(r.err).toEqual([expect.stringMatching(/^xsupgrade plan: XSUPGRADE_POOLS is not set: planning the demo pool pool-a of `npm start` on the simulator/)]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('pool-a');
  });

  it('parses flags, also as --flag=value', () => {
    expect(parsePlanArgs(['p', '--target=8.2.1', '--mode=manual'])).toEqual({ pool: 'p', target: '8.2.1', mode: 'manual', json: false });
    expect(parsePlanArgs(['p', '--target', '8.2.1', '--return', 'original', '--json'])).toEqual({ pool: 'p', target: '8.2.1', returnPolicy: 'original', json: true });
  });
});
