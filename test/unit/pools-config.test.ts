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
  it.each([
    ['a relative directory', 'updates/7.6'],
    ['an ftp URL', 'ftp://repo.example/updates/'],
    ['credentials in the URL', 'http://u:pw@repo.example/updates/'],
  ])('updateRepository (R3.10): %s is refused, naming the field', (_what, value) => {
    const bad = valid.replace('target:', `updateRepository: "${value}"\n    target:`);
    expect(() => parsePoolsFile(bad, 'pools.yaml')).toThrow(/pools\.yaml: pool pool-a: updateRepository: an absolute directory path/);
  });

  it('updateRepository (R3.10): a directory or an http(s) URL', () => {
    for (const v of ['/srv/xs-updates/7.6', 'http://updates.lan/xs76/', 'https://updates.lan:8443/xs76']) {
      expect(parsePoolsFile(valid.replace('target:', `updateRepository: "${v}"\n    target:`), 'pools.yaml').pools[0]!.updateRepository).toBe(v);
    }
  });

  it('is a valid pools file (the documented example must work as shown)', () => {
    const file = loadPoolsFile(join(__dirname, '../../manifests/pools.example.yaml'));
    expect(file.pools.map((p) => p.name)).toEqual(expect.arrayContaining(['pool-a', 'pool-b', 'standalone']));
  });
});

// issue 10.11: mistakes only a combination of fields shows are found when the file is loaded (serve, start), naming pool and field
describe('pools file cross-field checks', () => {
  it.each([
    ['tls verify (the default) with an http:// master', valid.replace('https://10.0.0.1', 'http://10.0.0.1'), /pool pool-a: tls\.mode: "verify" needs an https:\/\/ masterUrl/],
    ['tls pinned with an http:// master', valid.replace('https://10.0.0.1', 'http://10.0.0.1').replace('target:', `tls: { mode: pinned, fingerprint256: "${Array(32).fill('AB').join(':')}" }\n    target:`), /pool pool-a: tls\.mode: "pinned" needs an https:\/\/ masterUrl/],
    ['an invalid time zone', valid.replace('target:', 'timezone: Europe/Berlinn\n    target:'), /pool pool-a: timezone: "Europe\/Berlinn" is not a time zone/],
    ['credentials inline in the master URL', valid.replace('https://10.0.0.1', 'https://root:hunter2@10.0.0.1'), /pool pool-a: masterUrl: must not hold credentials/],
    ['credentials inline in the repository URL', valid.replace('http://repo.example/xs76/', 'http://u:hunter2@repo.example/xs76/'), /pool pool-a: upgrade\.repositoryUrl: must not hold credentials/],
    ['a repository password without its user', valid.replace('repositoryUrl: "http://repo.example/xs76/"', 'repositoryUrl: "http://repo.example/xs76/", repositoryPasswordEnv: REPO_PW'), /pool pool-a: upgrade\.repositoryUsernameEnv: is required with repositoryPasswordEnv/],
    ['a channel that is neither an id nor a name', valid.replace('channel: C0123ABCD', 'channel: "Ops Channel!"'), /pool pool-a: slack\.channel: "Ops Channel!" is neither a channel id/],
    ['an empty schedulers list', valid.replace('approvers: { users: [U0APPROVER] }', 'approvers: { users: [U0APPROVER] }\n      schedulers: { users: [] }'), /pool pool-a: slack\.schedulers: at least one scheduler/],
  ])('%s is refused at load', (_what, text, message) => {
    expect(() => parsePoolsFile(text, 'pools.yaml')).toThrow(message);
    try {
      parsePoolsFile(text, 'pools.yaml');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('accepts http:// with tls insecure-http explicitly, a #name channel and a schedulers list', () => {
    const text = valid
      .replace('https://10.0.0.1', 'http://10.0.0.1')
      .replace('target:', 'tls: { mode: insecure-http }\n    target:')
      .replace('channel: C0123ABCD', 'channel: "#xs-upgrades"')
      .replace('approvers: { users: [U0APPROVER] }', 'approvers: { users: [U0APPROVER] }\n      schedulers: { groups: [S0NIGHTOPS] }');
    expect(parsePoolsFile(text, 'pools.yaml').pools[0]!.slack.schedulers).toEqual({ users: [], groups: ['S0NIGHTOPS'] });
  });
});

/** The pools file boundary: errors name the field and what was expected, and never carry a secret put in the file by mistake (the check that refuses it must not print it). */
describe('pools file errors and secrets', () => {
  function errorOf(text: string): string {
    try {
      parsePoolsFile(text, 'pools.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('the file was accepted');
  }

  it('credentials in an http:// masterUrl are refused without printing the password', () => {
    const msg = errorOf(valid.replace('masterUrl: https://10.0.0.1', 'masterUrl: http://root:Hunter2-Secret@10.0.0.1'));
    expect(msg).toMatch(/masterUrl: must not hold credentials/);
    expect(msg).not.toContain('Hunter2-Secret');
  });

  it('a fingerprint256 of the wrong type names the field and what was expected', () => {
    const msg = errorOf(valid.replace('masterUrl: https://10.0.0.1', 'masterUrl: https://10.0.0.1\n    tls: { mode: pinned, fingerprint256: 5 }'));
    expect(msg).toMatch(/pool pool-a: tls\.fingerprint256: /);
    // zod's bare "Invalid input" says nothing of what is wanted: a fingerprint (or a list of them)
    expect(msg).toMatch(/tls\.fingerprint256: .*(SHA-256|fingerprint|string|array)/);
  });

  it('an inline password that breaks the YAML is not printed in the error', () => {
    const msg = errorOf(valid.replace('passwordEnv: XS_POOL_A_PASSWORD', 'password: @dm1n-Secret-pw'));
    // where and what, from the parser's first line; not the quoted line under it
    expect(msg).toMatch(/^pools\.yaml: not valid YAML: .*at line \d+, column \d+$/);
    expect(msg).not.toContain('dm1n-Secret-pw');
  });
});
