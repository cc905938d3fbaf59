import { join } from 'node:path';
import { ConfigError, loadPoolsFile, parsePoolsFile, resolveSecret } from '../../src/config/pools';

const valid = `
pools:
  - name: pool-a
    masterUrl: https://10.0.0.1
    username: root
    passwordEnv: XS_POOL_A_PASSWORD
    target: "7.6"
    upgrade: { mode: automatic, repositoryUrl: "http://repo.example/xs76/" }
    slack:
      channel: C0123ABCD
      approvers: { users: [U0APPROVER] }
`;

describe('pools file', () => {
  it('parses a valid file and applies safe defaults', () => {
    const file = parsePoolsFile(valid, 'pools.yaml');
    const pool = file.pools[0];
    expect(pool.tls).toEqual({ mode: 'verify' });
    expect(pool.slack.allowSelfApproval).toBe(false);
    expect(pool.returnPolicy).toBe('none');
  });

  it('names the file, the pool and the field when a field is wrong', () => {
    const bad = valid.replace('channel: C0123ABCD', 'channel: ""');
    expect(() => parsePoolsFile(bad, 'pools.yaml')).toThrow(/pools\.yaml: pool pool-a: slack\.channel/);
  });

  it('refuses an inline password (only an env var name is allowed)', () => {
    const bad = valid.replace('passwordEnv: XS_POOL_A_PASSWORD', 'password: hunter2');
    expect(() => parsePoolsFile(bad, 'pools.yaml')).toThrow(ConfigError);
    try {
      parsePoolsFile(bad, 'pools.yaml');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
      expect((e as Error).message).toMatch(/passwordEnv: Required/);
    }
  });

  it('refuses approvers lists that are empty', () => {
    const bad = valid.replace('approvers: { users: [U0APPROVER] }', 'approvers: { users: [] }');
    expect(() => parsePoolsFile(bad, 'p.yaml')).toThrow(/at least one approver/);
  });

  it('refuses duplicate pool names and invalid YAML', () => {
    const dup = valid + valid.replace('pools:\n', '');
    expect(() => parsePoolsFile(dup, 'p.yaml')).toThrow(/duplicate pool name pool-a/);
    expect(() => parsePoolsFile('pools: [', 'p.yaml')).toThrow(/p\.yaml: not valid YAML/);
  });

  it('resolves a secret from the environment without echoing it', () => {
    expect(resolveSecret('XS_PW', { XS_PW: 's3cret' })).toBe('s3cret');
    expect(() => resolveSecret('XS_PW', {})).toThrow(/XS_PW is not set/);
  });
});

describe('manifests/pools.example.yaml', () => {
  it('is a valid pools file (the documented example must work as shown)', () => {
    const file = loadPoolsFile(join(__dirname, '../../manifests/pools.example.yaml'));
    expect(file.pools.map((p) => p.name)).toEqual(expect.arrayContaining(['pool-a', 'pool-b', 'standalone']));
  });
});
